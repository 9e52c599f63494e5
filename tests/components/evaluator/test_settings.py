"""components/evaluator/settings.py: the `evaluation` section (the blessing rule)."""

from __future__ import annotations

import pytest

from components.evaluator.settings import METRIC_NAME, EvaluationSettings
from components.settings import SettingsError, from_dict


def test_the_metric_name_is_precision_at_1():
    assert METRIC_NAME == "precision_at_1"


@pytest.mark.parametrize("threshold, regression, gap", [(0.0, 0.0, 0.0), (1.0, 1.0, 1.0), (0.95, 0.01, 0.03)])
def test_values_in_0_1_inclusive_pass(threshold, regression, gap):
    assert EvaluationSettings(threshold, regression, gap).max_test_gap == gap


def test_values_outside_0_1_are_each_named():
    values = {"min_precision_at_1": 1.5, "max_precision_at_1_regression": -0.1, "max_test_gap": 2}
    with pytest.raises(SettingsError) as error:
        from_dict(EvaluationSettings, values, "evaluation.")
    assert str(error.value).split("; ") == [
        "'evaluation.min_precision_at_1' must be in 0..1, got 1.5",
        "'evaluation.max_precision_at_1_regression' must be in 0..1, got -0.1",
        "'evaluation.max_test_gap' must be in 0..1, got 2.0",
    ]
