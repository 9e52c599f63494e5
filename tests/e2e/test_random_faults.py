"""Faults at random, the short form (issue 27, point 8): one round of each kind of fault of
tests/support/random_faults.py at a random moment of a run through the CLI, each followed by a clean run,
with the invariants checked after both. The seed changes daily and is printed; SOAK_SEED=N
repeats a seed's choices. `make soak` is the long form.
"""

from __future__ import annotations

import os

import pytest

from support import random_faults

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("frozen_project", "kill_leftovers")]


def test_a_fault_of_each_kind_at_a_random_moment_breaks_no_invariant(tmp_path):
    seed = int(os.environ.get("SOAK_SEED") or random_faults.rotating_seed())

    rounds = random_faults.soak(tmp_path, seed, len(random_faults.KINDS))

    violated = [round_ for round_ in rounds if round_.violations]
    assert not violated, "\n".join(
        [*map(random_faults.describe, violated), f"reproduce: {random_faults.reproduce(seed, len(rounds))}"]
    )
