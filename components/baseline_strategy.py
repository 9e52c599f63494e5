"""Resolves the baseline for model validation: the latest blessed model other than the candidate.

TFX's LatestBlessedModelStrategy returns the latest blessed model even when that is the
candidate itself (a rerun whose Trainer hit the cache). The Evaluator then compares the model
with itself, misses its cache and the Pusher pushes the same model again. Leaving the
candidate out keeps a rerun fully cached and the comparison meaningful.
"""

from __future__ import annotations

from tfx import types
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import LatestBlessedModelStrategy

CANDIDATE_KEY = "candidate"  # the Resolver's input channel holding the model to validate


class LatestBlessedBaselineStrategy(LatestBlessedModelStrategy):
    """LatestBlessedModelStrategy that never returns the model in the `candidate` channel."""

    def resolve_artifacts(self, store, input_dict: dict[str, list[types.Artifact]]):
        candidate_ids = {artifact.id for artifact in input_dict.get(CANDIDATE_KEY, [])}
        # MLMD artifact ids are unique across types, so this only ever drops the candidate model.
        others = {
            key: [artifact for artifact in artifacts if artifact.id not in candidate_ids]
            for key, artifacts in input_dict.items()
            if key != CANDIDATE_KEY
        }
        result = super().resolve_artifacts(store, others)
        return None if result is None else {**result, CANDIDATE_KEY: []}
