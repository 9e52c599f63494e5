"""pipeline/kubeflow/settings.py: the `kubeflow` section, checked for `compile` and `submit`."""

from __future__ import annotations

import pytest

from pipeline.config import ConfigError, load_config
from pipeline.kubeflow.settings import KubeflowConfig, load_kubeflow_config

from support.settings_bounds import number_settings


def test_the_section_is_checked_for_the_commands_that_read_it_only():
    """The core config may not import pipeline/kubeflow/: it holds the section as a mapping, with
    no key configs/pipeline.yaml does not have."""
    override = "kubeflow.retry.max_retries=1000"
    assert load_config(overrides=[override]).kubeflow["retry"]["max_retries"] == 1000
    with pytest.raises(ConfigError) as error:
        load_kubeflow_config(overrides=[override])
    assert str(error.value) == "'kubeflow.retry.max_retries' must be in 0..100, got 1000"
    with pytest.raises(ConfigError, match=r"^--set kubeflow\.retry\.tries=1: unknown setting 'kubeflow\.retry\.tries'"):
        load_config(overrides=["kubeflow.retry.tries=1"])


def test_the_other_sections_are_load_configs(tmp_path):
    path = tmp_path / "user.yaml"
    path.write_text("training:\n  batch_size: 50\n")
    config, core = load_kubeflow_config(path, ["training.seed=7"]), load_config(path, ["training.seed=7"])
    assert (config.training.batch_size, config.training.seed) == (50, 7)
    assert {**config.as_dict(), "kubeflow": None} == {**core.as_dict(), "kubeflow": None}
    with pytest.raises(ConfigError, match=r"^'training\.batch_size' must be in 1\.\.65536, got 0$"):
        load_kubeflow_config(overrides=["training.batch_size=0"])


@pytest.mark.parametrize(
    "override, message",
    [
        (
            "kubeflow.task_env=[AWS_REGION]",
            "'kubeflow.task_env' expected NAME=VALUE with a variable name, got 'AWS_REGION'",
        ),
        (
            "kubeflow.task_env=['not a name=1']",
            "'kubeflow.task_env' expected NAME=VALUE with a variable name, got 'not a name=1'",
        ),
        (
            "kubeflow.task_secret_env=[KEY=just-a-secret]",
            "'kubeflow.task_secret_env' expected NAME=SECRET/KEY, got 'KEY=just-a-secret'",
        ),
        ("kubeflow.task_secret_env=[KEY=/key]", "'kubeflow.task_secret_env' expected NAME=SECRET/KEY, got 'KEY=/key'"),
        (
            "kubeflow.beam_pipeline_args=[--direct_num_workers=2]",
            "'kubeflow.beam_pipeline_args' must not set --direct_num_workers=2: "
            "each Beam task runs one worker per core of its cpu_limit",
        ),
        ("kubeflow.image=[a]", "'kubeflow.image' must be of type str, got ['a']"),
        (
            "kubeflow.trainer_accelerator={type: ' ', count: 1}",
            "'kubeflow.trainer_accelerator.type' must name a resource, e.g. nvidia.com/gpu",
        ),
        ("kubeflow.retry.window_seconds=60", "'kubeflow.retry.window_seconds' must be > backoff_seconds, got 60"),
        (
            "kubeflow.resources.Trainer={cpu_request: 2, cpu_limit: 1, memory_request_gb: 9, memory_limit_gb: 8}",
            "'kubeflow.resources.Trainer.cpu_request' must not exceed cpu_limit, got 2.0 > 1.0; "
            "'kubeflow.resources.Trainer.memory_request_gb' must not exceed memory_limit_gb, got 9.0 > 8.0",
        ),
        (
            "kubeflow.resources.Trainer.cpu_limit=0",
            "'kubeflow.resources.Trainer.cpu_limit' must be > 0 and <= 1024, got 0.0",
        ),
    ],
)
def test_a_bad_value_is_one_line_naming_its_key(override, message):
    with pytest.raises(ConfigError) as error:
        load_kubeflow_config(overrides=[override])
    assert str(error.value) == message


def test_task_env_is_parsed_into_names_and_values():
    config = load_kubeflow_config(
        overrides=[
            "kubeflow.task_env=[AWS_REGION=us-east-1, 'URL=http://a?b=c']",
            "kubeflow.task_secret_env=[AWS_ACCESS_KEY_ID=minio/accesskey]",
        ]
    )
    assert config.kubeflow.env() == [("AWS_REGION", "us-east-1"), ("URL", "http://a?b=c")]
    assert config.kubeflow.secret_env() == [("AWS_ACCESS_KEY_ID", "minio", "accesskey")]


def test_storage_uris_are_named_by_setting_and_flag():
    uris = load_kubeflow_config(overrides=["kubeflow.data_dir=s3://b/data"]).kubeflow.storage_uris()
    assert uris["kubeflow.data_dir (--data-dir)"] == "s3://b/data"
    assert set(uris) == {
        "kubeflow.pipeline_root (--pipeline-root)",
        "kubeflow.data_dir (--data-dir)",
        "kubeflow.serving_dir (--serving-dir)",
    }


def test_every_number_setting_declares_its_bounds():
    numbers = number_settings(KubeflowConfig)
    kubeflow = {key.removeprefix("kubeflow.") for key in numbers if key.startswith("kubeflow.")}
    assert {"retry.max_retries", "resources.cpu_limit", "trainer_accelerator.count"} <= kubeflow
    assert [key for key, bounds in numbers.items() if bounds is None] == []
