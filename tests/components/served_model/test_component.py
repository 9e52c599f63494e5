"""components/served_model/component.py: ServedModel's interface (the work is in executor.py)."""

from __future__ import annotations

from tfx.types import standard_artifacts

from components.code_hash import CODE_KEY
from components.served_model import executor, properties
from components.served_model.component import ServedModel


def test_it_takes_the_serving_dir_what_the_probe_saw_and_its_code_hash_and_outputs_a_model():
    component = ServedModel(serving_dir="/serving", served_fingerprint="5:/model", code_sha256="abc")
    assert component.exec_properties == {
        executor.SERVING_DIR_KEY: "/serving",
        properties.FINGERPRINT_KEY: "5:/model",
        CODE_KEY: "abc",
    }
    assert component.inputs == {}
    assert component.outputs[executor.BASELINE_KEY].type is standard_artifacts.Model
    assert ServedModel.EXECUTOR_SPEC.executor_class is executor.Executor
