"""Faults at random, the short form (issue 27, point 8): one round of each kind of fault of
tests/random_faults.py at a random moment of a run through the CLI, each followed by a clean run,
with the invariants checked after both. The seed changes daily and is printed; SOAK_SEED=N
repeats a seed's choices. `make soak` is the long form.
"""

from __future__ import annotations

import os
import re

import pytest

import random_faults

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("frozen_project", "kill_leftovers")]

# Defects this test found that a change under way is fixing: a round whose violations are all
# among these makes the test xfail, naming them. TODO-LEAD: remove each once its fix has landed.
KNOWN_DEFECTS = {
    "issue 27, point 1: a stopped worker keeps an interrupted run from exiting": r"the run was still running",
    "issue 27, point 1: an executor stopped by the interrupt is recorded failed": (
        r"the summary says \S+ interrupted, the store says failed"
    ),
    # Found by this test, not yet in an issue: the run's log handler cannot write, and Python's
    # logging prints "--- Logging error ---" with the tracebacks on the console.
    "a full disk during a run prints logging's tracebacks on the console": (
        r"a traceback on the console, ending .error: \[Errno 28\]"
    ),
}


def test_a_fault_of_each_kind_at_a_random_moment_breaks_no_invariant(tmp_path):
    seed = int(os.environ.get("SOAK_SEED") or random_faults.rotating_seed())

    rounds = random_faults.soak(tmp_path, seed, len(random_faults.KINDS))

    violated = [round_ for round_ in rounds if round_.violations]
    message = "\n".join(
        [*map(random_faults.describe, violated), f"reproduce: {random_faults.reproduce(seed, len(rounds))}"]
    )
    violations = [violation for round_ in violated for violation in round_.violations]
    known = {defect for defect, pattern in KNOWN_DEFECTS.items() for v in violations if re.match(pattern, v)}
    if violations and all(any(re.match(p, v) for p in KNOWN_DEFECTS.values()) for v in violations):
        pytest.xfail(f"known defects: {'; '.join(sorted(known))}\n{message}")
    assert not violated, message
