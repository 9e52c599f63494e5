"""components/idx_example_gen/probe.py: DataProbe's answer follows the IDX files' content."""

from __future__ import annotations

import hashlib
import json
import os

from tfx.types import standard_artifacts

from components import probe
from components.idx_example_gen.probe import DataProbe, Executor, fingerprint
from components.idx_example_gen.settings import IngestSettings

from support.fake_artifacts import artifact
from support.fake_mnist import FILE_NAMES, balanced_labels, write_fake_mnist, write_idx

SETTINGS = IngestSettings(
    **FILE_NAMES,
    validation_size=10,
    train_size=None,
    test_size=None,
    records_per_shard=10,
    gzip_level=1,
)


def properties(data_dir) -> dict[str, str]:
    return DataProbe(input_base=str(data_dir), settings=SETTINGS, code_sha256="x").exec_properties


def test_it_is_the_sha256_of_each_files_bytes(tmp_path):
    files = write_fake_mnist(tmp_path, train_count=20, test_count=10)
    assert json.loads(fingerprint(properties(tmp_path))) == {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in files.values()
    }


def test_a_file_replaced_with_the_same_size_and_time_changes_it(tmp_path):
    """What a fingerprint of names, sizes and modification times (TFX's ExampleGen driver) misses."""
    files = write_fake_mnist(tmp_path, train_count=20, test_count=10, compress=False)
    before = fingerprint(properties(tmp_path))
    stat = os.stat(files["test_labels"])
    write_idx(files["test_labels"], balanced_labels(10, seed=99), compress=False)
    os.utime(files["test_labels"], ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert os.stat(files["test_labels"]).st_size == stat.st_size
    assert fingerprint(properties(tmp_path)) != before


def test_the_executor_outputs_it(tmp_path):
    write_fake_mnist(tmp_path / "data", train_count=20, test_count=10)
    value = artifact(standard_artifacts.String, tmp_path / "value")
    Executor().Do({}, {probe.VALUE_KEY: [value]}, properties(tmp_path / "data"))
    assert value.value == fingerprint(properties(tmp_path / "data"))


def test_the_console_line_names_the_component_and_says_which_sha256_it_is(tmp_path, caplog):
    from tfx.dsl.components.base.base_executor import BaseExecutor
    from tfx.proto.orchestration import pipeline_pb2

    files = write_fake_mnist(tmp_path / "data", train_count=20, test_count=10)
    node = pipeline_pb2.PipelineNode()
    node.node_info.id = "DataProbe"
    value = artifact(standard_artifacts.String, tmp_path / "value")
    with caplog.at_level("INFO", logger="components.probe"):
        Executor(BaseExecutor.Context(pipeline_node=node)).Do(
            {}, {probe.VALUE_KEY: [value]}, properties(files["train_images"].parent)
        )
    [line] = [record.getMessage() for record in caplog.records if record.name == "components.probe"]
    name = files["train_images"].name
    assert line.startswith("DataProbe saw: SHA-256 of each file's bytes as stored (of a .gz, the compressed bytes): ")
    assert f"{name} {hashlib.sha256(files['train_images'].read_bytes()).hexdigest()}" in line
