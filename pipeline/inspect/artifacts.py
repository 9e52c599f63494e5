"""Artifacts in the store: listed with their metrics, found by id, URI or as the model served
now (pushed:latest), and traced back to the IDX files and forward to what used them.

What `lineage artifacts` and `lineage trace` show (lineage_views.py formats it); the store is
read through pipeline/inspect/store.py.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from components import model_integrity
from components import serving_dir as serving
from pipeline import output_dir
from pipeline.inspect import artifact_metrics, run_made, runs
from pipeline.inspect import store as mlmd
from pipeline.inspect.run_made import RunMade
from pipeline.inspect.runs import InputFile
from pipeline.inspect.states import ComponentStatus
from pipeline.inspect.store import ArtifactInfo, ExecutionInfo, Store, StoreError

PUSHED_LATEST = "pushed:latest"


@dataclass
class Step:
    """An execution on the way to an artifact, with its parameters and the versions of its code."""

    execution: ExecutionInfo
    parameters: dict[str, Any]
    versions: dict[str, str]


@dataclass
class Trace:
    artifact: ArtifactInfo
    upstream: list[Step]  # from the artifact's producer back to the ingest, newest first
    input_files: list[InputFile]
    downstream: list[ExecutionInfo]  # the executions that used it or what came of it, oldest first
    runs_made: dict[str, RunMade] = field(default_factory=dict)  # of the upstream runs that recorded it


def list_artifacts(store: Store, artifact_type: str | None = None, run_id: str | None = None) -> list[ArtifactInfo]:
    """Artifacts, newest first: all, of one type (any case), and/or of one run; with their metrics."""
    if run_id is not None:
        infos = mlmd.artifacts(store, run=mlmd.find_run(store, run_id))
    elif not mlmd.run_contexts(store):
        raise StoreError(mlmd.NO_RUNS)
    else:
        infos = mlmd.artifacts(store)
    infos.reverse()
    if artifact_type is not None:
        known = {name.lower(): name for name in mlmd.artifact_type_names(store)}
        if artifact_type.lower() not in known:
            raise StoreError(f"unknown artifact type '{artifact_type}' (known: {', '.join(sorted(known.values()))})")
        infos = [info for info in infos if info.type == known[artifact_type.lower()]]
    add_metrics(store, infos)
    return infos


def find_artifact(store: Store, reference: str, serving_dir: str | None = None) -> ArtifactInfo:
    """The artifact with this id or URI (a pushed model also by where it was pushed), or
    pushed:latest: what `serving_dir` serves (see _latest_pushed)."""
    if not mlmd.run_contexts(store):
        raise StoreError(mlmd.NO_RUNS)
    if reference == PUSHED_LATEST:
        return _latest_pushed(store, serving_dir)
    if ":" in reference and "://" not in reference and not reference.startswith(("/", ".")):
        raise StoreError(f"'{reference}' is not an artifact id, a URI or {PUSHED_LATEST}")
    if reference.isdigit():
        found = mlmd.artifacts(store, ids=[int(reference)])
        if not found:
            raise StoreError(f"no artifact with id {reference} in the metadata store (see `lineage artifacts`)")
        return found[0]
    uri = (reference if "://" in reference else os.path.abspath(reference)).rstrip("/")  # local URIs are absolute
    found = mlmd.artifacts(store, uri=uri)
    if found:
        return found[-1]
    pushed = [info for info in _pushed_models(store) if info.properties.get("pushed_destination") == uri]
    if pushed:
        return pushed[-1]
    raise StoreError(
        f"no artifact with URI {uri} in the metadata store; give an id, a URI or {PUSHED_LATEST} "
        "(see `lineage artifacts`)"
    )


def add_metrics(store: Store, infos: list[ArtifactInfo]) -> None:
    """Adds the metrics: Precision@1 per split to the Trainer's models (from its files), the
    Evaluators' figures to evaluations (from their properties)."""
    for info in infos:
        if info.type == "ModelEvaluation":
            info.metrics = artifact_metrics.evaluation_metrics(info.properties)
        elif info.type == "Model":
            for producer in mlmd.executions(store, mlmd.linked_executions(store, info.id, producer=True)):
                model_runs = producer.outputs.get("model_run", [])
                info.metrics = artifact_metrics.trainer_metrics(model_runs[0].uri) if model_runs else {}


def _pushed_models(store: Store) -> list[ArtifactInfo]:
    """The models pushed to serving whose version is still there (recovery.mark_removed_pushes), oldest first."""
    pushed = [
        info
        for info in mlmd.artifacts_of_type(store, "PushedModel")
        if info.properties.get("pushed") == 1 and info.state == "LIVE"
    ]
    return sorted(pushed, key=lambda info: (int(info.properties.get("pushed_version") or 0), info.id))


def _latest_pushed(store: Store, serving_dir: str | None) -> ArtifactInfo:
    """The model being served: the highest version in `serving_dir`, as TF Serving and `predict`
    take it, credited by content: a record of its push, or a Trainer's Model, counts only if the
    model's digest is the one the version's marker holds (a store that was lost reuses execution
    ids, so the paths of other models). A version whose push a killed run never recorded is
    found by its marker, as the Trainer's Model it holds (the next run records the push).
    Without a serving dir: the highest version MLMD recorded."""
    pushed = _pushed_models(store)
    if serving_dir is None:
        if not pushed:
            raise StoreError(f"{PUSHED_LATEST}: no model has been pushed yet")
        return pushed[-1]
    served = serving.latest(serving_dir)
    if served is None:
        raise StoreError(
            f"{PUSHED_LATEST}: {serving_dir} serves no model"
            + (" (the versions pushed earlier were removed)" if pushed else "")
        )
    recorded = [
        info
        for info in pushed
        if info.properties.get("pushed_destination")
        and output_dir.normalized(info.properties["pushed_destination"]) == output_dir.normalized(served.path)
        and info.properties.get(model_integrity.DIGEST_PROPERTY) == served.model_sha256
    ]
    if recorded:
        return recorded[-1]
    models = [
        model
        for model in mlmd.artifacts(store, uri=served.model_uri)
        if model.properties.get(model_integrity.DIGEST_PROPERTY) == served.model_sha256
    ]
    if not models:
        raise StoreError(
            f"{served.path}: served, but no model in the metadata store has its content (model_sha256 "
            f"{served.model_sha256}): the records of the run that made it are not in this store"
        )
    model = models[-1]
    model.properties["served_as"] = (
        f"{served.path} (push not recorded: the run was interrupted; the next run records it)"
    )
    return model


# --- trace ----------------------------------------------------------------------------------


def trace(store: Store, reference: str, serving_dir: str | None = None) -> Trace:
    """Where an artifact came from (down to the IDX files), what used it, and how the runs on
    the way were made."""
    artifact = find_artifact(store, reference, serving_dir)
    upstream = sorted(_walk(store, artifact.id, upstream=True), key=lambda e: e.id, reverse=True)
    downstream = sorted(_walk(store, artifact.id, upstream=False), key=lambda e: e.id)
    add_metrics(store, [artifact, *mlmd.artifacts_of(upstream, "outputs"), *mlmd.artifacts_of(downstream, "outputs")])
    runs_made = {}
    for run_id in dict.fromkeys(run_id for execution in upstream for run_id in execution.run_ids):
        context = mlmd.find_run_context(store, run_id)
        if context is not None and (made := run_made.read(context)) is not None:
            runs_made[run_id] = made
    steps = [Step(execution, execution.parameters, versions(execution)) for execution in upstream]
    return Trace(artifact, steps, runs.input_files(upstream), downstream, runs_made)


def versions(execution: ExecutionInfo) -> dict[str, str]:
    """What code ran: the component's class, the TFX release and the code hashes among the parameters."""
    tfx_versions = [
        a.properties["tfx_version"] for a in mlmd.artifacts_of([execution], "outputs") if "tfx_version" in a.properties
    ]
    hashes = {key: value for key, value in mlmd.flatten(execution.parameters).items() if key.endswith("sha256")}
    return {"component": execution.type, **({"tfx": tfx_versions[0]} if tfx_versions else {}), **hashes}


def _walk(store: Store, artifact_id: int, upstream: bool) -> list[ExecutionInfo]:
    """The executions reached from an artifact: producers and their inputs, or users and their outputs."""
    found: dict[int, ExecutionInfo] = {}
    queue, seen = [artifact_id], {artifact_id}
    while queue:
        linked = [i for i in mlmd.linked_executions(store, queue.pop(0), producer=upstream) if i not in found]
        for info in mlmd.executions(store, linked):
            found[info.id] = info
            if not upstream and info.status is ComponentStatus.CACHED:
                continue  # its outputs are those of the execution it reused, reached already
            for artifact in mlmd.artifacts_of([info], "inputs" if upstream else "outputs"):
                if artifact.id not in seen:
                    seen.add(artifact.id)
                    queue.append(artifact.id)
    return list(found.values())
