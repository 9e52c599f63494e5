"""pipeline/inspect/predict.py: every input is read and checked before any model is loaded; a bad input
is one PredictError (or IdxFormatError) naming the file, and a batch goes on past it; pictures are
PNG or JPEG, colour or grey, on a transparent page or not; a served version is checked against its
marker; a model that does not load is one line."""

from __future__ import annotations

import shutil
import sys

import numpy as np
import pytest
from PIL import Image

from components import model_integrity, serving_dir
from components.errors import PipelineError
from components.idx_example_gen.idx import IdxFormatError
from pipeline.inspect.predict import PredictError, load_images, predict_inputs, resolve_model_dir

from support.fake_artifacts import VALIDATION
from support.fake_mnist import png_header, write_idx

DIGITS = np.arange(3 * 28 * 28, dtype=np.uint8).reshape(3, 28, 28)


@pytest.fixture
def png(tmp_path):
    path = tmp_path / "seven.png"
    Image.fromarray(DIGITS[0]).save(path)
    return path


@pytest.fixture
def model_dir(tmp_path):
    """Looks like a SavedModel to resolve_model_dir; never loaded."""
    path = tmp_path / "model"
    path.mkdir()
    (path / "saved_model.pb").write_bytes(b"not read")
    return path


def test_a_png_is_one_grayscale_image_named_by_its_path(png):
    images = load_images(png, limit=10)
    assert images.names == [str(png)]
    assert images.pixels.shape == (1, 28, 28) and images.pixels.dtype == np.uint8
    assert np.array_equal(images.pixels[0], DIGITS[0])


def test_a_colour_png_is_converted_to_grayscale(tmp_path):
    path = tmp_path / "colour.PNG"
    Image.fromarray(np.stack([DIGITS[1]] * 3, axis=-1), mode="RGB").save(path)
    assert np.array_equal(load_images(path, 1).pixels[0], DIGITS[1])


@pytest.mark.parametrize("compress", [False, True])
def test_an_idx_file_gives_its_first_limit_images(tmp_path, compress):
    path = write_idx(tmp_path / "images-idx3-ubyte", DIGITS, compress=compress)
    images = load_images(path, limit=2)
    assert images.names == ["images-idx3-ubyte[0]", "images-idx3-ubyte[1]"]
    assert np.array_equal(images.pixels, DIGITS[:2])
    assert len(load_images(path, limit=10).names) == 3


@pytest.mark.parametrize(
    "name, content, problem",
    [
        ("empty.png", b"", "not a readable PNG image"),
        ("text.png", b"this is not an image", "not a readable PNG image"),
        ("idx.png", bytes(16), "not a readable PNG image"),
    ],
)
def test_a_png_that_is_not_an_image_is_named(tmp_path, name, content, problem):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(PredictError, match=rf"^{path}: {problem}"):
        load_images(path, 1)


def test_a_directory_is_named(tmp_path):
    with pytest.raises(PredictError, match=rf"^{tmp_path}: a directory, not a file$"):
        load_images(tmp_path, 1)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(PredictError, match=rf"^{tmp_path / 'missing.png'}: file not found$"):
        load_images(tmp_path / "missing.png", 1)


def test_an_idx_file_without_images_is_named(tmp_path):
    path = write_idx(tmp_path / "none-idx3-ubyte", np.zeros((0, 28, 28), np.uint8), compress=False)
    with pytest.raises(PredictError, match=r"none-idx3-ubyte: the file holds no images"):
        load_images(path, 1)


def test_a_labels_file_is_not_images(tmp_path):
    path = write_idx(tmp_path / "labels-idx1-ubyte", np.arange(3, dtype=np.uint8), compress=False)
    with pytest.raises(
        IdxFormatError, match=r"labels-idx1-ubyte: magic number .* says 1 dimensions, expected 3"
    ) as error:
        load_images(path, 1)
    assert isinstance(error.value, PipelineError)


@pytest.fixture
def no_decoding(monkeypatch):
    """Decoding a picture's pixels fails the test: a picture too large is refused before."""
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("the pixels were decoded"))


@pytest.mark.parametrize(
    "width, height, size",
    [
        (12000, 12000, "of 12000x12000 pixels"),  # took 4.1 GB before "no digit found"
        (4097, 4096, "of 4097x4096 pixels"),
        (20000, 20000, "of over 178,956,970 pixels"),  # PIL's DecompressionBombError, a traceback
    ],
)
def test_a_picture_too_large_is_refused_in_one_line_before_its_pixels_are_decoded(
    tmp_path, no_decoding, width, height, size
):
    path = png_header(tmp_path / "large.png", width, height)
    with pytest.raises(PredictError) as error:
        load_images(path, 1)
    assert str(error.value) == (
        f"{path}: a picture {size}; predict reads at most 16,777,216 pixels (4096x4096) of a file: scale it down"
    )


def test_a_picture_at_the_bound_is_decoded(tmp_path):
    path = png_header(tmp_path / "large.png", 4096, 4096)
    with pytest.raises(PredictError, match=r": not a readable PNG image \("):  # it holds no pixels
        load_images(path, 1)


def test_more_idx_images_than_predict_reads_at_once_is_refused_naming_the_limit(tmp_path):
    path = write_idx(tmp_path / "large-idx3-ubyte.gz", np.zeros((3, 3000, 3000), np.uint8))
    assert len(load_images(path, limit=1).names) == 1
    with pytest.raises(PredictError) as error:
        load_images(path, limit=2)
    assert str(error.value) == (
        f"{path}: 2 images of 3000x3000 are 18,000,000 pixels; predict reads at most 16,777,216 pixels "
        "(4096x4096) of a file: give a lower --limit"
    )


def test_limit_must_be_positive(png):
    with pytest.raises(PredictError, match=r"--limit must be at least 1, got 0"):
        load_images(png, 0)


def test_a_savedmodel_dir_is_used_as_is(model_dir):
    assert resolve_model_dir(model_dir) == model_dir


def push(version_dir):
    """A version as the Pusher leaves it: a SavedModel and its marker."""
    version_dir.mkdir(parents=True)
    (version_dir / "saved_model.pb").write_bytes(b"graph")
    serving_dir.write_marker(str(version_dir), "/model", model_integrity.manifest(str(version_dir)), VALIDATION)
    return version_dir


def test_a_serving_dir_resolves_to_its_newest_version(tmp_path):
    for version in (3, 12):
        push(tmp_path / "serving" / str(version))
    assert resolve_model_dir(tmp_path / "serving") == tmp_path / "serving" / "12"


@pytest.mark.parametrize("given", ["serving dir", "version"])
def test_a_damaged_served_version_is_named_in_one_line(tmp_path, given):
    version_dir = push(tmp_path / "serving" / "12")
    (version_dir / "saved_model.pb").write_bytes(b"graph, changed")
    with pytest.raises(serving_dir.DamagedVersion, match=rf"^{version_dir}/saved_model.pb differs from what its push"):
        resolve_model_dir(tmp_path / "serving" if given == "serving dir" else version_dir)


def test_a_corrupt_marker_is_named_in_one_line(tmp_path):
    version_dir = push(tmp_path / "serving" / "12")
    (version_dir / serving_dir.MARKER_FILE).write_text('{"model_uri": ')
    with pytest.raises(serving_dir.DamagedVersion, match=rf"^{version_dir / serving_dir.MARKER_FILE} is unreadable"):
        resolve_model_dir(tmp_path / "serving")


@pytest.mark.parametrize("name", ["missing", "empty"])
def test_neither_a_savedmodel_nor_a_serving_dir_is_named(tmp_path, name):
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        PredictError, match=rf"{tmp_path / name}: neither a SavedModel nor a folder of numbered model versions"
    ):
        resolve_model_dir(tmp_path / name)


def test_every_input_is_checked_before_tensorflow_is_touched(model_dir, png, tmp_path, monkeypatch):
    """Inputs are read before the model loads, and none readable loads no model: with TensorFlow
    unimportable, each bad input is its own failed line, not an ImportError."""
    bad, missing = tmp_path / "bad.png", tmp_path / "missing.png"
    bad.write_bytes(b"")
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # `import tensorflow` now raises ImportError
    lines = list(predict_inputs(model_dir, [bad, missing], limit=10))
    assert [line.failed for line in lines] == [True, True]
    assert lines[0].text.startswith(f"{bad}: not a readable PNG image")
    assert lines[1].text == f"{missing}: file not found"
    with pytest.raises(PredictError, match="neither a SavedModel"):
        list(predict_inputs(tmp_path / "no-model", [png], limit=10))


def test_with_good_inputs_the_model_is_loaded_next(model_dir, png, monkeypatch):
    """The counterpart of the test above: good inputs do reach the model loading."""
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    with pytest.raises(ImportError):
        list(predict_inputs(model_dir, [png], limit=10))


@pytest.fixture
def background_model(tmp_path):
    """A SavedModel whose predict_images says 1 when the image's corner is black (MNIST's
    background), else 0; it takes 28x28 images."""
    import tensorflow as tf

    class BackgroundModel(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 28, 28], tf.uint8, name="images")])
        def predict_images(self, images):
            black = tf.cast(images[:, 0, 0] == 0, tf.int64)
            return {"classes": black, "probabilities": tf.one_hot(black, 10)}

    model = BackgroundModel()
    path = tmp_path / "background_model"
    tf.saved_model.save(model, str(path), signatures={"predict_images": model.predict_images})
    return path


def test_a_picture_of_any_size_reaches_the_model_as_an_mnist_digit(background_model, tmp_path):
    picture = np.full((280, 280), 255, dtype=np.uint8)  # dark ink on white paper, ten times MNIST's size
    picture[40:240, 120:160] = 0
    Image.fromarray(picture).save(tmp_path / "one.png")
    Image.fromarray(255 - picture).save(tmp_path / "one-light.png")
    lines = texts(predict_inputs(background_model, [tmp_path / "one.png", tmp_path / "one-light.png"], limit=1))
    assert lines[1:] == [
        f"{tmp_path / 'one.png'}: 1 (p=1.000) (inverted)",
        f"{tmp_path / 'one-light.png'}: 1 (p=1.000)",
        "(inverted: a dark digit on a light background, turned light on dark as MNIST's digits are)",
    ]


def texts(lines) -> list[str]:
    return [("error: " if line.failed else "") + line.text for line in lines]


def test_a_blank_picture_is_named(background_model, tmp_path):
    Image.fromarray(np.full((28, 28), 255, dtype=np.uint8)).save(tmp_path / "blank.png")
    assert texts(predict_inputs(background_model, [tmp_path / "blank.png"], limit=1))[1:] == [
        f"error: {tmp_path / 'blank.png'}: no digit found: nothing stands out from the background"
    ]


def test_a_batch_goes_on_past_a_bad_file_and_explains_inverted_once(background_model, tmp_path):
    picture = np.full((56, 56), 255, dtype=np.uint8)
    picture[8:48, 24:32] = 0
    for name in ("a.png", "c.png"):
        Image.fromarray(picture).save(tmp_path / name)
    (tmp_path / "bad.png").write_bytes(b"")
    Image.fromarray(np.full((28, 28), 255, dtype=np.uint8)).save(tmp_path / "blank.png")
    inputs = [tmp_path / name for name in ("a.png", "bad.png", "blank.png", "c.png")]
    lines = texts(predict_inputs(background_model, inputs, limit=1))
    assert lines[0] == f"Model: {background_model}"
    assert lines[1] == f"{tmp_path / 'a.png'}: 1 (p=1.000) (inverted)"
    assert lines[2].startswith(f"error: {tmp_path / 'bad.png'}: not a readable PNG image (")
    assert lines[3] == f"error: {tmp_path / 'blank.png'}: no digit found: nothing stands out from the background"
    assert lines[4:] == [
        f"{tmp_path / 'c.png'}: 1 (p=1.000) (inverted)",
        "(inverted: a dark digit on a light background, turned light on dark as MNIST's digits are)",
    ]


def canvas_drawing(white_strokes: bool = False) -> Image.Image:
    """What an HTML canvas exports: strokes in the opacity alone, on a transparent page."""
    alpha = np.zeros((200, 200), dtype=np.uint8)
    alpha[30:170, 90:110] = 255
    colour = np.full((200, 200, 3), 255 if white_strokes else 0, dtype=np.uint8)
    return Image.fromarray(np.dstack([colour, alpha]), mode="RGBA")


@pytest.mark.parametrize("white_strokes", [False, True])
def test_a_drawing_on_a_transparent_page_is_read_by_its_strokes(background_model, tmp_path, white_strokes):
    canvas_drawing(white_strokes).save(tmp_path / "canvas.png")
    assert texts(predict_inputs(background_model, [tmp_path / "canvas.png"], limit=1))[1].startswith(
        f"{tmp_path / 'canvas.png'}: 1 (p=1.000)"
    )


def test_a_transparent_drawing_reaches_the_model_as_its_strokes_on_black(tmp_path):
    canvas_drawing().save(tmp_path / "canvas.png")
    pixels = load_images(tmp_path / "canvas.png", 1).pixels[0]
    assert pixels[0, 0] == 255 and pixels[100, 100] == 0  # dark strokes on white paper, as the app shows them
    canvas_drawing(white_strokes=True).save(tmp_path / "white.png")
    assert np.array_equal(
        load_images(tmp_path / "white.png", 1).pixels[0], np.asarray(canvas_drawing().getchannel("A"))
    )


@pytest.mark.parametrize("name", ["digit.jpg", "digit.jpeg", "photo"])  # by content, whatever its name
def test_a_jpeg_is_a_picture(tmp_path, name):
    picture = np.full((60, 60, 3), (250, 240, 200), dtype=np.uint8)  # ink on yellowish paper
    picture[10:50, 25:35] = (20, 20, 120)
    Image.fromarray(picture).save(tmp_path / name, format="JPEG", quality=95)
    images = load_images(tmp_path / name, 1)
    assert images.is_picture and images.pixels.shape == (1, 60, 60)
    assert images.pixels[0, 0, 0] > 200 and images.pixels[0, 30, 30] < 60


@pytest.mark.parametrize("name", ["digit.gif", "digit.bmp"])
def test_another_format_is_named_with_the_formats_predict_reads(tmp_path, name):
    Image.fromarray(DIGITS[0]).save(tmp_path / name)
    with pytest.raises(PredictError) as error:
        load_images(tmp_path / name, 1)
    assert str(error.value) == (
        f"{tmp_path / name}: neither a picture nor an IDX file; predict reads PNG and JPEG pictures and IDX "
        "image files (gzipped or not)"
    )


def test_a_broken_jpeg_is_named_as_one(tmp_path):
    (tmp_path / "digit.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut short")
    with pytest.raises(PredictError, match=rf"^{tmp_path / 'digit.jpg'}: not a readable JPEG image \("):
        load_images(tmp_path / "digit.jpg", 1)


def test_a_model_without_its_variables_is_one_line(tmp_path, png):
    import tensorflow as tf

    class Weighted(tf.Module):
        def __init__(self):
            self.weight = tf.Variable(1.0)

        @tf.function(input_signature=[tf.TensorSpec([None, 28, 28], tf.uint8, name="images")])
        def predict_images(self, images):
            classes = tf.zeros_like(images[:, 0, 0], tf.int64)
            return {"classes": classes, "probabilities": tf.one_hot(classes, 10) * self.weight}

    model, path = Weighted(), tmp_path / "weighted"
    tf.saved_model.save(model, str(path), signatures={"predict_images": model.predict_images})
    shutil.rmtree(path / "variables")
    with pytest.raises(PredictError) as refused:
        list(predict_inputs(path, [png], limit=1))
    assert str(refused.value).startswith(f"{path}: the SavedModel does not load: ")
    assert "variables" in str(refused.value) and "\n" not in str(refused.value)
