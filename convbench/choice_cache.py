"""Where the library keeps what it measured once per machine, and the key it is kept by.

:func:`convbench.ordering.sort_method` measures once per machine whether numpy's sort
beats the radix sort and stores the outcome here: one JSON file per choice in
:func:`cache_dir`, keyed by :func:`machine_key` (CPU, numpy's SIMD dispatch, numpy and
numba), written atomically (:func:`write_choice`) and read back only for the same key
(:func:`read_choice`).
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
from pathlib import Path
from typing import Any

import numba
import numpy as np

__all__ = [
    "CACHE_DIR_ENV",
    "CHOICE_FORMAT",
    "cache_dir",
    "cache_dirs",
    "cpu_model",
    "machine_key",
    "numpy_simd",
    "read_choice",
    "write_choice",
]

#: Environment variable naming the folder of the stored choices (see :func:`cache_dir`).
CACHE_DIR_ENV = "CONVBENCH_CACHE_DIR"
#: Format of a stored choice's file.
CHOICE_FORMAT = 1


def cache_dir() -> Path:
    """The folder where the measured choices of this machine (the sort's) are kept.

    ``CONVBENCH_CACHE_DIR`` where it is set; else numba's cache folder
    (``NUMBA_CACHE_DIR``) where that is set; else the ``__pycache__`` folder beside this
    module, where numba keeps the compiled kernels. If that folder cannot be written the
    choice goes to ``$XDG_CACHE_HOME/convbench`` (default ``~/.cache/convbench``), and if
    neither can, it is measured once per process.

    Returns
    -------
    pathlib.Path
        The first folder tried; it need not exist yet.
    """
    return cache_dirs()[0]


def cache_dirs() -> list[Path]:
    """The folders tried in turn for the stored sort choice (see :func:`cache_dir`)."""
    own = os.environ.get(CACHE_DIR_ENV, "").strip()
    if own:
        return [Path(own)]
    numba_dir = os.environ.get("NUMBA_CACHE_DIR", "").strip()
    first = Path(numba_dir) if numba_dir else Path(__file__).resolve().parent / "__pycache__"
    user = Path(os.environ.get("XDG_CACHE_HOME", "").strip() or Path.home() / ".cache")
    return [first, user / "convbench"]


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what platform reports."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def numpy_simd() -> str:
    """The SIMD extensions numpy dispatches to here (``NPY_DISABLE_CPU_FEATURES`` counts)."""
    for module in ("numpy._core._multiarray_umath", "numpy.core._multiarray_umath"):
        try:
            features = __import__(module, fromlist=["__cpu_features__"]).__cpu_features__
        except (ImportError, AttributeError):
            continue
        return " ".join(sorted(name for name, on in features.items() if on))
    return "unknown"


def machine_key() -> dict[str, str]:
    """What the sort choice depends on: CPU, numpy's SIMD dispatch, numpy and numba."""
    return {"cpu": cpu_model(), "machine": platform.machine(), "simd": numpy_simd(),
            "numpy": np.__version__, "numba": numba.__version__}


def read_choice(path: Path, key: dict[str, str]) -> str | None:
    """The choice stored at ``path`` for ``key``; ``None`` if absent, corrupt or stale."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != CHOICE_FORMAT:
        return None
    record = data.get("record")
    if not isinstance(record, dict) or record.get("key") != key:
        return None
    choice = record.get("choice")
    return choice if choice in ("radix", "numpy") else None


def write_choice(path: Path, record: dict[str, Any]) -> bool:
    """Store ``record`` at ``path`` atomically (a replaced file is never half written)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"format": CHOICE_FORMAT, "record": record}, fh, indent=1)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        return False
    return True
