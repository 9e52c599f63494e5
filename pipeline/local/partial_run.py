"""Partial runs: `run --no-push` (NO_PUSH) and `push RUN` (push_of), as TFX's partial runs name
them (pipeline/local/dag.py turns one into TFX's RunOptions)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline import node_ids


@dataclass(frozen=True)
class PartialRun:
    """A TFX partial run: the nodes between `from_nodes` and `to_nodes` (either may be empty: from
    the sources, to the sinks); what they need from the nodes before them is reused from run
    `base_run_id` (default: the latest run)."""

    to_nodes: tuple[str, ...] = ()
    from_nodes: tuple[str, ...] = ()
    base_run_id: str | None = None

    @property
    def reads_data(self) -> bool:
        """Whether the ingest runs, so the data dir must be there."""
        return not self.from_nodes


# `run --no-push`: everything up to the blessing and the test figures; nothing is published.
NO_PUSH = PartialRun(to_nodes=(node_ids.BLESSING_EVALUATOR, node_ids.TEST_EVALUATOR))


def push_of(run_id: str) -> PartialRun:
    """`push RUN`: RUN's model compared with what is served now, and pushed if blessed."""
    return PartialRun(from_nodes=(node_ids.SERVING_PROBE,), to_nodes=(node_ids.PUSHER,), base_run_id=run_id)
