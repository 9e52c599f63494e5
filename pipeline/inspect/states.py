"""The states of a component's execution and of a run, as `lineage`, the run summary, the report
and the bench name them. No TensorFlow or ML Metadata here."""

from __future__ import annotations

import enum


class ComponentStatus(str, enum.Enum):
    """How an execution ended, from its state in ML Metadata (store.STATUS_BY_STATE)."""

    RAN = "ran"
    CACHED = "cached"  # reused the outputs of an earlier execution
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # left running by a run that stopped (pipeline/local/store_writes.py marks it)
    RUNNING = "running"  # still running, or killed and not yet recorded so

    def __str__(self) -> str:
        return self.value


class RunStatus(str, enum.Enum):
    """How a run ended: the first of these that one of its components' statuses gives."""

    FAILED = "failed"
    INTERRUPTED = "interrupted"
    UNFINISHED = "unfinished"
    COMPLETE = "complete"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def of(cls, statuses: set[ComponentStatus]) -> RunStatus:
        if ComponentStatus.FAILED in statuses:
            return cls.FAILED
        if ComponentStatus.INTERRUPTED in statuses:
            return cls.INTERRUPTED
        return cls.UNFINISHED if ComponentStatus.RUNNING in statuses else cls.COMPLETE


FINISHED = (ComponentStatus.RAN, ComponentStatus.CACHED)
STOPPED = (ComponentStatus.FAILED, ComponentStatus.INTERRUPTED, ComponentStatus.RUNNING)
