"""The blessing rule of the validation Evaluator, the name of the metric both Evaluators report,
and the properties under which they record their figures in MLMD (components/evaluator/figures.py).

The `evaluation` section of the config. No TensorFlow here: the config and the tools that read
runs import it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic.dataclasses import dataclass

from components.settings import SETTINGS, Bounds, Float

METRIC_NAME = "precision_at_1"  # components.evaluator.precision_at_1.PrecisionAt1's key
CONFUSION_METRIC_NAME = "confusion_counts"  # ... and ConfusionCounts': an int64 [true, predicted] array
# Custom properties of each Evaluator's ModelEvaluation.
PRECISION_PROPERTY = "precision_at_1"  # over the whole split
EXAMPLES_PROPERTY = "example_count"
PER_DIGIT_PROPERTY = "precision_at_1_per_digit"  # {"0": ..., "9": ...}, by true digit
CONFUSION_MATRIX_PROPERTY = "confusion_matrix"  # [true][predicted] counts; the test Evaluator's only
VALIDATION_FAILURES_PROPERTY = "validation_failures"  # one line per threshold the model failed
# Each EvaluationSettings field is a parameter of the Evaluator that uses it, named as the field
# (components/evaluator/component.py): the test Evaluator's max_test_gap, and the validation
# Evaluator's blessing rule, from which its executor builds the eval_config.
MAX_TEST_GAP_KEY = "max_test_gap"
MIN_PRECISION_KEY = "min_precision_at_1"
MAX_REGRESSION_KEY = "max_precision_at_1_regression"
# Custom properties of the validation Evaluator's ModelBlessing besides TFX's (components/evaluator/executor.py).
BASELINE_SERVED_KEY = "compared_with_served"  # serving_dir.fingerprint of the baseline
VALIDATION_KEY = "validation"  # serving_dir.Validation of the candidate, as a dict
TOLERANCE_KEY = MAX_REGRESSION_KEY  # the rule's tolerance below the best served
FRACTION = Bounds(0, 1)  # Precision@1 and the differences between two of them


@dataclass(frozen=True, config=SETTINGS)
class EvaluationSettings:
    min_precision_at_1: Annotated[Float, FRACTION]  # validation Precision@1 a model needs to be blessed
    max_precision_at_1_regression: Annotated[Float, FRACTION]  # how far below the model in production it may fall
    # A warning when test Precision@1 is further than this from validation's: the test split
    # decides nothing, but a collapsed one (say, swapped files) should not pass in silence.
    max_test_gap: Annotated[Float, FRACTION]
