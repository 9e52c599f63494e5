"""How a run was made: the Beam runner, the config file and the `--set` overrides, every setting that
decides the result, the data dir, and the revision of the code. The local runner records it on
the run's context in ML Metadata (custom property `run_made`, JSON) as the run ends, so the
summary, the report and `lineage trace` of a served model show it from the store, as they show
everything else. A run Kubeflow made has none (its settings are the components' parameters).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from importlib import metadata
from pathlib import Path
from typing import Any

from ml_metadata.proto import metadata_store_pb2

from pipeline.inspect import store

PROPERTY = "run_made"
# The config's sections that decide what a run produces (not where it runs: beam, kubeflow, metadata).
RESULT_SECTIONS = ("data", "ingest", "validation", "training", "evaluation")
CODE_ROOT = Path(__file__).resolve().parents[2]  # the checkout (or site-packages) holding pipeline/
DISTRIBUTION = "mnist-pipeline"


@dataclass(frozen=True)
class RunMade:
    beam_runner: str  # where the Beam components ran: Beam's --runner, DirectRunner by default
    beam_args: list[str]
    config_file: str | None  # None: configs/pipeline.yaml alone
    overrides: list[str]  # the --set key=value texts, in order
    data_dir: str
    settings: dict[str, Any]  # RESULT_SECTIONS, flattened: "training.learning_rate" -> 0.004
    source_revision: str  # `git describe --always --dirty` of the code's checkout, or the package's version

    def describe(self) -> list[str]:
        """The console's lines."""
        config = " + ".join([self.config_file or "configs/pipeline.yaml", *(f"--set {o}" for o in self.overrides)])
        return [
            f"Made by: Beam {self.beam_runner}; config {config}",
            f"Data: {self.data_dir}; code: {self.source_revision}",
        ]


def run_made(
    beam_args: Sequence[str],
    config_file: Path | None,
    overrides: Sequence[str],
    data_dir: str,
    config: dict[str, Any],
) -> RunMade:
    """What a run is about to be made with; `config` is PipelineConfig.as_dict()."""
    beam_runner = next((arg.partition("=")[2] for arg in reversed(beam_args) if arg.startswith("--runner=")), "")
    return RunMade(
        beam_runner=beam_runner or "DirectRunner",
        beam_args=list(beam_args),
        config_file=str(config_file) if config_file else None,
        overrides=list(overrides),
        data_dir=data_dir,
        # as the store gives them back: JSON's lists for tuples, paths as text
        settings=json.loads(json.dumps(store.flatten({s: config[s] for s in RESULT_SECTIONS}), default=str)),
        source_revision=source_revision(),
    )


def source_revision(code_root: Path = CODE_ROOT) -> str:
    """`git describe --always --dirty` of the checkout holding the code ("dirty": it has changes
    not committed), else the installed package's version (an image holds no .git)."""
    try:
        described = subprocess.run(
            ["git", "-C", str(code_root), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        described = None
    if described is not None and described.returncode == 0 and described.stdout.strip():
        return f"git {described.stdout.strip()}"
    try:
        return f"{DISTRIBUTION} {metadata.version(DISTRIBUTION)} (not a git checkout)"
    except metadata.PackageNotFoundError:
        return "unknown (neither a git checkout nor an installed package)"


def set_on(run: metadata_store_pb2.Context, made: RunMade) -> None:
    """Puts `made` on the run's context as `read` reads it back; the caller stores the context
    (pipeline/local/store_writes.py, and the tests' store builder)."""
    run.custom_properties[PROPERTY].string_value = json.dumps(asdict(made))


def read(run: metadata_store_pb2.Context) -> RunMade | None:
    """What the local runner put on the run's context (pipeline/local/store_writes.py); None for
    a run that has none (Kubeflow's, or a local one killed before it ended)."""
    if PROPERTY not in run.custom_properties:
        return None
    recorded = json.loads(run.custom_properties[PROPERTY].string_value)
    differ = sorted(set(recorded) ^ {field.name for field in fields(RunMade)})
    if differ:  # docs/design.md, "What an older version left": no reader of other forms
        raise store.StoreError(
            f"run {run.name}: its {PROPERTY} is of another form ({', '.join(differ)}), recorded by "
            f"{recorded.get('source_revision', 'an earlier version')}: give another --output-dir"
        )
    return RunMade(**recorded)
