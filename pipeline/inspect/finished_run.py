"""A finished run, handed over by the local runner in one call: its summary (printed, and kept as
runs/<run id>.json), its report page (runs/<run id>.html) and its TensorBoard link.

Written from the store, as every view of a run is; a run that stopped (failed, interrupted) gets
them too.
"""

from __future__ import annotations

import json
import logging

from components.object_storage import is_uri
from pipeline import node_ids
from pipeline.faults import first_line
from pipeline.inspect import runs, store
from pipeline.inspect.run_summary import RunSummary, format_summary, summarize
from pipeline.inspect.runs import RunRecord
from pipeline.inspect.states import ComponentStatus
from pipeline.output_dir import OutputLayout

log = logging.getLogger(__name__)


def write_results(layout: OutputLayout, run_id: str) -> RunSummary | None:
    """Prints the summary of run `run_id` and writes its files; None when ML Metadata never
    recorded the run (it stopped before its first component)."""
    if not layout.metadata_path.exists():
        return None
    mlmd = store.open_store(layout.metadata_path)
    run = store.find_run_context(mlmd, run_id)
    if run is None:
        return None
    record = runs.load(mlmd, run)
    summary = summarize(record)
    summary_path = layout.run_file(run_id, ".json")
    summary_path.parent.mkdir(parents=True, exist_ok=True)
    summary_path.write_text(json.dumps(summary.to_json(), indent=2) + "\n")
    log.info("%s\nSummary: %s", format_summary(summary), summary_path)
    # matplotlib and TensorBoard's event reader: loaded when a run ends, not by every importer of
    # this module (the runner, which a refused run imports too).
    from pipeline.inspect.run_page.page import write_report

    try:
        log.info("Report: %s", write_report(record, layout))
    except Exception as error:  # noqa: BLE001 - a report costs one line, never the run: its outcome is recorded
        log.warning("Report not written: %s: %s", type(error).__name__, first_line(error))
    _link_training_logs(record, layout)
    return summary


def _link_training_logs(record: RunRecord, layout: OutputLayout) -> None:
    """tensorboard/<run id> -> the ModelRun folder of the model this run trained, which holds its
    TensorBoard logs (`train` and `validation`), so that `tensorboard --logdir outputs/tensorboard`
    names each curve by its run, not by an execution id. A run whose Trainer was cached trained
    nothing (its curves are under the run that did); logs in object storage get no link
    (TensorBoard reads them there)."""
    trainer = record.execution(node_ids.TRAINER)
    model_run = record.output(node_ids.TRAINER, "model_run")
    if trainer is None or trainer.status != ComponentStatus.RAN or model_run is None or is_uri(model_run.uri):
        return
    layout.tensorboard_dir.mkdir(exist_ok=True)
    link = layout.tensorboard_dir / record.id
    if not link.is_symlink():
        link.symlink_to(model_run.uri, target_is_directory=True)
