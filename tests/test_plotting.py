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


def test_bytes_axis_labels_are_powers_of_two():
    fig, ax = plt.subplots()
    try:
        ax.plot([1, 2], [2**20, 2**30])
        ax.set_yscale("log")
        format_bytes_axis(ax)
        fig.canvas.draw()
        ticks = dict(zip(ax.get_yticks(), (t.get_text() for t in ax.get_yticklabels()),
                         strict=True))
    finally:
        plt.close(fig)
    units = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}
    shown = {v: text for v, text in ticks.items() if 2**20 <= v <= 2**30}
    assert len(shown) >= 2
    for value, text in shown.items():
        number, unit = text.split()
        assert float(number) * units[unit] == value  # the label names the tick exactly
        assert float(value).is_integer() and (int(value) & (int(value) - 1)) == 0
