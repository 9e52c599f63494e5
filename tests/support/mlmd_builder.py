"""Pipeline runs written straight into a real ML Metadata store (SQLite), in TFX's layout or in
KFP's, with the artifact files the read side opens: the tests of pipeline/inspect/ read them
in milliseconds, without running a pipeline.

TFX's layout is what its local runners write (tfx 1.16, orchestration/portable/launcher.py and
execution_publish_utils.py; tests/e2e/test_mlmd_builder.py compares it with the store of a real
run and its rerun):

* contexts: the pipeline (`pipeline`), the run (`pipeline_run`, a child of the pipeline), one
  `node` context per component (`<pipeline>.<node id>`) and one `execution_cache` context per
  cache key; every execution is in all four;
* executions: typed by the component's class, named by a UUID, created RUNNING with an INPUT
  event per input artifact, then published COMPLETE with an OUTPUT event per artifact it made,
  or CACHED with the OUTPUT events of the artifacts it reuses (publish_cached_executions), or
  FAILED; the parameters are custom properties (data_types_utils.set_metadata_value: numbers
  and strings as they are, dicts and lists as sorted JSON strings);
* artifacts: typed by TFX's names (`Examples`: `span`, `version` and `split_names` declared),
  the rest custom properties (types/artifact.py: a dict as a Struct, a list as {"__value__": [...]});
* events: path [key, index].

KFP's layout is tests/support/kfp_metadata.py's (the KFP 2.17 launcher's calls); KfpLayout drives it.

MLMD stamps every write with the wall clock; runs written in one test would share a
millisecond, so the writers set the times the store keeps (columns of MLMD's own tables).
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import itertools
import json
import sqlite3
import struct
import uuid
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import google_crc32c
import numpy as np
import pyarrow as pa
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2 as mlmd
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.util import tensor_util
from tensorflow_metadata.proto.v0 import anomalies_pb2, path_pb2, statistics_pb2
from tfx.components.evaluator import constants as evaluator_constants
from tfx.types import standard_artifacts
from tfx_bsl.coders import example_coder

from components import data_reports, examples_integrity, model_integrity, parameters
from components import serving_dir as serving
from components.evaluator.settings import (
    BASELINE_SERVED_KEY,
    CONFUSION_MATRIX_PROPERTY,
    EXAMPLES_PROPERTY,
    MAX_REGRESSION_KEY,
    MIN_PRECISION_KEY,
    PER_DIGIT_PROPERTY,
    PRECISION_PROPERTY,
    TOLERANCE_KEY,
    VALIDATION_FAILURES_PROPERTY,
    VALIDATION_KEY,
)
from components.example_format import IMAGE_KEY, LABEL_KEY, ExampleFormat
from components.examples_integrity import SHARDS_PROPERTY
from components.idx_example_gen.settings import IngestSettings
from components.probe import SEEN_KEY
from components.served_model.properties import (
    FINGERPRINT_KEY,
    SERVED_KEY,
    SERVED_PATH_KEY,
    SERVED_VALIDATION_KEY,
    SERVED_VERSION_KEY,
    SOURCE_MODEL_KEY,
)
from components.settings import from_dict, to_dict
from components.trainer.settings import (
    FIT_FILE,
    METRICS_FILE,
    MISCLASSIFIED_FILE,
    TENSORBOARD_DIR,
    TENSORBOARD_VALIDATION_DIR,
    custom_config,
)
from pipeline import node_ids
from pipeline.inspect import run_made, store

from support.fake_mnist import FILE_NAMES, balanced_labels, fake_images
from support.kfp_metadata import KfpMetadata
from support.trainer_settings import TRAINING

PIPELINE = "mnist"
START_MS = 1_796_000_000_000  # the first run's start (December 2026)
# The numbers ending the artifacts' URIs (TFX ends them with the execution's id), counted per root.
SERIALS: dict[Path, itertools.count] = {}
SPLITS = {"train": 50, "validation": 10, "test": 20}  # examples per split
DECLARED_PROPERTIES = {  # tfx/types/standard_artifacts.py PROPERTIES of the types the read side opens
    "Examples": {"span": mlmd.INT, "version": mlmd.INT, "split_names": mlmd.STRING},
    "ExampleStatistics": {"span": mlmd.INT, "split_names": mlmd.STRING},
    "ExampleAnomalies": {"span": mlmd.INT, "split_names": mlmd.STRING},
}
COMPONENTS = {  # the execution types: the components' classes
    node_ids.DATA_PROBE: "components.idx_example_gen.probe.DataProbe",
    node_ids.SCHEMA_IMPORTER: "tfx.components.schema_gen.import_schema_gen.component.ImportSchemaGen",
    node_ids.SERVING_PROBE: "components.served_model.probe.ServingProbe",
    node_ids.INGEST: "components.idx_example_gen.component.IdxExampleGen",
    node_ids.SERVED_MODEL: "components.served_model.component.ServedModel",
    node_ids.STATISTICS: "tfx.components.statistics_gen.component.StatisticsGen",
    node_ids.SCHEMA_VALIDATOR: "tfx.components.example_validator.component.ExampleValidator",
    node_ids.SPLIT_VALIDATOR: "components.split_validator.SplitValidator",
    node_ids.DATA_GATE: "components.data_gate.DataGate",
    node_ids.TRAINER: "components.trainer.component.Trainer",
    node_ids.TEST_EVALUATOR: "components.evaluator.component.Evaluator",
    node_ids.BLESSING_EVALUATOR: "components.evaluator.component.Evaluator",
    node_ids.PUSHER: "components.pusher.component.Pusher",
}
STATES = {"COMPLETE": mlmd.Execution.COMPLETE, "CACHED": mlmd.Execution.CACHED, "FAILED": mlmd.Execution.FAILED}


@dataclass(frozen=True)
class NewArtifact:
    """An output an execution makes: its type (TFX's name), URI and properties."""

    type: str
    uri: str
    properties: dict[str, Any] = field(default_factory=dict)


class Layout(Protocol):
    """What the scenarios below need of a store's writer, in either layout."""

    path: Path
    store: metadata_store.MetadataStore

    def new_run(self, run_id: str, made: run_made.RunMade | None = None) -> None: ...

    def execute(
        self,
        run_id: str,
        node_id: str,
        state: str,
        parameters: dict[str, Any],
        inputs: dict[str, list[int]],
        outputs: dict[str, list[NewArtifact | int]],  # an int: an artifact reused (CACHED)
        driver: dict[str, Any] | None = None,  # what a custom driver adds to the parameters (components/probe.py)
    ) -> dict[str, list[int]]: ...


def sqlite_store(path: Path) -> metadata_store.MetadataStore:
    """A new (or existing) SQLite MLMD store the tests write."""
    config = mlmd.ConnectionConfig()
    config.sqlite.filename_uri = str(path)
    config.sqlite.connection_mode = mlmd.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    return metadata_store.MetadataStore(config)


def left_running(path: Path) -> tuple[metadata_store.MetadataStore, int]:
    """An SQLite MLMD store holding one execution RUNNING (as a killed run leaves it), and its id."""
    store = sqlite_store(path)
    execution_type = store.put_execution_type(mlmd.ExecutionType(name="Trainer"))
    [running] = store.put_executions([mlmd.Execution(type_id=execution_type, last_known_state=mlmd.Execution.RUNNING)])
    return store, running


def empty_store(path: Path) -> Path:
    """An SQLite MLMD store with its tables and no run, for tests of how a store is opened."""
    sqlite_store(path)
    return path


class Clock:
    """The times the store keeps: each run starts a minute after the last, each step a second later."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.now_ms = START_MS

    def next_run(self) -> int:
        self.now_ms = (self.now_ms // 60_000 + 1) * 60_000
        return self.now_ms

    def stamp(self, table: str, row_id: int, seconds: float = 0.0) -> None:
        """Sets the row's creation to now and its last update `seconds` later; moves now on."""
        with closing(sqlite3.connect(self.path)) as database, database:
            database.execute(
                f"UPDATE `{table}` SET create_time_since_epoch = ?, last_update_time_since_epoch = ? WHERE id = ?",
                (self.now_ms, self.now_ms + int(seconds * 1000), row_id),
            )
        self.now_ms += 1000


class TfxLayout:
    """Writes runs as TFX's local runners do (see the module's docstring)."""

    def __init__(self, path: Path, pipeline_name: str = PIPELINE) -> None:
        self.path = path
        self.store = sqlite_store(path)
        self.clock = Clock(path)
        self.pipeline_name = pipeline_name
        self.pipeline = self._context("pipeline", pipeline_name)
        self.runs: dict[str, mlmd.Context] = {}

    def new_run(self, run_id: str, made: run_made.RunMade | None = None) -> None:
        """The run's context, a child of the pipeline's; with how it was made, as the local runner records it."""
        self.clock.next_run()
        run = self._context("pipeline_run", run_id)
        self.store.put_parent_contexts([mlmd.ParentContext(child_id=run.id, parent_id=self.pipeline.id)])
        if made is not None:
            run_made.set_on(run, made)
            self.store.put_contexts([run])
        self.clock.stamp("Context", run.id)
        self.runs[run_id] = run

    def execute(
        self,
        run_id: str,
        node_id: str,
        state: str,
        parameters: dict[str, Any],
        inputs: dict[str, list[int]],
        outputs: dict[str, list[NewArtifact | int]],
        driver: dict[str, Any] | None = None,
    ) -> dict[str, list[int]]:
        """The driver's parameters are in the cache key; the execution records them only when it
        ran: the launcher registers it before the driver runs and adds the parameters the driver
        set when it publishes what the executor did (launcher.py _prepare_execution;
        python_executor_operator.construct_executor_output), not when it publishes it CACHED."""
        driver = driver or {}
        cache_key = json.dumps([node_id, {**parameters, **driver}], sort_keys=True)
        contexts = [
            self.pipeline,
            self.runs[run_id],
            self._context("node", f"{self.pipeline_name}.{node_id}"),
            self._context("execution_cache", hashlib.sha256(cache_key.encode()).hexdigest()),
        ]
        execution = mlmd.Execution(
            type_id=self.store.put_execution_type(mlmd.ExecutionType(name=COMPONENTS[node_id])),
            name=str(uuid.uuid4()),
            last_known_state=mlmd.Execution.RUNNING,
        )
        for key, value in parameters.items():
            _set_parameter(execution.custom_properties[key], value)
        events = [
            (None, _event(mlmd.Event.INPUT, key, index, i))
            for key, ids in inputs.items()
            for index, i in enumerate(ids)
        ]
        execution.id, _, _ = self.store.put_execution(execution, events, contexts)
        output_ids = {
            key: [self._artifact(a) if isinstance(a, NewArtifact) else a for a in made] for key, made in outputs.items()
        }
        execution.last_known_state = STATES[state]
        for key, value in (driver if state == "COMPLETE" else {}).items():
            _set_parameter(execution.custom_properties[key], value)
        events = [
            (None, _event(mlmd.Event.OUTPUT, key, index, i))
            for key, ids in output_ids.items()
            for index, i in enumerate(ids)
        ]
        self.store.put_execution(execution, events, contexts)
        self.clock.stamp("Execution", execution.id, seconds=1.5)
        return output_ids

    def _artifact(self, new: NewArtifact) -> int:
        declared = DECLARED_PROPERTIES.get(new.type, {})
        artifact = mlmd.Artifact(
            type_id=self.store.put_artifact_type(mlmd.ArtifactType(name=new.type, properties=declared)),
            uri=new.uri,
            state=mlmd.Artifact.LIVE,
        )
        for key, value in {"tfx_version": "1.16.0", "is_external": 0, **new.properties}.items():
            _set_artifact_property(
                artifact.properties[key] if key in declared else artifact.custom_properties[key], value
            )
        [artifact_id] = self.store.put_artifacts([artifact])
        return artifact_id

    def _context(self, type_name: str, name: str) -> mlmd.Context:
        found = self.store.get_context_by_type_and_name(type_name, name)
        if found is not None:
            return found
        context = mlmd.Context(type_id=self.store.put_context_type(mlmd.ContextType(name=type_name)), name=name)
        [context.id] = self.store.put_contexts([context])
        return context


class KfpLayout:
    """Writes runs as KFP 2.17's driver and launcher do, through tests/support/kfp_metadata.py."""

    def __init__(self, path: Path, pipeline_name: str = PIPELINE) -> None:
        self.path = path
        self.metadata = KfpMetadata(path)
        self.store = self.metadata.store
        self.clock = Clock(path)
        self.pipeline_name = pipeline_name
        self.runs: dict[str, Any] = {}

    def new_run(self, run_id: str, made: run_made.RunMade | None = None) -> None:
        """KFP records no run_made: `made` is left out, as on a cluster."""
        self.clock.next_run()
        contexts = self.metadata.run_contexts(self.pipeline_name, run_id, f"s3://root/{run_id}", {})
        self.clock.stamp("Context", contexts.run.id)
        self.runs[run_id] = contexts

    def execute(
        self,
        run_id: str,
        node_id: str,
        state: str,
        parameters: dict[str, Any],
        inputs: dict[str, list[int]],
        outputs: dict[str, list[NewArtifact | int]],
        driver: dict[str, Any] | None = None,
    ) -> dict[str, list[int]]:
        """`driver` is left out: KFP runs no custom driver (components/probe.py)."""
        contexts = self.runs[run_id]
        execution_id = self.metadata.create_execution(contexts, node_id, "mnist:test", parameters, inputs, None)
        output_ids = {
            key: [
                self.metadata.record_artifact(
                    key, {"schemaTitle": f"tfx.{a.type}"}, {"uri": a.uri, "metadata": a.properties}
                )
                if isinstance(a, NewArtifact)
                else a
                for a in made
            ]
            for key, made in outputs.items()
        }
        # One artifact per output key, as KFP's launcher records them (client.go eventPath).
        self.metadata.publish(contexts, execution_id, state, {k: ids[0] for k, ids in output_ids.items()}, {}, None)
        self.clock.stamp("Execution", execution_id, seconds=1.5)
        return output_ids


def _set_parameter(target: mlmd.Value, value: Any) -> None:
    """data_types_utils.set_metadata_value: ints, floats and strings as they are; bools, dicts
    and lists as JSON (sorted keys, json_utils.dumps)."""
    if isinstance(value, bool) or isinstance(value, (dict, list)):
        target.string_value = json.dumps(value, sort_keys=True)
    elif isinstance(value, int):
        target.int_value = value
    elif isinstance(value, float):
        target.double_value = value
    else:
        target.string_value = value


def _set_artifact_property(target: mlmd.Value, value: Any) -> None:
    """types/artifact.py: set_int/float/string_custom_property, set_json_value_custom_property
    (_encode_struct_value: a value that is not a dict wrapped as {"__value__": value})."""
    if isinstance(value, bool) or isinstance(value, int):
        target.int_value = int(value)
    elif isinstance(value, float):
        target.double_value = value
    elif isinstance(value, str):
        target.string_value = value
    else:
        target.struct_value.update(value if isinstance(value, dict) else {"__value__": value})


def _event(kind: int, key: str, index: int, artifact_id: int) -> mlmd.Event:
    """event_lib.generate_event: the path is the key, then the index in its list."""
    steps = [mlmd.Event.Path.Step(key=key), mlmd.Event.Path.Step(index=index)]
    return mlmd.Event(artifact_id=artifact_id, type=kind, path=mlmd.Event.Path(steps=steps))


# --- the pipeline's runs ---------------------------------------------------------------------


@dataclass
class MnistRun:
    """A run written by mnist_run: its id and each node's outputs (artifact ids by key)."""

    run_id: str
    outputs: dict[str, dict[str, list[int]]]
    model_sha256: str | None = None
    pushed_version: str | None = None


def mnist_run(
    layout: Layout,
    root: Path,
    run_id: str,
    learning_rate: float = 0.004,
    previous: MnistRun | None = None,
    ran: Iterable[str] | None = None,
    failed: str | None = None,
    made: run_made.RunMade | None = None,
) -> MnistRun:
    """A run of the pipeline's 13 components, with their artifacts' files under `root`.

    `previous` and `ran`: the nodes not in `ran` are CACHED, reusing `previous`'s outputs.
    `failed`: that node FAILED and the run stopped there. A model, blessed and pushed, is
    compared with what `previous` pushed. The Trainer's precision is 0.9 + learning_rate.
    """
    layout.new_run(run_id, made)
    reran = set(COMPONENTS) if ran is None else set(ran)
    result = MnistRun(run_id, {})
    served = previous if previous and previous.pushed_version else None
    files = ArtifactFiles(root)

    def node(
        node_id: str,
        parameters: dict[str, Any],
        inputs: dict[str, list[int]],
        make: Callable[..., Any],
        driver: dict[str, Any] | None = None,
    ) -> dict[str, list[int]]:
        if node_id == failed:
            layout.execute(run_id, node_id, "FAILED", parameters, inputs, {}, driver)
            raise _Stopped
        if node_id not in reran and previous is not None:
            outputs: dict[str, list[NewArtifact | int]] = dict(previous.outputs[node_id])
            result.outputs[node_id] = layout.execute(run_id, node_id, "CACHED", parameters, inputs, outputs, driver)
        else:
            made_here = {key: [artifact] for key, artifact in make(files.uris(node_id)).items()}
            result.outputs[node_id] = layout.execute(run_id, node_id, "COMPLETE", parameters, inputs, made_here, driver)
        return result.outputs[node_id]

    def code(node_id: str) -> str:
        return hashlib.sha256(f"code of {node_id}".encode()).hexdigest()

    try:
        data_probe = node(
            node_ids.DATA_PROBE,
            {
                "code_sha256": code(node_ids.DATA_PROBE),
                "file_names": FILE_NAMES,
                "input_base": str(root / "data"),
            },
            {},
            lambda uri: {"value": NewArtifact("String", uri("value"), {"__is_null__": 0})},
            driver={SEEN_KEY: INPUT_SHA256},
        )
        schema = node(
            node_ids.SCHEMA_IMPORTER,
            {"schema_file": str(root / "schema.pbtxt")},
            {},
            lambda uri: {"schema": NewArtifact("Schema", uri("schema"))},
        )
        serving_probe = node(
            node_ids.SERVING_PROBE,
            {"code_sha256": code(node_ids.SERVING_PROBE), "serving_dir": files.serving_dir},
            {},
            lambda uri: {"value": NewArtifact("String", uri("value"), {"__is_null__": 0})},
            driver={SEEN_KEY: files.served_fingerprint(served)},
        )
        examples = node(
            node_ids.INGEST,
            {
                "code_sha256": code(node_ids.INGEST),
                "custom_config": INGEST_CONFIG,
                "data_fingerprint": INPUT_SHA256,
                "input_base": str(root / "data"),
            },
            {"_DataProbe.value": data_probe["value"]},
            lambda uri: {"examples": files.examples(uri)},
        )["examples"]
        baseline = node(
            node_ids.SERVED_MODEL,
            {
                "code_sha256": code(node_ids.SERVED_MODEL),
                "serving_dir": files.serving_dir,
                "served_fingerprint": files.served_fingerprint(served),
            },
            {"_ServingProbe.value": serving_probe["value"]},
            lambda uri: {"baseline": files.baseline(uri, served)},
        )["baseline"]
        statistics = node(
            node_ids.STATISTICS,
            {"exclude_splits": []},
            {"schema": schema["schema"], "examples": examples},
            lambda uri: {"statistics": files.statistics(uri)},
        )["statistics"]
        validators = {
            check: node(
                check,
                {"exclude_splits": []} if check == node_ids.SCHEMA_VALIDATOR else {"code_sha256": code(check)},
                {"schema": schema["schema"], "statistics": statistics},
                functools.partial(files.anomalies, check=check),
            )["anomalies"]
            for check in VALIDATED
        }
        validated = node(
            node_ids.DATA_GATE,
            {"code_sha256": code(node_ids.DATA_GATE)},
            {
                "schema": schema["schema"],
                "schema_anomalies": validators[node_ids.SCHEMA_VALIDATOR],
                "split_anomalies": validators[node_ids.SPLIT_VALIDATOR],
            },
            lambda uri: {"validated_schema": NewArtifact("Schema", uri("validated_schema"))},
        )["validated_schema"]
        precision = round(0.9 + learning_rate, 4)
        trained = node(
            node_ids.TRAINER,
            {
                **parameters.values(dataclasses.replace(TRAINING, learning_rate=learning_rate)),
                "code_sha256": code(node_ids.TRAINER),
                "custom_config": custom_config(from_dict(ExampleFormat, DATA)),
                "eval_args": {"splits": ["validation", "test"]},
                "run_fn": "components.trainer.module.run_fn",
                "train_args": {"splits": ["train"]},
            },
            {"schema": validated, "examples": examples},
            lambda uri: files.trained(uri, learning_rate, precision),
        )
        model = trained["model"]
        [model_artifact] = layout.store.get_artifacts_by_id(model)
        result.model_sha256 = model_artifact.custom_properties[model_integrity.DIGEST_PROPERTY].string_value
        node(
            node_ids.TEST_EVALUATOR,
            {"code_sha256": code("Evaluator"), "example_splits": ["test"], "max_test_gap": 0.03},
            {"examples": examples, "model": model},
            lambda uri: files.evaluation(uri, precision, "test", blessing={}),
        )
        rule = {MAX_REGRESSION_KEY: 0.01, MIN_PRECISION_KEY: 0.5}
        validation = files.validation(served, precision)
        [baseline_artifact] = layout.store.get_artifacts_by_id(baseline)
        blessed = files.blessing(model_artifact, baseline_artifact, served, validation, rule[MAX_REGRESSION_KEY])
        blessing = node(
            node_ids.BLESSING_EVALUATOR,
            {"code_sha256": code("Evaluator"), "example_splits": ["validation"], **rule},
            {"examples": examples, "model": model, "baseline_model": baseline},
            lambda uri: files.evaluation(uri, precision, "validation", blessed),
        )["blessing"]
        pushed = node(
            node_ids.PUSHER,
            {
                "code_sha256": code(node_ids.PUSHER),
                "push_destination": json.dumps({"filesystem": {"base_directory": files.serving_dir}}, indent=2),
            },
            {"model": model, "model_blessing": blessing},
            lambda uri: {"pushed_model": files.push(uri, model_artifact, served, validation)},
        )["pushed_model"]
        [pushed_artifact] = layout.store.get_artifacts_by_id(pushed)
        result.pushed_version = pushed_artifact.custom_properties["pushed_version"].string_value
    except _Stopped:
        pass
    return result


class _Stopped(Exception):
    """A node failed: the run ends there."""


INPUT_SHA256 = {f"{name}.gz": hashlib.sha256(name.encode()).hexdigest() for name in FILE_NAMES.values()}
# What the ingest records of its input and splits, besides its shards' SHA-256s
# (components/idx_example_gen/executor.py; examples_utils.set_payload_format, set_file_format).
INGESTED = {
    **{f"input_file_{role}": f"{name}.gz" for role, name in FILE_NAMES.items()},
    **{f"input_sha256_{role}": INPUT_SHA256[f"{name}.gz"] for role, name in FILE_NAMES.items()},
    **{f"num_examples_{split}": count for split, count in SPLITS.items()},
    "payload_format": "FORMAT_TF_EXAMPLE",
    "file_format": "tfrecords_gzip",
}
# Each validator's splits and what it records besides blessed: TFX's ExampleValidator the span of
# the statistics (example_validator/executor.py), components/split_validator.py its baseline split.
VALIDATED = {
    node_ids.SCHEMA_VALIDATOR: (list(SPLITS), {"span": 0}),
    node_ids.SPLIT_VALIDATOR: (["validation", "test"], {"baseline_split": "train"}),
}


def split_digest(split: str) -> str:
    """examples_integrity.split_digest of a split of the Examples written here, from what INGESTED records."""
    stored = mlmd.Artifact()
    for key, value in INGESTED.items():
        _set_artifact_property(stored.custom_properties[key], value)
    examples = standard_artifacts.Examples()
    examples.set_mlmd_artifact(stored)
    return examples_integrity.split_digest(examples, split)


VALIDATION_DATA_SHA256 = split_digest("validation")
DATA = {"image_shape": [28, 28], "num_classes": 10}
INGEST = IngestSettings(
    **FILE_NAMES,
    validation_size=SPLITS["validation"],
    train_size=None,
    test_size=None,
    records_per_shard=250,
    gzip_level=1,
)
INGEST_CONFIG = {"data": DATA, "ingest": to_dict(INGEST)}
LABELS = {split: balanced_labels(count, seed=seed) for seed, (split, count) in enumerate(SPLITS.items())}
MANIFESTS: dict[str, dict[str, str]] = {}  # model_sha256 -> the model's files, as the Trainer recorded them
MISCLASSIFIED = [{"index": 3, "label": int(LABELS["test"][3]), "predicted": (int(LABELS["test"][3]) + 1) % 10}]


class ArtifactFiles:
    """The files of a run's artifacts, as the components write them, and the artifacts naming them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.serving_dir = str(root / "serving")
        self.serials = SERIALS.setdefault(root, itertools.count(1))

    def uris(self, node_id: str) -> Callable[[str], str]:
        """The URIs of a node's outputs, by key: <root>/pipeline/<node>/<key>/<a number of their own>."""
        return lambda key: f"{self.root}/pipeline/{node_id}/{key}/{next(self.serials)}"

    def examples(self, uri: Callable[[str], str]) -> NewArtifact:
        """One GZIP TFRecord shard of tf.Examples per split (tfx_bsl's encoder, as the ingest's),
        their SHA-256s and the input files."""
        location = uri("examples")
        shards = {}
        for split, labels in LABELS.items():
            images = fake_images(labels, seed=len(labels)).reshape(len(labels), -1).astype(np.int64)
            batch = pa.RecordBatch.from_pydict({IMAGE_KEY: list(images), LABEL_KEY: [[int(label)] for label in labels]})
            records = example_coder.RecordBatchToExamplesEncoder().encode(batch)
            path = Path(location, f"Split-{split}", "data_tfrecord-00000-of-00001.gz")
            path.parent.mkdir(parents=True)
            path.write_bytes(gzip.compress(b"".join(tfrecord(record) for record in records)))
            shards[split] = {path.name: hashlib.sha256(path.read_bytes()).hexdigest()}
        properties = {"split_names": json.dumps(list(SPLITS)), SHARDS_PROPERTY: shards, **INGESTED}
        return NewArtifact("Examples", location, properties)

    def statistics(self, uri: Callable[[str], str]) -> NewArtifact:
        """StatisticsGen's FeatureStats.pb per split: the label's top values and the image's range."""
        location = uri("statistics")
        for split, labels in LABELS.items():
            digits, counts = np.unique(labels, return_counts=True)
            label = statistics_pb2.FeatureNameStatistics(path=path_pb2.Path(step=["label"]))
            label.string_stats.unique = len(digits)
            label.string_stats.common_stats.num_non_missing = len(labels)
            for digit, count in zip(digits, counts):
                label.string_stats.top_values.add(value=str(digit), frequency=float(count))
            image = statistics_pb2.FeatureNameStatistics(path=path_pb2.Path(step=["image"]))
            image.num_stats.max = 255
            image.num_stats.common_stats.num_non_missing = len(labels)
            image.num_stats.common_stats.tot_num_values = 784 * len(labels)
            stats = statistics_pb2.DatasetFeatureStatisticsList(
                datasets=[statistics_pb2.DatasetFeatureStatistics(features=[image, label])]
            )
            write_split_file(location, split, data_reports.STATISTICS_FILE, stats.SerializeToString())
        # statistics_gen/executor.py: the sample rate per split as a JSON string (1.0: no
        # sampling), and a dashboard link, "" where none is made.
        sample_rates = {"__value__": json.dumps({split: 1.0 for split in sorted(SPLITS)})}
        properties = {"span": 0, "split_names": json.dumps(list(SPLITS)), "stats_dashboard_link": ""}
        return NewArtifact("ExampleStatistics", location, {**properties, "sample_rate_by_split": sample_rates})

    def anomalies(self, uri: Callable[[str], str], check: str) -> dict[str, NewArtifact]:
        """A validator's anomalies: an empty SchemaDiff.pb per split it checks, each blessed."""
        splits, recorded = VALIDATED[check]
        location = uri("anomalies")
        for split in splits:
            write_split_file(
                location, split, data_reports.ANOMALIES_FILE, anomalies_pb2.Anomalies().SerializeToString()
            )
        properties = {"split_names": json.dumps(splits), "blessed": {split: 1 for split in splits}, **recorded}
        return {"anomalies": NewArtifact("ExampleAnomalies", location, properties)}

    def served_version(self, served: MnistRun | None) -> serving.ServedVersion | None:
        """The version `served` pushed, which the serving dir serves now, as its marker describes it."""
        return serving.read_version(f"{self.serving_dir}/{served.pushed_version}") if served else None

    def served_fingerprint(self, served: MnistRun | None) -> str:
        """What ServingProbe sees and ServedModel is given (components/serving_dir.py fingerprint)."""
        return serving.fingerprint(self.served_version(served))

    def baseline(self, uri: Callable[[str], str], served: MnistRun | None) -> NewArtifact:
        """ServedModel's Model (components/served_model/executor.py): the version served now, or served=0."""
        version = self.served_version(served)
        recorded: dict[str, Any] = {FINGERPRINT_KEY: serving.fingerprint(version), SERVED_KEY: int(version is not None)}
        if version is not None:
            recorded |= {
                SERVED_VERSION_KEY: version.version,
                SERVED_PATH_KEY: version.path,
                SOURCE_MODEL_KEY: version.model_uri,
                SERVED_VALIDATION_KEY: version.validation.__dict__,
            }
        return NewArtifact("Model", uri("baseline"), recorded)

    def trained(self, uri: Callable[[str], str], learning_rate: float, precision: float) -> dict[str, NewArtifact]:
        """The Trainer's Model (its files' manifest and digest) and ModelRun (figures, TensorBoard logs)."""
        manifest = {"saved_model.pb": hashlib.sha256(f"model {learning_rate}".encode()).hexdigest()}
        MANIFESTS[model_integrity.digest(manifest)] = manifest
        model_run = Path(uri("model_run"))
        model_run.mkdir(parents=True)
        figures = {
            split: {"num_examples": count, "num_correct": round(precision * count), "precision_at_1": precision}
            for split, count in SPLITS.items()
        }
        (model_run / METRICS_FILE).write_text(json.dumps(figures))
        fit = {"steps": 60, "examples": 1200, "seconds": 1.2, "first_interval_seconds": 0.9}
        (model_run / FIT_FILE).write_text(json.dumps(fit))
        (model_run / MISCLASSIFIED_FILE).write_text(json.dumps(MISCLASSIFIED))
        for logs, loss in ((TENSORBOARD_DIR, 1.0), (TENSORBOARD_VALIDATION_DIR, 1.2)):
            write_scalars(model_run / logs, {"loss": [(20, loss), (40, loss / 2), (60, loss / 4)]})
        model = {
            model_integrity.DIGEST_PROPERTY: model_integrity.digest(manifest),
            model_integrity.FILES_PROPERTY: manifest,
        }
        return {
            "model": NewArtifact("Model", uri("model"), model),
            "model_run": NewArtifact("ModelRun", str(model_run)),
        }

    def evaluation(
        self, uri: Callable[[str], str], precision: float, split: str, blessing: dict[str, Any]
    ) -> dict[str, NewArtifact]:
        """An Evaluator's ModelEvaluation (its figures as properties, components/evaluator/figures.py;
        the confusion matrix only the test Evaluator's) and its ModelBlessing with `blessing`."""
        examples = SPLITS[split]
        figures: dict[str, Any] = {
            PRECISION_PROPERTY: precision,
            EXAMPLES_PROPERTY: examples,
            PER_DIGIT_PROPERTY: {str(digit): precision for digit in range(10)},
            VALIDATION_FAILURES_PROPERTY: [],
        }
        if split == "test":
            matrix = [[float(examples // 10 if t == p else 0) for p in range(10)] for t in range(10)]
            figures[CONFUSION_MATRIX_PROPERTY] = matrix
        return {
            "evaluation": NewArtifact("ModelEvaluation", uri("evaluation"), figures),
            "blessing": NewArtifact("ModelBlessing", uri("blessing"), blessing),
        }

    def validation(self, served: MnistRun | None, precision: float) -> serving.Validation:
        """The validation Evaluator's figures for a model of `precision`, its best counted with the
        best served on the same validation data (components/evaluator/executor.py)."""
        version = self.served_version(served)
        best_served = version.validation.best_on(VALIDATION_DATA_SHA256) if version else None
        return serving.Validation.measured(VALIDATION_DATA_SHA256, precision, best_served)

    def blessing(
        self,
        model: mlmd.Artifact,
        baseline: mlmd.Artifact,
        served: MnistRun | None,
        validation: serving.Validation,
        tolerance: float,
    ) -> dict[str, Any]:
        """What the validation Evaluator records on the blessing of a blessed model: TFX's executor
        the model and, when one is served, the baseline (components/evaluator/executor.py drops a
        baseline that serves nothing); ours what was served, the figures and the tolerance."""
        version = self.served_version(served)
        recorded: dict[str, Any] = {
            evaluator_constants.ARTIFACT_PROPERTY_BLESSED_KEY: 1,
            evaluator_constants.ARTIFACT_PROPERTY_CURRENT_MODEL_URI_KEY: model.uri,
            evaluator_constants.ARTIFACT_PROPERTY_CURRENT_MODEL_ID_KEY: model.id,
            BASELINE_SERVED_KEY: serving.fingerprint(version),
            VALIDATION_KEY: validation.__dict__,
            TOLERANCE_KEY: tolerance,
        }
        if version is not None:
            recorded |= {
                evaluator_constants.ARTIFACT_PROPERTY_BASELINE_MODEL_URI_KEY: baseline.uri,
                evaluator_constants.ARTIFACT_PROPERTY_BASELINE_MODEL_ID_KEY: baseline.id,
            }
        return recorded

    def push(
        self, uri: Callable[[str], str], model: mlmd.Artifact, served: MnistRun | None, validation: serving.Validation
    ) -> NewArtifact:
        """The Pusher's PushedModel: a new version with its marker (components/serving_dir.py; the
        blessing's `validation`, counted against the same model served), or, for the model served
        already, that version recorded again (new_version 0)."""
        model_sha256 = model.custom_properties[model_integrity.DIGEST_PROPERTY].string_value
        same = served is not None and served.model_sha256 == model_sha256
        version = served.pushed_version if same and served else str(next(self.serials) + 1_700_000_000)
        destination = f"{self.serving_dir}/{version}"
        if not same:
            serving.write_marker(destination, model.uri, MANIFESTS[model_sha256], validation)
        return NewArtifact(
            "PushedModel",
            uri("pushed_model"),
            {
                "pushed": 1,
                "pushed_version": version,
                "pushed_destination": destination,
                "new_version": 0 if same else 1,
                model_integrity.DIGEST_PROPERTY: model_sha256,
            },
        )


def write_split_file(uri: str, split: str, name: str, data: bytes) -> None:
    path = Path(uri, f"Split-{split}", name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def tfrecord(data: bytes) -> bytes:
    """One TFRecord (tensorflow/core/lib/io/record_writer.cc): length, masked CRC-32C of the
    length, the data, its masked CRC-32C."""
    length = struct.pack("<Q", len(data))
    return length + _masked_crc(length) + data + _masked_crc(data)


def _masked_crc(data: bytes) -> bytes:
    crc = google_crc32c.value(data)
    return struct.pack("<I", (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF)


def write_scalars(logs_dir: Path, scalars: dict[str, list[tuple[int, float]]]) -> None:
    """A TensorBoard event file as tf.summary writes scalars: TFRecords of Events, the file's
    version first, then a tensor per value (tensorboard's own writer would import TensorFlow)."""
    events = [event_pb2.Event(wall_time=1000.0, file_version="brain.Event:2")]
    for tag, points in scalars.items():
        for step, value in points:
            tensor = tensor_util.make_tensor_proto(np.float32(value))
            summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, tensor=tensor)])
            events.append(event_pb2.Event(step=step, wall_time=1000.0 + step, summary=summary))
    logs_dir.mkdir(parents=True)
    (logs_dir / "events.out.tfevents.1000.builder.v2").write_bytes(
        b"".join(tfrecord(event.SerializeToString()) for event in events)
    )


RECHECKED = {node_ids.SERVING_PROBE, node_ids.SERVED_MODEL, node_ids.BLESSING_EVALUATOR, node_ids.PUSHER}
RETRAINED = {node_ids.TRAINER, node_ids.TEST_EVALUATOR, node_ids.BLESSING_EVALUATOR, node_ids.PUSHER}


def three_runs(layout: Layout, root: Path) -> tuple[MnistRun, MnistRun, MnistRun]:
    """The three runs tests/pipeline/inspect/ reads: a first; an identical second, which
    re-checks the model served now and records the same version again (all else cached); a
    third with learning_rate 0.01 (new model, new version; the ingest cached)."""
    first = mnist_run(layout, root, "20261130-000100-000001")
    second = mnist_run(layout, root, "20261130-000200-000002", previous=first, ran=RECHECKED)
    third = mnist_run(layout, root, "20261130-000300-000003", 0.01, previous=second, ran=RETRAINED)
    return first, second, third


class Written(NamedTuple):
    """three_runs in a store of their own, opened read-only as `lineage` opens it."""

    store: metadata_store.MetadataStore
    layout: TfxLayout | KfpLayout  # to write more runs
    root: Path  # the store, the artifacts' files and the serving dir
    first: MnistRun
    second: MnistRun
    third: MnistRun


def written(root: Path, layout: type[TfxLayout] | type[KfpLayout]) -> Written:
    writer = layout(root / "metadata.sqlite")
    runs = three_runs(writer, root)
    return Written(store.open_store(root / "metadata.sqlite"), writer, root, *runs)
