"""Loading stored results: asv benchmark runs and stored spectra.

Two kinds of committed results feed the figures:

- **asv runs** (``results/<machine>/<commit>-<env>.json`` beside ``results/benchmarks.json``),
  loaded by :func:`load_asv` into one tidy :class:`pandas.DataFrame`, one row per
  benchmark, parameter combination, result file and statistic set;
- **stored spectra** (``results/spectra/*.npz``): singular values that are too expensive
  to recompute whenever a figure is drawn, written by :func:`save_spectra` together with
  the parameters, seed, commit and machine that made them, and read by
  :func:`load_spectra`.

This module needs pandas (the ``notebooks`` extra); ``import convbench`` does not
import it.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "SPECTRA_FORMAT",
    "STATUSES",
    "AsvResultsError",
    "StoredSpectra",
    "load_spectra",
    "save_spectra",
]

#: Format tag written into every stored-spectra file.
SPECTRA_FORMAT = "convbench-spectra/1"

#: Values of the ``status`` column of :func:`load_asv`.
STATUSES = ("ok", "failed", "skipped", "not run")


class AsvResultsError(ValueError):
    """An asv results file is missing, unreadable or not in the expected format."""


# --------------------------------------------------------------------------------------
# stored spectra
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredSpectra:
    """Spectra read by :func:`load_spectra`.

    Attributes
    ----------
    path : pathlib.Path
        The file they came from.
    meta : dict
        Everything stored about how they were made: study name, creation time, commit,
        machine, library versions, thread settings and the generator of the weights.
    cells : pandas.DataFrame
        One row per stored configuration: its parameters (``n``, ``m``, ``cout``,
        ``cin``, ``kh``, ``kw``, ``seed``, ``init`` ...), one column per stored spectrum
        (each cell a 1-D float64 array, sorted descending) and the seconds each took
        (``seconds_<name>``).
    """

    path: Path
    meta: dict[str, Any]
    cells: pd.DataFrame

    @property
    def spectra_names(self) -> tuple[str, ...]:
        """Names of the stored spectra, e.g. ``("zero", "periodic")``."""
        return tuple(self.meta["spectra"])


def _provenance() -> dict[str, Any]:
    """Where and with what a result is being made (commit, machine, versions)."""
    import subprocess

    import scipy

    from . import __version__

    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, check=True
            )
        except (OSError, subprocess.CalledProcessError):
            return None
        return out.stdout.strip()

    status = git("status", "--porcelain", "--untracked-files=no")
    return {
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "commit": git("rev-parse", "HEAD"),
        "dirty": None if status is None else bool(status),
        "machine": {
            "node": platform.node(),
            "arch": platform.machine(),
            "os": f"{platform.system()} {platform.release()}",
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
        },
        "versions": {"convbench": __version__, "numpy": np.__version__, "scipy": scipy.__version__},
        "threads": {
            var: os.environ.get(var)
            for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
        },
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def save_spectra(
    path: str | os.PathLike[str],
    cells: Sequence[Mapping[str, Any]],
    *,
    study: str,
    description: str,
    overwrite: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Store spectra with the parameters and provenance that made them.

    Parameters
    ----------
    path : str or path-like
        Target ``.npz`` file.
    cells : sequence of mappings
        One mapping per configuration with ``"params"`` (a JSON-serialisable mapping:
        ``n``, ``cout``, ``seed`` ...), ``"spectra"`` (name to 1-D array) and optionally
        ``"seconds"`` (name to the seconds it took). Every cell must store the same
        spectrum names.
    study : str
        Short name of the study, e.g. ``"boundary-paper"``.
    description : str
        One or two sentences saying what the spectra are and how they were computed.
    overwrite : bool
        Committed results are never overwritten silently: an existing ``path`` raises
        :class:`FileExistsError` unless this is true.
    extra : mapping, optional
        Further metadata (e.g. the methods used).

    Returns
    -------
    pathlib.Path
        The written file.
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"path must end in .npz; got {path}")
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"{path} exists; stored results are not overwritten (write a new file, "
            "or pass overwrite=True / --force if you really mean to replace it)"
        )
    if not cells:
        raise ValueError("cells must not be empty")
    names = tuple(cells[0]["spectra"])
    arrays: dict[str, np.ndarray] = {}
    records = []
    for i, cell in enumerate(cells):
        if tuple(cell["spectra"]) != names:
            raise ValueError(f"cell {i} stores spectra {tuple(cell['spectra'])}, expected {names}")
        key = f"c{i:04d}"
        for name, values in cell["spectra"].items():
            arr = np.sort(np.asarray(values, dtype=np.float64).ravel())[::-1]
            arrays[f"{key}__{name}"] = arr
        records.append(
            {
                "key": key,
                "params": _jsonable(dict(cell["params"])),
                "seconds": _jsonable(dict(cell.get("seconds", {}))),
            }
        )
    meta = {
        "format": SPECTRA_FORMAT,
        "study": study,
        "description": description,
        "spectra": list(names),
        **_provenance(),
        **_jsonable(dict(extra or {})),
        "cells": records,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    with open(tmp, "wb") as fh:
        np.savez_compressed(fh, meta=np.array(json.dumps(meta, indent=1)), **arrays)
    if path.exists() and not overwrite:  # appeared while we were writing
        tmp.unlink()
        raise FileExistsError(f"{path} appeared while writing; not overwritten")
    tmp.replace(path)
    return path


def load_spectra(path: str | os.PathLike[str]) -> StoredSpectra:
    """Read a file written by :func:`save_spectra`.

    Parameters
    ----------
    path : str or path-like
        A ``.npz`` file under ``results/spectra/``.

    Returns
    -------
    StoredSpectra
        Metadata and one row per stored configuration.

    Raises
    ------
    FileNotFoundError
        If the file does not exist (the message says how to make it).
    ValueError
        If the file is not a stored-spectra file or is incomplete, naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"stored spectra {path} not found; run `make spectra` to compute them"
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            files = {name: data[name] for name in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"{path} is not a readable .npz file: {exc}") from exc
    if "meta" not in files:
        raise ValueError(f"{path} has no 'meta' entry; not a convbench stored-spectra file")
    try:
        meta = json.loads(str(files.pop("meta")))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: metadata is not valid JSON: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != SPECTRA_FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise ValueError(f"{path}: unknown format {found!r}, expected {SPECTRA_FORMAT}")
    rows = []
    for cell in meta.get("cells", []):
        row = dict(cell["params"])
        for name in meta["spectra"]:
            key = f"{cell['key']}__{name}"
            if key not in files:
                raise ValueError(f"{path}: array {key!r} listed in the metadata is missing")
            row[name] = files[key]
            row[f"seconds_{name}"] = cell.get("seconds", {}).get(name, math.nan)
        rows.append(row)
    if not rows:
        raise ValueError(f"{path}: no stored cells")
    return StoredSpectra(path=path, meta=meta, cells=pd.DataFrame(rows))
