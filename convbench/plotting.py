"""Shared look of the figures: one fixed colour per path and model, and small helpers.

Every notebook draws with these, so a path has the same colour and marker in every
figure. This module needs matplotlib (the ``notebooks`` extra); ``import convbench``
does not import it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np

from . import registry

__all__ = [
    "BOUNDARY_STYLES",
    "FIGURES_ENV_VAR",
    "MODEL_COLORS",
    "PATHS",
    "PATH_COLORS",
    "PATH_LABELS",
    "PATH_MARKERS",
    "figures_dir",
    "format_bytes_axis",
    "palette",
    "save_figure",
    "slope_guides",
    "use_style",
]

#: The singular-value paths, in the order legends list them (the registry's order).
PATHS = registry.names()
#: One colour per path, from its registry entry (Okabe-Ito colour-blind safe colours,
#: plus wine for ``fast``).
PATH_COLORS = {name: registry.get(name).color for name in PATHS}
#: One marker per path, so figures stay readable in grey scale.
PATH_MARKERS = {name: registry.get(name).marker for name in PATHS}
#: Legend labels of the paths.
PATH_LABELS = {name: registry.get(name).label for name in PATHS}

#: Colours of the zero-padding approximation models and of the exact spectra.
#: ``circular`` approximates the zero-padded spectrum by the periodic one, so it shares
#: the periodic colour.
MODEL_COLORS = {
    "zero": "#009E73",
    "exact": "#009E73",
    "periodic": "#CC79A7",
    "circular": "#CC79A7",
    "mixture": "#999933",
    "mixture_top": "#56B4E9",
    "best": "#56B4E9",
    "bound": "#332288",
}
#: Line styles of the boundary conditions (as in the paper: dashed zero padding,
#: dash-dotted periodic).
BOUNDARY_STYLES = {
    "zero": {"color": MODEL_COLORS["zero"], "linestyle": "--", "label": "zero padding"},
    "periodic": {"color": MODEL_COLORS["periodic"], "linestyle": "-.", "label": "periodic"},
}


def palette(keys: Iterable[str] | None = None) -> dict[str, str]:
    """Colours for ``keys`` (paths or models), e.g. as seaborn's ``palette=``.

    Raises
    ------
    KeyError
        For a key with no fixed colour, so no figure silently invents one.
    """
    # a method registered after import has its colour too
    colors = {**{m: registry.get(m).color for m in registry.names()}, **MODEL_COLORS}
    if keys is None:
        return colors
    out = {}
    for key in keys:
        if key not in colors:
            raise KeyError(f"no fixed colour for {key!r}; known: {sorted(colors)}")
        out[key] = colors[key]
    return out


def use_style() -> None:
    """Matplotlib settings shared by every figure (sizes, grid, reproducible SVG)."""
    mpl.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 150,
            "savefig.bbox": "tight",
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "legend.frameon": False,
            "font.size": 10,
            "axes.titlesize": 11,
            "figure.titlesize": 12,
            "svg.hashsalt": "convbench",
            "svg.fonttype": "none",
        }
    )


#: Environment variable that redirects :func:`figures_dir` (tests write to a scratch folder).
FIGURES_ENV_VAR = "CONVBENCH_FIGURES_DIR"


def figures_dir(start: str | os.PathLike[str] | None = None) -> Path:
    """Where figures go: ``$CONVBENCH_FIGURES_DIR`` if set, else ``notebooks/figures``
    of the enclosing checkout (created if missing)."""
    env = os.environ.get(FIGURES_ENV_VAR)
    if env:
        out = Path(env)
        out.mkdir(parents=True, exist_ok=True)
        return out
    here = Path(start if start is not None else os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "notebooks").is_dir() and (folder / "pyproject.toml").is_file():
            out = folder / "notebooks" / "figures"
            out.mkdir(parents=True, exist_ok=True)
            return out
    raise FileNotFoundError(f"no checkout with notebooks/ above {here}")


def save_figure(
    fig: Any,
    name: str,
    directory: str | os.PathLike[str] | None = None,
    formats: Sequence[str] = ("png", "svg"),
) -> list[Path]:
    """Write ``fig`` as ``<directory>/<name>.png`` and ``.svg`` without volatile metadata.

    Returns
    -------
    list of pathlib.Path
        The written files.
    """
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"name must be a plain file stem; got {name!r}")
    folder = Path(directory) if directory is not None else figures_dir()
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        path = folder / f"{name}.{fmt}"
        metadata = {"Date": None} if fmt == "svg" else {"Software": None} if fmt == "png" else None
        fig.savefig(path, format=fmt, metadata=metadata)
        written.append(path)
    return written


def slope_guides(
    ax: Any,
    n: Sequence[float] | np.ndarray,
    anchor: float,
    *,
    labels: bool = True,
) -> None:
    """Draw ``n^2`` and ``n^2 log n`` guide lines on a log-log axis.

    Both pass through ``(n[0], anchor)``, so their slopes can be compared with the
    data that starts there.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Log-log axes.
    n : array_like
        Input sizes spanned by the guides (at least two positive values).
    anchor : float
        Value of both guides at ``min(n)``.
    labels : bool
        Label the guides (for the legend).
    """
    x = np.unique(np.asarray(n, dtype=float))
    if x.size < 2 or x[0] <= 1 or not np.isfinite(anchor) or anchor <= 0:
        return
    x = np.geomspace(x[0], x[-1], 50)
    quad = anchor * (x / x[0]) ** 2
    quad_log = anchor * (x / x[0]) ** 2 * np.log(x) / np.log(x[0])
    style = {"color": "0.55", "linewidth": 1, "zorder": 0}
    ax.plot(x, quad, linestyle=":", label=r"$\propto n^2$" if labels else None, **style)
    ax.plot(
        x,
        quad_log,
        linestyle=(0, (5, 2, 1, 2)),
        label=r"$\propto n^2 \log n$" if labels else None,
        **style,
    )


def format_bytes_axis(ax: Any, axis: str = "y") -> None:
    """Label a log axis of byte counts in KiB/MiB/GiB."""

    def fmt(value: float, _pos: int) -> str:
        for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
            if abs(value) < 1024 or unit == "TiB":
                return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
            value /= 1024
        return str(value)

    # Powers of two, thinned by the locator when the range spans many octaves: a
    # base-1024 locator leaves a range such as 100 MiB .. 900 MiB without one label.
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(mpl.ticker.LogLocator(base=2, numticks=8))
    target.set_major_formatter(mpl.ticker.FuncFormatter(fmt))
    target.set_minor_locator(mpl.ticker.NullLocator())
