"""Axis helpers of convbench.plotting."""

import matplotlib as mpl
import pytest

mpl.use("Agg")

import matplotlib.pyplot as plt

from convbench.plotting import format_bytes_axis


@pytest.mark.parametrize(
    ("low", "high"),
    [(100 * 2**20, 900 * 2**20), (3 * 2**10, 5 * 2**30), (2**30, 1.5 * 2**30)],
)
def test_bytes_axis_labels_ticks_inside_the_range(low, high):
    fig, ax = plt.subplots()
    try:
        ax.plot([1, 2], [low, high])
        ax.set_yscale("log")
        format_bytes_axis(ax)
        fig.canvas.draw()
        lo, hi = ax.get_ylim()
        shown = [
            t.get_text()
            for t, v in zip(ax.get_yticklabels(), ax.get_yticks(), strict=True)
            if lo <= v <= hi and t.get_text()
        ]
    finally:
        plt.close(fig)
    assert len(shown) >= 1
    assert all(text.split()[-1] in {"B", "KiB", "MiB", "GiB", "TiB"} for text in shown)


def test_bytes_axis_names_units():
    fig, ax = plt.subplots()
    try:
        ax.plot([1, 2], [2**20, 2**30])
        ax.set_yscale("log")
        format_bytes_axis(ax)
        fig.canvas.draw()
        labels = {t.get_text() for t in ax.get_yticklabels()}
    finally:
        plt.close(fig)
    assert "1 MiB" in labels
    assert "1 GiB" in labels
