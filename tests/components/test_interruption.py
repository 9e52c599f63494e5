"""components/interruption.py: after an interrupt no publish begins; a run starts allowed again.
(That a publish under way ends and is recorded: tests/pipeline/local/test_executor_processes.py
and tests/e2e/test_interrupts.py.)"""

from __future__ import annotations

import concurrent.futures
import signal

import pytest

from components import interruption


def publish() -> str:
    """A publish in a thread of its own: publishing() blocks SIGTERM in the thread that enters it."""
    with interruption.publishing():
        return "published"


def test_no_publish_begins_after_an_interrupt_and_the_next_run_may_publish():
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        interruption.start()
        assert interruption.stop() is False  # nothing was published
        with pytest.raises(interruption.Interrupted, match="interrupted before this publish began"):
            thread.submit(publish).result()

        interruption.start()
        assert thread.submit(publish).result() == "published"
        assert interruption.stop() is True  # its execution is still to be recorded
    interruption.start()


def test_outside_a_worker_a_publish_leaves_the_callers_signal_mask_as_it_was():
    """Only a worker holds SIGTERM off, and unblocks it once its output is sent: a mask left
    blocked here would keep SIGTERM from this thread (a test process's, a kernel's) for good."""
    interruption.start()
    with interruption.publishing():
        pass
    assert signal.SIGTERM not in signal.pthread_sigmask(signal.SIG_BLOCK, set())
