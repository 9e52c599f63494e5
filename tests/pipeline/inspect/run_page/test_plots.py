"""pipeline/inspect/run_page/plots.py: the training chart draws the validation curve beside the
training curve, one chart per scalar, with a legend that says which is which."""

from __future__ import annotations

from pipeline.inspect.run_page import plots

TRAIN = {"loss": [(20, 1.0), (40, 0.5), (60, 0.3)], "accuracy": [(20, 0.6), (40, 0.8), (60, 0.9)]}
VALIDATION = {"loss": [(20, 1.1), (40, 0.7), (60, 0.8)], "accuracy": [(20, 0.5), (40, 0.7), (60, 0.7)]}


def curves_drawn(figure) -> dict[str, dict[str, list[list[float]]]]:
    """Chart title -> line label -> its (step, value) points."""
    return {
        axes.get_title(): {line.get_label(): line.get_xydata().tolist() for line in axes.get_lines()}
        for axes in figure.axes
    }


def test_each_scalar_shows_its_training_and_validation_curves_with_a_legend():
    figure = plots.training_figure(TRAIN, VALIDATION)
    assert curves_drawn(figure) == {
        name: {
            plots.TRAINING_LABEL: [list(point) for point in TRAIN[name]],
            plots.VALIDATION_LABEL: [list(point) for point in VALIDATION[name]],
        }
        for name in ("loss", "accuracy")
    }
    [legend] = figure.legends
    assert [text.get_text() for text in legend.get_texts()] == [
        plots.TRAINING_LABEL,
        plots.VALIDATION_LABEL,
    ]


def test_a_run_without_validation_shows_the_training_curves_alone():
    """A run made before the validation curve, or with validation_every_steps beyond train_steps."""
    figure = plots.training_figure(TRAIN, {})
    assert curves_drawn(figure) == {
        name: {plots.TRAINING_LABEL: [list(point) for point in TRAIN[name]]} for name in ("loss", "accuracy")
    }
    assert plots.training_curves(TRAIN, {}).startswith("data:image/png;base64,")
