"""The Kubeflow report task's figures in the shapes KFP's UI reads, its artifact types as the UI and
TFX's entrypoint find them, and its one-line refusals. The task itself runs in the harness
(tests/e2e/test_kubeflow_spec.py)."""

from __future__ import annotations

import dataclasses

import pytest
from tfx.orchestration.kubeflow.v2 import compiler_utils
from tfx.utils import import_utils

from pipeline.inspect.run_summary import EvaluatorFigures, TrainerFigures
from pipeline.kubeflow import run_report
from pipeline.kubeflow.run_report import ReportError

from support.report_data_builder import stopped_at_the_data_gate


def completed(matrix: list[list[int]]):
    """A hand-built report of a run whose Trainer and Evaluators finished."""
    data = stopped_at_the_data_gate("", "train-images", "")
    summary = dataclasses.replace(
        data.summary,
        trainer_precision_at_1={"train": TrainerFigures(100, 99, 0.99), "test": TrainerFigures(10, 9, 0.9)},
        evaluation={
            "validation": EvaluatorFigures(0.97, 50, {}),
            "test": EvaluatorFigures(sum(row[i] for i, row in enumerate(matrix)) / sum(map(sum, matrix)), 10, {}),
        },
    )
    return dataclasses.replace(data, summary=summary, confusion_matrix=matrix)


def test_precision_at_1_per_split_takes_the_evaluators_figures_and_the_trainers_for_train():
    figures = run_report.precision_at_1(completed([[4, 1], [0, 5]]))
    assert figures == {"train_precision_at_1": 0.99, "validation_precision_at_1": 0.97, "test_precision_at_1": 0.9}


def test_the_confusion_matrix_has_the_shape_kfps_ui_checks():
    """frontend/src/components/viewers/MetricsVisualizations.tsx ConfusionMatrixInputRunType:
    as many annotationSpecs as rows, each row as long."""
    matrix = [[4, 1, 0], [0, 5, 0], [1, 0, 3]]
    shaped = run_report.kfp_confusion_matrix(completed(matrix))
    assert shaped["annotationSpecs"] == [{"displayName": "0"}, {"displayName": "1"}, {"displayName": "2"}]
    assert [row["row"] for row in shaped["rows"]] == matrix


def test_the_ui_types_are_the_kfp_uis_and_tfx_can_import_them_once_registered(monkeypatch):
    assert set(run_report.UI_ARTIFACT_CLASSES) == {"system.HTML", "system.Metrics", "system.ClassificationMetrics"}
    monkeypatch.setattr(compiler_utils, "TITLE_TO_CLASS_PATH", dict(compiler_utils.TITLE_TO_CLASS_PATH))
    compiler_utils.TITLE_TO_CLASS_PATH.update(run_report.UI_ARTIFACT_CLASSES)
    for title, class_path in run_report.UI_ARTIFACT_CLASSES.items():
        assert import_utils.import_class_by_path(class_path).TYPE_NAME == title


def test_without_kfps_metadata_service_the_task_says_what_is_missing(monkeypatch):
    for variable in (run_report.METADATA_HOST_VARIABLE, run_report.METADATA_PORT_VARIABLE):
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(ReportError, match="METADATA_GRPC_SERVICE_HOST / METADATA_GRPC_SERVICE_PORT are not set"):
        run_report._metadata_store()


def test_an_unsubstituted_run_id_is_refused():
    with pytest.raises(ReportError, match=r"run_id is still \{\{\$\.pipeline_job_uuid\}\}"):
        run_report._run_context(None, run_report.RUN_ID_PLACEHOLDER)
