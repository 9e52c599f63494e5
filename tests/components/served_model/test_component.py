"""components/served_model/component.py: ServedModel's interface (the work is in executor.py)."""

from __future__ import annotations

from tfx.types import standard_artifacts

from components.served_model import executor
from components.served_model.component import ServedModel


def test_it_takes_the_serving_dir_and_its_code_hash_and_outputs_a_model():
    component = ServedModel(serving_dir="/serving", code_sha256="abc")
    assert component.exec_properties == {executor.SERVING_DIR_KEY: "/serving", executor.CODE_KEY: "abc"}
    assert component.inputs == {}
    assert component.outputs[executor.BASELINE_KEY].type is standard_artifacts.Model


def test_its_driver_sets_the_served_fingerprint_before_the_cache_lookup():
    assert ServedModel.DRIVER_CLASS is executor.Driver
    assert ServedModel.EXECUTOR_SPEC.executor_class is executor.Executor
    fingerprint = ServedModel.SPEC_CLASS.PARAMETERS[executor.FINGERPRINT_KEY]
    assert fingerprint.optional  # not given by the pipeline: the driver fills it in
