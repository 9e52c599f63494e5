"""The run report's pictures, as PNG data: URIs that an HTML page embeds (it must read offline).

Charts are drawn with matplotlib's object API (Figure, no pyplot): no global state and no GUI
backend, so a report can be written in any thread of a run. Digits are scaled-up grey images
made with Pillow, a few hundred bytes each.
"""

from __future__ import annotations

import base64
import io

import numpy as np
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from PIL import Image

DIGIT_SCALE = 2  # a 28x28 digit shows as 56x56 pixels
DPI = 100
SPLIT_COLORS = {"train": "#4c72b0", "validation": "#dd8452", "test": "#55a868"}
# The training chart's two curves: what the Trainer logs every log_every_steps, and every validation_every_steps.
TRAINING_LABEL = "training batches (mean of each interval)"
VALIDATION_LABEL = "validation split (all of it)"
CORRECT_CMAP = LinearSegmentedColormap.from_list("correct", ["#e8f5e9", "#2e7d32"])
WRONG_CMAP = LinearSegmentedColormap.from_list("wrong", ["#fdecea", "#c62828"])


def digit(image: np.ndarray) -> str:
    """One digit (uint8 [rows, columns], 0 = background) drawn dark on white, scaled up."""
    picture = Image.fromarray(255 - image.astype(np.uint8), mode="L")
    picture = picture.resize((picture.width * DIGIT_SCALE, picture.height * DIGIT_SCALE), Image.Resampling.NEAREST)
    return _png_uri(picture)


def label_mix(counts: dict[str, dict[int, int]]) -> str:
    """Each split's share of every digit, as grouped bars: splits with a different mix stand out."""
    figure = Figure(figsize=(5.6, 2.6), dpi=DPI)
    axes = figure.add_subplot()
    digits = sorted({digit_ for split_counts in counts.values() for digit_ in split_counts})
    width = 0.8 / max(len(counts), 1)
    for position, (split, split_counts) in enumerate(counts.items()):
        total = sum(split_counts.values()) or 1
        shares = [100 * split_counts.get(digit_, 0) / total for digit_ in digits]
        offsets = [d + (position - (len(counts) - 1) / 2) * width for d in range(len(digits))]
        axes.bar(offsets, shares, width, label=split, color=SPLIT_COLORS.get(split))
    axes.set_xticks(range(len(digits)), [str(d) for d in digits])
    axes.set_xlabel("digit")
    axes.set_ylabel("% of the split")
    axes.legend(ncols=len(counts), loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    _tidy(axes)
    return _figure_uri(figure)


def training_curves(train: dict[str, list[tuple[int, float]]], validation: dict[str, list[tuple[int, float]]]) -> str:
    """training_figure, as PNG."""
    return _figure_uri(training_figure(train, validation))


def training_figure(
    train: dict[str, list[tuple[int, float]]], validation: dict[str, list[tuple[int, float]]]
) -> Figure:
    """One small chart per TensorBoard scalar (loss, accuracy) against the training step: the
    training batches' curve and, where the run has one, the validation split's (TensorBoard's
    `train` and `validation` runs). Over-fitting shows as the two parting."""
    figure = Figure(figsize=(7.5, 2.6), dpi=DPI)
    for position, (name, points) in enumerate(train.items(), start=1):
        axes = figure.add_subplot(1, len(train), position)
        for label, split, curve in (
            (TRAINING_LABEL, "train", points),
            (VALIDATION_LABEL, "validation", validation.get(name)),
        ):
            if curve:
                steps, values = zip(*curve)
                axes.plot(steps, values, marker="o", markersize=3, color=SPLIT_COLORS[split], label=label)
        axes.set_title(name.replace("_", " "), fontsize=10)
        axes.set_xlabel("step")
        _tidy(axes)
    handles, labels = figure.axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, ncols=len(labels), loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    return figure


def confusion_matrix(matrix: list[list[int]]) -> str:
    """Counts of (true digit, predicted digit): the diagonal in greens, the mistakes in reds, each
    scaled on its own so that a handful of mistakes stays visible next to thousands of hits."""
    counts = np.array(matrix)
    diagonal = np.eye(len(counts), dtype=bool)
    figure = Figure(figsize=(5.2, 4.8), dpi=DPI)
    axes = figure.add_subplot()
    axes.imshow(np.ma.masked_where(~diagonal, counts), cmap=CORRECT_CMAP, vmin=0, vmax=max(counts.max(), 1))
    worst_mistake = max(int(np.where(diagonal, 0, counts).max()), 1)
    axes.imshow(np.ma.masked_where(diagonal | (counts == 0), counts), cmap=WRONG_CMAP, vmin=0, vmax=worst_mistake)
    for (row, column), count in np.ndenumerate(counts):
        if count:
            dark = diagonal[row, column] or count > 0.6 * worst_mistake
            axes.text(
                column, row, str(count), ha="center", va="center", fontsize=10, color="white" if dark else "black"
            )
    axes.set_xticks(range(len(counts)))
    axes.set_yticks(range(len(counts)))
    axes.set_xlabel("predicted digit")
    axes.set_ylabel("true digit")
    axes.tick_params(length=0)
    return _figure_uri(figure)


def _tidy(axes) -> None:
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", alpha=0.3)


def _figure_uri(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return _data_uri(buffer.getvalue())


def _png_uri(picture: Image.Image) -> str:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    return _data_uri(buffer.getvalue())


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
