"""RunPages built by hand, for the tests of what renders them (no run, no store)."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np

from pipeline import node_ids
from pipeline.inspect.run_page.data import Component, Failure, RunPage
from pipeline.inspect.run_summary import ComponentOutcome, RunSummary
from pipeline.inspect.runs import InputFile
from pipeline.inspect.states import ComponentStatus, RunStatus


def stopped_at_the_data_gate(reason: str, file_name: str, anomaly: str) -> RunPage:
    """A run whose DataGate failed: it has examples and anomalies, and nothing after them."""
    ran = [node_ids.INGEST, node_ids.STATISTICS, node_ids.SCHEMA_VALIDATOR, node_ids.SPLIT_VALIDATOR]
    components = [Component(node, ComponentStatus.RAN, 1.5, None, [f"Examples {i}"]) for i, node in enumerate(ran)]
    components.append(Component(node_ids.DATA_GATE, ComponentStatus.FAILED, 0.2, None, []))
    summary = RunSummary(
        run_id="20261129-120000-000001",
        status=RunStatus.FAILED,
        seconds=12.0,
        components=[ComponentOutcome(c.node_id, c.status, c.seconds) for c in components],
        examples={"train": 55_000, "validation": 5_000, "test": 10_000},
        trainer_precision_at_1={},
        training=None,
        evaluation={},
        blessing=None,
        pushed=None,
        warnings=[],
    )
    return RunPage(
        summary=summary,
        started=datetime.datetime(2026, 11, 29, 12, 0, 0),
        log_path=Path("/outputs/runs/20261129-120000-000001.log"),
        components=components,
        failure=Failure(node_ids.DATA_GATE, reason, finished=ran),
        input_files=[InputFile("train_images", file_name, "ab" * 32, 1)],
        label_counts={"train": {0: 5_500, 1: 49_500}, "validation": {0: 5_000}, "test": {1: 10_000}},
        samples={0: [np.zeros((28, 28), np.uint8)], 1: [np.full((28, 28), 255, np.uint8)]},
        statistics=[],
        anomalies=[anomaly],
        curves=None,
        training_settings={},
        blessing_rule="",
        confusion_matrix=[],
        misclassified=[],
    )
