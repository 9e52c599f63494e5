"""The whole pipeline on real MNIST, as `make run` runs it: ingest to pushed model.

One default run is shared by the tests of this module; more runs in the same output dir check
the comparison with the served model, the cache, and that a weak model is neither blessed nor
pushed.
"""

from __future__ import annotations

import gzip
import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from components.idx_example_gen import idx

from conftest import newest_summary, run_cli
from support.fake_mnist import FILE_NAMES

pytestmark = pytest.mark.e2e

FILES = {role: f"{name}.gz" for role, name in FILE_NAMES.items()}  # as ../shared/data/mnist holds them


@pytest.fixture(scope="module")
def mnist_run(real_mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The default pipeline on real MNIST: (output dir, run summary)."""
    output = tmp_path_factory.mktemp("mnist_e2e")
    assert run_cli("run", "--data-dir", real_mnist_dir, "--output-dir", output) == 0
    return output, newest_summary(output)


def test_ingest_writes_the_three_splits_with_input_checksums(mnist_run, real_mnist_dir):
    output, _ = mnist_run
    [examples] = _artifacts(output, "Examples")
    properties = examples.properties
    assert (
        properties["num_examples_train"],
        properties["num_examples_validation"],
        properties["num_examples_test"],
    ) == (55000, 5000, 10000)
    for role, name in FILES.items():
        content = gzip.decompress((real_mnist_dir / name).read_bytes())
        assert properties[f"input_sha256_{role}"] == hashlib.sha256(content).hexdigest()
        assert properties[f"input_file_{role}"] == name


def test_validation_finds_no_anomaly(mnist_run):
    from tensorflow_data_validation.utils import anomalies_util

    output, summary = mnist_run
    statuses = {c["component"]: c["status"] for c in summary["components"]}
    assert statuses["DataGate"] == "ran"
    reports = sorted((output / "pipeline").glob("*Validator/anomalies/*/Split-*/SchemaDiff.pb"))
    assert len(reports) == 5  # ExampleValidator: 3 splits; SplitValidator: validation and test
    for report in reports:
        assert not anomalies_util.load_anomalies_binary(str(report)).anomaly_info, report


def test_default_model_reaches_0980_and_is_pushed(mnist_run):
    output, summary = mnist_run
    assert summary["examples"] == {"train": 55000, "validation": 5000, "test": 10000}
    assert summary["trainer_precision_at_1"]["test"]["num_examples"] == 10000
    assert summary["evaluation"]["test"]["precision_at_1"] >= 0.980
    assert summary["evaluation"]["validation"]["examples"] == 5000
    assert len(summary["evaluation"]["test"]["precision_at_1_per_digit"]) == 10
    assert summary["blessing"]["blessed"] is True
    pushed = Path(summary["pushed"]["destination"])
    assert pushed.parent == output / "serving" and (pushed / "saved_model.pb").is_file()


def test_pushed_model_serves_both_signatures(mnist_run, real_mnist_dir):
    import tensorflow as tf

    output, summary = mnist_run
    model = tf.saved_model.load(summary["pushed"]["destination"])
    images = _first_records(real_mnist_dir / FILES["test_images"], 3, 1000)
    labels = _first_records(real_mnist_dir / FILES["test_labels"], 1, 1000)

    by_images = model.signatures["predict_images"](images=tf.constant(images))
    examples = [_example(image, label) for image, label in zip(images, labels)]
    by_examples = model.signatures["serving_default"](examples=tf.constant(examples))

    assert by_images["probabilities"].shape == (1000, 10)
    np.testing.assert_array_equal(by_images["classes"].numpy(), by_examples["classes"].numpy())
    assert np.mean(by_images["classes"].numpy() == labels) >= 0.95


def test_predict_reads_png_and_idx_files(mnist_run, real_mnist_dir, tmp_path, capsys):
    from PIL import Image

    output, _ = mnist_run
    images = _first_records(real_mnist_dir / FILES["test_images"], 3, 3)
    labels = _first_records(real_mnist_dir / FILES["test_labels"], 1, 3)
    Image.fromarray(images[0]).save(tmp_path / "digit.png")
    capsys.readouterr()
    assert (
        run_cli(
            "predict",
            "--model",
            output / "serving",
            tmp_path / "digit.png",
            real_mnist_dir / FILES["test_images"],
            "--limit",
            "3",
        )
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Model: ")
    predicted = [int(line.split(": ")[1].split()[0]) for line in lines[1:]]
    assert predicted == [labels[0], *labels[:3]]
    assert lines[2].startswith(f"{FILES['test_images']}[0]: ")


@pytest.mark.parametrize("size", [28, 280])
def test_predict_reads_digits_drawn_dark_on_light_at_any_size(mnist_run, real_mnist_dir, tmp_path, capsys, size):
    """Test digits saved as people draw them (black on white), at MNIST's size and ten times it,
    are prepared as MNIST's digits and read nearly as well as the test split itself."""
    from PIL import Image

    count = 100
    images = _first_records(real_mnist_dir / FILES["test_images"], 3, count)
    labels = _first_records(real_mnist_dir / FILES["test_labels"], 1, count)
    paths = []
    for index, image in enumerate(images):
        picture = Image.fromarray(255 - image).resize((size, size), Image.Resampling.BILINEAR)
        picture.save(tmp_path / f"{index}.png")
        paths.append(tmp_path / f"{index}.png")
    capsys.readouterr()
    assert run_cli("predict", "--output-dir", mnist_run[0], *paths) == 0
    *lines, explanation = capsys.readouterr().out.splitlines()[1:]
    assert all(line.endswith(" (inverted)") for line in lines)
    assert explanation.startswith("(inverted: a dark digit on a light background")
    predicted = np.array([int(line.split(": ")[1].split()[0]) for line in lines])
    assert np.mean(predicted == labels) >= 0.95


def test_tensorboard_reads_the_training_logs(mnist_run):
    """The README's TensorBoard command works: it starts and finds the loss and accuracy scalars
    of the training batches and of the validation split, under the id of the run that trained the model."""
    output, summary = mnist_run
    result = subprocess.run(
        [str(Path(sys.executable).with_name("tensorboard")), "--inspect", "--logdir", output / "tensorboard"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for run in ("train", "validation"):
        assert f"tensorboard/{summary['run_id']}/{run}" in result.stdout, result.stdout[-2000:]
    assert "loss" in result.stdout and "accuracy" in result.stdout, result.stdout[-2000:]


def test_rerun_checks_against_the_served_model_then_is_fully_cached(mnist_run, real_mnist_dir):
    """The first rerun finds its own model served now: it compares with it and records the same
    version again; from then on nothing changed and every component is cached."""
    output, first = mnist_run
    assert run_cli("run", "--data-dir", real_mnist_dir, "--output-dir", output) == 0
    second = newest_summary(output)
    assert second["run_id"] != first["run_id"]
    statuses = {c["component"]: c["status"] for c in second["components"]}
    assert {node for node, status in statuses.items() if status == "ran"} == {
        "ServingProbe",
        "ServedModel",
        "Evaluator-validation",
        "Pusher",
    }, statuses
    assert second["blessing"]["baseline"]["served_version"] == int(first["pushed"]["version"])
    assert second["pushed"]["destination"] == first["pushed"]["destination"]  # not pushed twice

    assert run_cli("run", "--data-dir", real_mnist_dir, "--output-dir", output) == 0
    third = newest_summary(output)
    assert {c["status"] for c in third["components"]} == {"cached"}, third["components"]
    assert "cached: decided in run " + second["run_id"] in third["blessing"]["reason"]


def test_weak_model_is_neither_blessed_nor_pushed(mnist_run, real_mnist_dir):
    output, first = mnist_run
    versions_before = sorted(p.name for p in (output / "serving").iterdir())
    assert run_cli("run", "--data-dir", real_mnist_dir, "--output-dir", output, "--set", "training.train_steps=1") == 0
    weak = newest_summary(output)
    statuses = {c["component"]: c["status"] for c in weak["components"]}
    assert {statuses[node] for node in ("IdxExampleGen", "StatisticsGen", "ExampleValidator", "DataGate")} == {"cached"}
    assert statuses["Trainer"] == statuses["Evaluator-validation"] == "ran"
    assert weak["evaluation"]["validation"]["precision_at_1"] < 0.95  # still reported
    assert weak["blessing"]["blessed"] is False
    # The floor: the threshold (0.95), raised to the best served less the tolerance (0.01).
    assert (
        "below 0.97" in weak["blessing"]["reason"]
        and "the best served on this validation data" in weak["blessing"]["reason"]
    )
    assert weak["blessing"]["baseline"]["served_version"] == int(first["pushed"]["version"])  # compared with production
    assert weak["pushed"]["pushed"] is False
    assert sorted(p.name for p in (output / "serving").iterdir()) == versions_before


def _artifacts(output: Path, type_name: str):
    from pipeline.inspect import store as inspect_store

    store = inspect_store.open_store(output / "metadata.sqlite")
    return inspect_store.artifacts_of_type(store, type_name)


def _first_records(path: Path, dims: int, count: int) -> np.ndarray:
    return next(idx.iter_records(str(path), dims, 0, count, chunk_records=count))


def _example(image: np.ndarray, label: int) -> bytes:
    import tensorflow as tf

    feature = {
        "image": tf.train.Feature(int64_list=tf.train.Int64List(value=image.reshape(-1).tolist())),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()
