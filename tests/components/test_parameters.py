"""components/parameters.py: settings as component parameters, one per field named as its key,
and back in one parse, checked."""

from __future__ import annotations

import dataclasses

import pytest
from tfx.orchestration import data_types

from components import parameters
from components.evaluator.settings import EvaluationSettings
from components.settings import SettingsError
from components.trainer.settings import TrainerSettings

from support.trainer_settings import TRAINING


def test_one_parameter_per_field_of_a_type_tfx_and_kfp_carry():
    """A bool as 0 or 1, a list as JSON text, as TFX's own specs declare them."""
    spec = parameters.spec(TrainerSettings)
    assert list(spec) == [field.name for field in dataclasses.fields(TrainerSettings)]
    assert (spec["learning_rate"].type, spec["train_steps"].type, spec["optimizer"].type) == (float, int, str)
    assert (spec["cosine_decay"].type, spec["hidden_units"].type) == (int, str)
    assert not spec["seed"].optional and parameters.spec(EvaluationSettings, optional=True)["max_test_gap"].optional


def test_the_values_are_what_the_parameters_hold_and_read_back_as_the_settings():
    values = parameters.values(TRAINING)
    assert (values["hidden_units"], values["cosine_decay"], values["learning_rate"]) == ("[128, 32]", 1, 0.004)
    for value in values.values():  # each may be the default of a RuntimeParameter
        data_types.RuntimeParameter("p", ptype=type(value), default=value)
    assert parameters.settings(TrainerSettings, {**values, "code_sha256": "not a setting"}, "training.") == TRAINING


def test_a_list_already_parsed_reads_as_well():
    """ML Metadata's readers give a JSON parameter parsed (pipeline/inspect)."""
    values = {**parameters.values(TRAINING), "hidden_units": [64], "cosine_decay": 0}
    read = parameters.settings(TrainerSettings, values, "training.")
    assert (read.hidden_units, read.cosine_decay) == ((64,), False)


@pytest.mark.parametrize(
    "changes, problem",
    [
        ({"batch_size": 0}, r"'training\.batch_size' must be in 1\.\.65536, got 0"),
        ({"cosine_decay": 2}, r"'training\.cosine_decay' must be of type bool, got 2"),
        ({"hidden_units": "many"}, r"'training\.hidden_units' must be a list, got 'many'"),
    ],
)
def test_a_bad_value_is_one_error_naming_the_setting(changes, problem):
    with pytest.raises(SettingsError, match=problem):
        parameters.settings(TrainerSettings, {**parameters.values(TRAINING), **changes}, "training.")
