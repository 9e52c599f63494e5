"""Tests for pipeline/config.py: defaults, a user's file, `--set` overrides and their checks."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from components.errors import PipelineError
from pipeline.config import DEFAULT_CONFIG_FILE, ConfigError, PipelineConfig, load_config

from conftest import REPO_ROOT
from support.settings_bounds import number_settings


@pytest.fixture(scope="module")
def defaults() -> PipelineConfig:
    return load_config()


def write_yaml(tmp_path: Path, text: str, name: str = "user.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --- defaults ---------------------------------------------------------------------------------


def test_default_config_file_is_the_shipped_one():
    assert DEFAULT_CONFIG_FILE == REPO_ROOT / "configs" / "pipeline.yaml"


def test_defaults_data(defaults):
    assert defaults.pipeline_name == "mnist"
    assert defaults.ingest.train_images == "train-images-idx3-ubyte"
    assert defaults.ingest.train_labels == "train-labels-idx1-ubyte"
    assert defaults.ingest.test_images == "t10k-images-idx3-ubyte"
    assert defaults.ingest.test_labels == "t10k-labels-idx1-ubyte"
    assert defaults.data.image_shape == (28, 28)
    assert defaults.data.num_classes == 10


def test_defaults_ingest(defaults):
    assert defaults.ingest.validation_size == 5000
    assert defaults.ingest.train_size is None
    assert defaults.ingest.test_size is None
    assert defaults.ingest.records_per_shard == 10000
    assert defaults.ingest.gzip_level == 1


def test_defaults_training(defaults):
    training = defaults.training
    assert training.hidden_units == (128, 32)
    assert training.optimizer == "adam"
    assert training.learning_rate == pytest.approx(0.004)
    assert isinstance(training.learning_rate, float)
    assert training.cosine_decay is True
    assert training.batch_size == 150
    assert training.train_steps == 2500
    assert training.log_every_steps == 100
    assert training.checkpoint_every_steps == 1000
    assert training.validation_every_steps == 500
    assert training.seed == 42


def test_defaults_evaluation_beam_and_schema(defaults):
    assert defaults.evaluation.min_precision_at_1 == pytest.approx(0.95)
    assert defaults.evaluation.max_precision_at_1_regression == pytest.approx(0.01)
    assert defaults.beam.pipeline_args == (
        "--direct_running_mode=in_memory",
        "--direct_num_workers=1",
        "--no_pipeline_type_check",
    )
    assert defaults.validation.schema_file == "configs/schema.pbtxt"
    assert defaults.validation.schema_path == REPO_ROOT / "configs" / "schema.pbtxt"


def test_lists_become_tuples_and_the_config_is_frozen(defaults):
    assert isinstance(defaults.beam.pipeline_args, tuple)
    assert defaults == load_config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        defaults.training = defaults.training  # type: ignore[misc]


def test_as_dict_is_nested(defaults):
    as_dict = defaults.as_dict()
    assert as_dict["training"]["hidden_units"] == (128, 32)
    assert as_dict["ingest"]["validation_size"] == 5000


# --- --set overrides --------------------------------------------------------------------------


def test_override_float(defaults):
    config = load_config(overrides=["training.learning_rate=0.01"])
    assert config.training.learning_rate == pytest.approx(0.01)
    assert config.training.batch_size == defaults.training.batch_size  # the rest unchanged


def test_override_int_for_a_float_becomes_a_float():
    config = load_config(overrides=["training.learning_rate=1"])
    assert config.training.learning_rate == 1.0
    assert isinstance(config.training.learning_rate, float)


def test_override_list():
    config = load_config(overrides=["training.hidden_units=[64, 16, 8]"])
    assert config.training.hidden_units == (64, 16, 8)


def test_override_null_and_back():
    config = load_config(overrides=["ingest.train_size=1000", "ingest.test_size=500"])
    assert (config.ingest.train_size, config.ingest.test_size) == (1000, 500)
    config = load_config(overrides=["ingest.train_size=1000", "ingest.train_size=null"])
    assert config.ingest.train_size is None


def test_override_bool_and_string():
    config = load_config(overrides=["training.cosine_decay=false", "training.optimizer=sgd"])
    assert config.training.cosine_decay is False
    assert config.training.optimizer == "sgd"


def test_override_top_level_key():
    assert load_config(overrides=["pipeline_name=mnist-small"]).pipeline_name == "mnist-small"


def test_later_override_wins():
    config = load_config(overrides=["training.batch_size=50", "training.batch_size=25"])
    assert config.training.batch_size == 25


def test_override_value_may_contain_equals_sign():
    config = load_config(overrides=["beam.pipeline_args=[--runner=DirectRunner]"])
    assert config.beam.pipeline_args == ("--runner=DirectRunner",)


def test_override_key_is_stripped():
    assert load_config(overrides=[" training.seed =7"]).training.seed == 7


# --- a user's config file ---------------------------------------------------------------------


def test_config_file_overrides_only_its_keys(tmp_path, defaults):
    path = write_yaml(tmp_path, "training:\n  batch_size: 50\ningest:\n  validation_size: 100\n")
    config = load_config(config_file=path)
    assert config.training.batch_size == 50
    assert config.ingest.validation_size == 100
    # Sibling keys of the same sections keep their defaults.
    assert config.training.train_steps == defaults.training.train_steps
    assert config.training.hidden_units == defaults.training.hidden_units
    assert config.ingest.records_per_shard == defaults.ingest.records_per_shard
    assert config.data == defaults.data
    assert config.kubeflow == defaults.kubeflow


def test_override_beats_config_file(tmp_path):
    path = write_yaml(tmp_path, "training:\n  batch_size: 50\n  seed: 3\n")
    config = load_config(config_file=path, overrides=["training.batch_size=20"])
    assert config.training.batch_size == 20
    assert config.training.seed == 3


def test_config_file_may_be_a_str(tmp_path):
    path = write_yaml(tmp_path, "pipeline_name: other\n")
    assert load_config(config_file=str(path)).pipeline_name == "other"


def test_unknown_key_in_config_file_names_the_file_and_key(tmp_path):
    path = write_yaml(tmp_path, "training:\n  batch_sise: 50\n")
    with pytest.raises(ConfigError, match=r"user\.yaml: unknown setting 'training\.batch_sise'"):
        load_config(config_file=path)


# --- unknown keys and sections ----------------------------------------------------------------


def test_unknown_top_level_key():
    with pytest.raises(ConfigError, match=r"unknown setting 'trainig'") as error:
        load_config(overrides=["trainig.batch_size=5"])
    assert "--set trainig.batch_size=5" in str(error.value)
    assert "training" in str(error.value)  # the known keys are listed


def test_unknown_nested_key():
    with pytest.raises(ConfigError, match=r"unknown setting 'training\.lr'") as error:
        load_config(overrides=["training.lr=0.1"])
    assert "training.learning_rate" in str(error.value)  # known keys of the section, with prefix


def test_key_below_a_leaf_is_rejected():
    with pytest.raises(ConfigError, match=r"'training\.batch_size' must be of type int"):
        load_config(overrides=["training.batch_size.x=1"])


def test_section_given_a_scalar():
    with pytest.raises(ConfigError, match=r"'training' is a section, give one of its keys"):
        load_config(overrides=["training=5"])


def test_section_given_a_scalar_in_a_file(tmp_path):
    path = write_yaml(tmp_path, "ingest: 3\n")
    with pytest.raises(ConfigError, match=r"user\.yaml: 'ingest' is a section"):
        load_config(config_file=path)


def test_config_error_is_a_pipeline_error_and_a_value_error():
    with pytest.raises(ConfigError) as error:
        load_config(overrides=["nope=1"])
    assert isinstance(error.value, PipelineError)
    assert isinstance(error.value, ValueError)


# --- types ------------------------------------------------------------------------------------


def test_string_for_int():
    with pytest.raises(ConfigError, match=r"'training\.batch_size' must be of type int, got 'many'"):
        load_config(overrides=["training.batch_size=many"])


def test_bool_for_int():
    with pytest.raises(ConfigError, match=r"'training\.train_steps' must be of type int, got True"):
        load_config(overrides=["training.train_steps=true"])


def test_float_for_int():
    with pytest.raises(ConfigError, match=r"'ingest\.validation_size' must be of type int, got 10\.5"):
        load_config(overrides=["ingest.validation_size=10.5"])


def test_bool_for_float():
    with pytest.raises(ConfigError, match=r"'training\.learning_rate' must be of type float, got True"):
        load_config(overrides=["training.learning_rate=true"])


def test_list_for_str():
    with pytest.raises(ConfigError, match=r"'training\.optimizer' must be of type str, got \['adam'\]"):
        load_config(overrides=["training.optimizer=[adam]"])


def test_scalar_for_list():
    with pytest.raises(ConfigError, match=r"'training\.hidden_units' must be a list, got 64"):
        load_config(overrides=["training.hidden_units=64"])


def test_wrong_type_inside_a_list_names_the_index():
    with pytest.raises(ConfigError, match=r"'training\.hidden_units\[1\]' must be of type int, got 'x'"):
        load_config(overrides=["training.hidden_units=[64, x]"])


def test_null_for_a_required_int():
    with pytest.raises(ConfigError, match=r"'ingest\.validation_size' must be of type int, got None"):
        load_config(overrides=["ingest.validation_size=null"])


def test_wrong_type_for_optional_int():
    with pytest.raises(ConfigError, match=r"'ingest\.train_size' must be of type int, got 'all'"):
        load_config(overrides=["ingest.train_size=all"])


# --- ranges: each settings type checks its own (tests/components/.../test_settings.py); the
# config reports them all at once, with their sections ------------------------------------------


def test_all_range_problems_are_reported_together_with_their_sections():
    with pytest.raises(ConfigError) as error:
        load_config(
            overrides=[
                "training.batch_size=0",
                "training.optimizer=adagrad",
                "ingest.gzip_level=10",
                "evaluation.max_test_gap=2",
                "data.image_shape=[28, 0]",
            ]
        )
    assert str(error.value).split("; ") == [
        "'data.image_shape' must be in 1..1024 each, got [28, 0]",
        "'ingest.gzip_level' must be in 0..9, got 10",
        "'training.optimizer' must be one of adam, sgd, rmsprop, got 'adagrad'",  # in the order of the fields
        "'training.batch_size' must be in 1..65536, got 0",
        "'evaluation.max_test_gap' must be in 0..1, got 2.0",
    ]


# --- malformed overrides and files ------------------------------------------------------------


def test_override_without_equals_sign():
    with pytest.raises(ConfigError, match=r"--set training\.batch_size: expected key=value"):
        load_config(overrides=["training.batch_size"])


def test_override_with_empty_key():
    with pytest.raises(ConfigError, match=r"--set =5: expected key=value"):
        load_config(overrides=["=5"])


def test_override_with_invalid_yaml_value():
    with pytest.raises(ConfigError, match=r"--set training\.hidden_units=\[64: the value is not valid YAML"):
        load_config(overrides=["training.hidden_units=[64"])


def test_missing_config_file_names_the_file(tmp_path):
    path = tmp_path / "missing.yaml"
    with pytest.raises(ConfigError, match=r"missing\.yaml: cannot read the config file") as error:
        load_config(config_file=path)
    assert str(path) in str(error.value)


def test_config_file_that_is_a_directory(tmp_path):
    with pytest.raises(ConfigError, match=r"cannot read the config file") as error:
        load_config(config_file=tmp_path)
    assert str(tmp_path) in str(error.value)


def test_invalid_yaml_file_names_the_file(tmp_path):
    path = write_yaml(tmp_path, "training:\n  batch_size: [1, 2\n", name="broken.yaml")
    with pytest.raises(ConfigError, match=r"broken\.yaml: not valid YAML") as error:
        load_config(config_file=path)
    assert str(path) in str(error.value)


def test_a_config_file_that_is_not_utf8_is_named_with_the_byte_and_its_line(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("training:\n  # schön\n  batch_size: 20\n".encode("latin-1"))
    with pytest.raises(ConfigError) as error:
        load_config(config_file=path)
    assert str(error.value) == f"{path}: not UTF-8 text (byte 0xf6 on line 2)"


def test_a_yaml_escape_that_is_no_text_is_refused_naming_the_key():
    """YAML's "\\udcff" is a lone surrogate, as a byte 0xff of a path is in Python: no UTF-8."""
    with pytest.raises(ConfigError, match=r"^'ingest\.train_images' must be UTF-8 text, got 'a\\udcff'$"):
        load_config(overrides=['ingest.train_images="a\\udcff"'])


DEEP = "{a: " * 5000 + "1" + "}" * 5000  # deeper than Python's recursion limit: PyYAML recurses


def test_a_config_file_nested_5000_deep_is_one_error(tmp_path):
    path = write_yaml(tmp_path, f"training: {DEEP}\n", name="deep.yaml")
    with pytest.raises(ConfigError) as error:
        load_config(config_file=path)
    assert str(error.value) == f"{path}: not valid YAML: collections nested too deeply"


def test_an_override_nested_5000_deep_is_one_short_error():
    override = f"training.hidden_units={DEEP}"
    with pytest.raises(ConfigError) as error:
        load_config(overrides=[override])
    assert str(error.value) == f"--set {override[:100]}...: the value is not valid YAML: collections nested too deeply"


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n"])
def test_config_file_that_is_not_a_mapping(tmp_path, text):
    path = write_yaml(tmp_path, text, name="flat.yaml")
    with pytest.raises(ConfigError, match=r"flat\.yaml: a config file must be a mapping of settings"):
        load_config(config_file=path)


def test_override_float_in_exponent_notation():
    # YAML 1.1 reads 1e-3 (no dot) as a string; the loader still takes it as a float.
    assert load_config(overrides=["training.learning_rate=1e-3"]).training.learning_rate == pytest.approx(0.001)


# --- sections owned by the components, checked once at load_config ------------------------------


def test_data_holds_only_what_one_example_is(defaults):
    assert defaults.as_dict()["data"] == {"image_shape": (28, 28), "num_classes": 10}


@pytest.mark.parametrize("key", ["data.train_images", "data.validation_size"])
def test_ingest_settings_are_not_in_data(key):
    with pytest.raises(
        ConfigError, match=rf"unknown setting '{re.escape(key)}' \(known: data\.image_shape, data\.num_classes\)"
    ):
        load_config(overrides=[f"{key}=1"])


def test_compare_with_blessed_is_gone():
    """The served model is always the baseline; before anything was pushed, the threshold decides."""
    with pytest.raises(ConfigError, match=r"unknown setting 'evaluation\.compare_with_blessed'"):
        load_config(overrides=["evaluation.compare_with_blessed=false"])


@pytest.mark.parametrize(
    "override, key",
    [
        ("training.learning_rate=.nan", "training.learning_rate"),
        ("training.learning_rate=nan", "training.learning_rate"),
        ("evaluation.min_precision_at_1=.inf", "evaluation.min_precision_at_1"),
        ("evaluation.max_precision_at_1_regression=-.inf", "evaluation.max_precision_at_1_regression"),
    ],
)
def test_nan_and_infinity_are_refused_naming_the_key(override, key):
    with pytest.raises(ConfigError, match=rf"^'{re.escape(key)}' must be a finite number, got "):
        load_config(overrides=[override])


def test_nan_in_a_config_file_is_refused_too(tmp_path):
    path = write_yaml(tmp_path, "evaluation:\n  min_precision_at_1: .NaN\n")
    with pytest.raises(ConfigError, match=r"'evaluation\.min_precision_at_1' must be a finite number"):
        load_config(config_file=path)


def test_metadata_grpc_host_is_optional():
    config = load_config(overrides=["metadata.grpc_host=metadata-grpc-service.kubeflow", "metadata.grpc_port=8080"])
    assert (config.metadata.grpc_host, config.metadata.grpc_port) == ("metadata-grpc-service.kubeflow", 8080)
    assert load_config().metadata.grpc_host is None


# --- bounds: every number setting declares the values it may take -------------------------------


def test_every_number_setting_declares_its_bounds():
    """Each decides memory, shapes or time: an absurd value must be refused when the config loads."""
    numbers = number_settings(PipelineConfig)
    assert {"training.hidden_units", "training.seed", "data.num_classes", "metadata.grpc_port"} <= set(numbers)
    assert [key for key, bounds in numbers.items() if bounds is None] == []


@pytest.mark.parametrize(
    "override, message",
    [
        ("data.num_classes=1.0e+23", f"'data.num_classes' must be in 2..256, got {int(1.0e23)}"),
        ("training.train_steps=99999999999999999999", "'training.train_steps' must be in 1..100000000, got "),
        ("training.seed=-1", "'training.seed' must be in 0..4294967295, got -1"),
        ("training.hidden_units=[1000000000]", "'training.hidden_units' must be in 1..65536 each, got [1000000000]"),
        ("data.image_shape=[28, 28, 28]", "'data.image_shape' must have 2 items, got 3"),
        ("metadata.grpc_port=70000", "'metadata.grpc_port' must be in 1..65535, got 70000"),
    ],
)
def test_a_value_out_of_its_bounds_is_refused_naming_the_key_and_the_bounds(override, message):
    with pytest.raises(ConfigError) as error:
        load_config(overrides=[override])
    assert str(error.value).startswith(message)


def test_the_model_and_one_batch_are_bounded_together():
    """Each within its own bounds, together a model of 4 x 4096 x 4096 weights."""
    with pytest.raises(ConfigError) as error:
        load_config(overrides=["training.hidden_units=[4096, 4096, 4096, 4096]"])
    assert str(error.value) == (
        "'training.hidden_units' [4096, 4096, 4096, 4096] with 'training.batch_size' 150 and 'data.image_shape' "
        "[28, 28] make 53,600,266 weights and 2,576,700 activations per batch; together they must be at most 50,000,000"
    )
    with pytest.raises(ConfigError, match=r"and 62,521,344 activations per batch"):
        load_config(overrides=["training.batch_size=65536"])
    load_config(overrides=["training.hidden_units=[4096, 4096]", "training.batch_size=1024"])
