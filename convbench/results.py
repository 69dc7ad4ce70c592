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

import ast
import datetime as _dt
import itertools
import json
import math
import os
import platform
import zipfile
from collections.abc import Iterable, Mapping, Sequence
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
    "find_results_dir",
    "load_asv",
    "load_spectra",
    "machine_summary",
    "save_spectra",
]

#: Format tag written into every stored-spectra file.
SPECTRA_FORMAT = "convbench-spectra/1"

#: Values of the ``status`` column of :func:`load_asv`.
STATUSES = ("ok", "failed", "skipped")


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


# --------------------------------------------------------------------------------------
# asv results
# --------------------------------------------------------------------------------------

#: Statistic columns of an asv (format 2) results file and their names in the table.
_STAT_COLUMNS = {
    "stats_ci_99_a": "ci_99_a",
    "stats_ci_99_b": "ci_99_b",
    "stats_q_25": "q_25",
    "stats_q_75": "q_75",
    "stats_number": "number",
    "stats_repeat": "repeat",
}
_DEFAULT_UNITS = {"time": "seconds", "peakmemory": "bytes", "memory": "bytes"}
_TYPE_PREFIXES = {"time_": "time", "peakmem_": "peakmemory", "mem_": "memory", "track_": "track"}
_MACHINE_KEYS = ("cpu", "num_cpu", "os", "ram", "arch")


def find_results_dir(start: str | os.PathLike[str] | None = None) -> Path:
    """The ``results`` directory of the nearest enclosing checkout.

    Walks up from ``start`` (default: the working directory) to the first directory
    that holds ``asv.conf.json`` or ``results/benchmarks.json``, so notebooks find the
    committed results whether they run from the repository root or from ``notebooks/``.

    Raises
    ------
    FileNotFoundError
        If no such directory exists above ``start``.
    """
    here = Path(start if start is not None else os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "asv.conf.json").is_file() or (
            folder / "results" / "benchmarks.json"
        ).is_file():
            return folder / "results"
    raise FileNotFoundError(f"no asv.conf.json or results/benchmarks.json above {here}")


def _read_json(path: Path, what: str) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} not found")
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise AsvResultsError(f"{path}: malformed JSON ({exc})") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise AsvResultsError(f"{path}: cannot read {what}: {exc}") from exc


def _parse_param(text: Any) -> Any:
    """An asv parameter value is stored as its ``repr``; turn it back into a value."""
    if not isinstance(text, str):
        return text
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text  # e.g. a repr of an object: keep the text


def _benchmark_type(name: str) -> str:
    last = name.rsplit(".", 1)[-1]
    for prefix, kind in _TYPE_PREFIXES.items():
        if last.startswith(prefix):
            return kind
    return "unknown"


def _as_float(value: Any) -> float:
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _rows_of_file(path: Path, benchmarks: Mapping[str, Any]) -> list[dict[str, Any]]:
    data = _read_json(path, "asv results file")
    if not isinstance(data, dict):
        raise AsvResultsError(f"{path}: expected a JSON object, got {type(data).__name__}")
    if data.get("version") != 2:
        raise AsvResultsError(
            f"{path}: asv results format version {data.get('version')!r} is not supported "
            "(expected 2, written by asv >= 0.5)"
        )
    for key in ("commit_hash", "results", "result_columns"):
        if key not in data:
            raise AsvResultsError(f"{path}: missing key {key!r}; not an asv results file")
    columns = data["result_columns"]
    if not isinstance(columns, list) or "result" not in columns or "params" not in columns:
        raise AsvResultsError(f"{path}: result_columns {columns!r} lack 'result' or 'params'")
    if not isinstance(data["results"], dict):
        raise AsvResultsError(f"{path}: 'results' must be an object")
    machine_params = data.get("params") or {}
    date = data.get("date")
    common = {
        "commit": data["commit_hash"],
        "date": pd.Timestamp(date, unit="ms", tz="UTC") if date is not None else pd.NaT,
        "machine": machine_params.get("machine", path.parent.name),
        "env": data.get("env_name"),
        "python": data.get("python"),
        **{key: machine_params.get(key) for key in _MACHINE_KEYS},
        "file": f"{path.parent.name}/{path.name}",
    }
    rows = []
    for name, entry in data["results"].items():
        if not isinstance(entry, list) or len(entry) > len(columns):
            raise AsvResultsError(f"{path}: benchmark {name!r}: malformed result entry")
        record = dict(zip(columns, entry, strict=False))
        params = record.get("params") or []
        if not isinstance(params, list) or not all(isinstance(p, list) for p in params):
            raise AsvResultsError(f"{path}: benchmark {name!r}: params must be a list of lists")
        combos = list(itertools.product(*params)) if params else [()]
        values = record.get("result")
        if values is None:  # the whole benchmark failed (e.g. in setup_cache)
            values = [None] * len(combos)
        if not isinstance(values, list) or len(values) != len(combos):
            raise AsvResultsError(
                f"{path}: benchmark {name!r}: {len(values) if isinstance(values, list) else 0} "
                f"results for {len(combos)} parameter combinations"
            )
        meta = benchmarks.get(name)
        if meta is not None:
            names = list(meta.get("param_names") or [])
            kind = meta.get("type", _benchmark_type(name))
            unit = meta.get("unit") or _DEFAULT_UNITS.get(kind)
            current = meta.get("version") == record.get("version")
        else:
            names = []
            kind = _benchmark_type(name)
            unit = _DEFAULT_UNITS.get(kind)
            current = False
        if len(names) != len(params):
            names = [f"param{i}" for i in range(len(params))]
        stats = {}
        for src, dst in _STAT_COLUMNS.items():
            column = record.get(src)
            if isinstance(column, list) and len(column) == len(combos):
                stats[dst] = column
        started = record.get("started_at")
        parts = name.split(".")
        for i, combo in enumerate(combos):
            value = values[i]
            if value is None:
                status = "failed"
            elif isinstance(value, float) and math.isnan(value):
                status = "skipped"
            else:
                status = "ok"
            row = {
                "benchmark": name,
                "module": parts[0],
                "group": ".".join(parts[1:-1]) or None,
                "name": parts[-1],
                "type": kind,
                "unit": unit,
                "status": status,
                "value": _as_float(value),
                **{dst: _as_float(column[i]) for dst, column in stats.items()},
                "params": dict(zip(names, (_parse_param(p) for p in combo), strict=True)),
                "started_at": (
                    pd.Timestamp(started, unit="ms", tz="UTC") if started is not None else pd.NaT
                ),
                "duration": _as_float(record.get("duration")),
                "version": record.get("version"),
                "current": current,
                **common,
            }
            rows.append(row)
    return rows


def _typed(values: pd.Series) -> pd.Series:
    """A parameter column with the narrowest nullable dtype that holds all its values."""
    present = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not present:
        return values.astype(object)
    kinds = {type(v) for v in present}
    if kinds == {bool}:
        return values.astype("boolean")
    if kinds <= {int}:
        return values.astype("Int64")
    if kinds <= {int, float}:
        return values.astype("Float64")
    if kinds == {str}:
        return values.astype("string")
    return values.astype(object)


def load_asv(
    results_dir: str | os.PathLike[str] | None = None,
    *,
    machine: str | Iterable[str] | None = None,
    benchmarks: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """Load asv results into one tidy table.

    Parameters
    ----------
    results_dir : str or path-like, optional
        asv's ``results_dir`` holding ``benchmarks.json`` and one folder per machine
        with ``<commit>-<env>.json`` files. Default: :func:`find_results_dir`.
    machine : str or iterable of str, optional
        Only these machine folders (default: all).
    benchmarks : str or path-like, optional
        The ``benchmarks.json`` describing parameter names, types and units
        (default: the one in ``results_dir``).

    Returns
    -------
    pandas.DataFrame
        One row per benchmark, parameter combination and results file, with columns
        ``benchmark`` (full name), ``module``, ``group`` (class), ``name``, ``type``
        (``time``, ``peakmemory``, ``memory``, ``track``), ``unit``, ``status``
        (``ok``, ``failed``: the benchmark raised or timed out, ``skipped``: its setup
        raised ``NotImplementedError``), ``value`` (asv's result: the median for timings;
        NaN unless ``status == "ok"``), the spread statistics asv stores (``ci_99_a``,
        ``ci_99_b``: 99% confidence interval; ``q_25``, ``q_75``: quartiles;
        ``number``, ``repeat``), one typed column per parameter name (``n``,
        ``path``, ...; missing where a benchmark lacks that parameter), ``commit``,
        ``date`` (commit date, UTC), ``machine``, ``env``, ``python``, ``cpu``,
        ``num_cpu``, ``os``, ``ram``, ``arch``, ``started_at``, ``duration`` (seconds for
        the whole benchmark), ``version`` and ``current`` (the result was produced by
        the benchmark code described in ``benchmarks.json``), and ``file``.

    Raises
    ------
    FileNotFoundError
        If ``results_dir``, ``benchmarks.json``, a requested machine or any results
        file is missing, naming the path.
    AsvResultsError
        (a :class:`ValueError`) if a file is malformed, naming the file.
    """
    root = Path(results_dir) if results_dir is not None else find_results_dir()
    if not root.is_dir():
        raise FileNotFoundError(f"asv results directory {root} not found")
    bench_path = Path(benchmarks) if benchmarks is not None else root / "benchmarks.json"
    described = _read_json(bench_path, "asv benchmark description")
    if not isinstance(described, dict) or "version" not in described:
        raise AsvResultsError(f"{bench_path}: not an asv benchmarks.json (no 'version' key)")
    described = {k: v for k, v in described.items() if isinstance(v, dict)}

    if machine is None:
        folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        folders = [p for p in folders if any(_result_files(p))]
    else:
        names = [machine] if isinstance(machine, str) else list(machine)
        folders = [root / name for name in names]
        for folder in folders:
            if not folder.is_dir():
                raise FileNotFoundError(f"no results for machine {folder.name!r}: {folder} missing")
    files = [f for folder in folders for f in _result_files(folder)]
    if not files:
        raise FileNotFoundError(f"no asv results files (<machine>/<commit>-<env>.json) in {root}")

    rows = [row for f in files for row in _rows_of_file(f, described)]
    param_rows = [row.pop("params") for row in rows]
    table = pd.DataFrame(rows)
    names = list(dict.fromkeys(name for p in param_rows for name in p))
    params = pd.DataFrame(
        {
            (f"param_{name}" if name in table.columns else name): _typed(
                pd.Series([p.get(name) for p in param_rows], index=table.index, dtype=object)
            )
            for name in names
        },
        index=table.index,
    )
    table["date"] = pd.to_datetime(table["date"], utc=True)
    table["started_at"] = pd.to_datetime(table["started_at"], utc=True)
    for column in ("num_cpu", "ram"):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype("Int64")
    for column in (
        "benchmark",
        "module",
        "group",
        "name",
        "type",
        "unit",
        "commit",
        "machine",
        "env",
        "python",
        "cpu",
        "os",
        "arch",
        "version",
        "file",
    ):
        table[column] = table[column].astype("string")
    table["status"] = pd.Categorical(table["status"], categories=STATUSES)
    front = ["benchmark", "module", "group", "name", "type", "unit", "status", "value"]
    front += [c for c in _STAT_COLUMNS.values() if c in table.columns]
    back = ["commit", "date", "machine", "env", "python", *_MACHINE_KEYS]
    back += ["started_at", "duration", "version", "current", "file"]
    return pd.concat([table[front], params, table[back]], axis=1)


def _result_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.json") if p.name != "machine.json")


def machine_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Which machine, commit and environment the rows of :func:`load_asv` come from.

    Returns
    -------
    pandas.DataFrame
        One row per results file: machine, cpu, num_cpu, os, ram, commit, date, env,
        python, and the number of ok, failed and skipped cells.
    """
    keys = ["machine", "cpu", "num_cpu", "os", "ram", "commit", "date", "env", "python", "file"]
    counts = table.groupby(["file", "status"], observed=False).size().unstack(fill_value=0)
    first = table.drop_duplicates("file").set_index("file")[[k for k in keys if k != "file"]]
    return first.join(counts).reset_index().sort_values(["machine", "date"]).reset_index(drop=True)
