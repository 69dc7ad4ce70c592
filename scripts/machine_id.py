"""One machine name per kind of hardware: a fingerprint, and a calibration that checks it.

asv draws one line per machine name. A host name says nothing about speed (every virtual
machine here is called ``vm``), and a CPU string alone does not either: two hosts that
both report "AMD EPYC" ran the suite's LAPACK calls at speeds a factor of two apart. The
name is therefore derived from what makes timings comparable, and checked by measuring:

fingerprint
    the CPU model, a short hash of its feature flags, the cores this process may use,
    the memory in whole GiB and the BLAS library with its kernel (threadpoolctl's
    ``internal_api`` and ``architecture``: OpenBLAS may run Haswell kernels on a newer
    CPU when ``OPENBLAS_CORETYPE`` says so). It gives the base name, e.g.
    ``amd-epyc-2c-24g-openblas-haswell-3f9c1a``.
calibration
    a short single-threaded workload (a batch of complex SVDs, a GEMM and a 2-D FFT, the
    operations the suite times), in the calling thread's CPU time, best of
    :data:`REPEATS` runs each: a single-threaded kernel's CPU time does not grow when
    other work shares the cores (its wall time doubles on a 2-core machine running two
    other jobs), and the minimum is the run least moved by what remains (caches,
    frequency). About a second in all. The *thread's* clock, not the process's: the
    process's CPU time also counts OpenBLAS's idle threads spinning after a call, and
    with it the SVD batch measured 8.2 or 4.4 ms from one run to the next on the same
    machine. A calibration stored before (no ``clock`` in its file) was taken with the
    process's clock and is compared with that clock's measurement.

Each name keeps the calibration it was derived with in
``measurements/machines/<name>.json`` (beside, not inside, ``results/<name>/``, where
asv reads every ``.json`` as a run). :func:`choose` takes the first name of the same base
whose calibration agrees within :data:`TOLERANCE` (geometric mean of the three ratios),
or a new name ``<base>-2``, ``<base>-3``, ... when none does: two hosts of different
speed never share a line. A name given by hand is checked the same way and refused
when its stored fingerprint or calibration does not match this machine.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

#: Largest relative difference of two calibrations (geometric mean of the ratios) that
#: still counts as the same kind of hardware.
TOLERANCE = 0.20
#: Runs of each calibration kernel; the fastest is kept.
REPEATS = 7
#: Where each machine name keeps its calibration (``<name>.json``), from the repository root.
CALIBRATIONS = Path("measurements") / "machines"
#: The clock of a calibration taken now (stored as ``clock``); files without one were
#: taken with ``"process"``.
CLOCK = "thread"
#: Fingerprint fields that must match for a stored name to be this machine.
IDENTITY = ("cpu", "flags", "num_cpu", "ram_gib", "blas")


def _cpuinfo() -> dict[str, str]:
    fields: dict[str, str] = {}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return fields
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in ("model name", "flags", "Features") and key not in fields:
            fields[key] = value.strip()
    return fields


def _ram_gib() -> int:
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0
    return max(1, round(pages / 2**30))


def _blas() -> str:
    import numpy as np  # noqa: F401  (loads the BLAS numpy links)
    from threadpoolctl import threadpool_info

    for pool in threadpool_info():
        if pool.get("user_api") == "blas":
            arch = pool.get("architecture") or "unknown"
            return f"{pool.get('internal_api', 'blas')}-{arch}".lower()
    return "noblas"


def fingerprint() -> dict[str, Any]:
    """What makes timings comparable on this machine (see the module docstring)."""
    info = _cpuinfo()
    flags = " ".join(sorted((info.get("flags") or info.get("Features") or "").split()))
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": info.get("model name") or "unknown cpu",
        "flags": hashlib.sha256(flags.encode()).hexdigest()[:6],
        "num_cpu": int(cpus or 1),
        "ram_gib": _ram_gib(),
        "blas": _blas(),
    }


def base_name(finger: dict[str, Any]) -> str:
    """``amd-epyc-2c-24g-openblas-haswell-3f9c1a`` from a :func:`fingerprint`."""
    cpu = re.sub(r"\((?:r|tm)\)|cpu|processor|@.*$", "", finger["cpu"].lower())
    cpu = re.sub(r"[^a-z0-9]+", "-", cpu).strip("-") or "cpu"
    return f"{cpu}-{finger['num_cpu']}c-{finger['ram_gib']}g-{finger['blas']}-{finger['flags']}"


def calibrate(repeats: int = REPEATS, *, both: bool = False) -> Any:
    """CPU seconds of three single-threaded kernels, the fastest of ``repeats`` runs each.

    Returns the calibration by the thread's clock (:data:`CLOCK`), or with ``both`` the
    pair ``(thread, process)``, the second by the process's clock for the calibrations
    stored before the thread's clock was used.
    """
    import numpy as np
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    blocks = rng.standard_normal((64, 32, 32)) + 1j * rng.standard_normal((64, 32, 32))
    a = rng.standard_normal((384, 384))
    image = rng.standard_normal((512, 512))
    kernels = {
        "svd": lambda: np.linalg.svd(blocks, compute_uv=False),
        "gemm": lambda: a @ a,
        "fft": lambda: np.fft.fft2(image),
    }
    thread: dict[str, float] = {}
    process: dict[str, float] = {}
    with threadpool_limits(limits=1):
        for name, run in kernels.items():
            run()  # warm-up: LAPACK's first call, FFT plan caches
            thread[name] = process[name] = math.inf
            for _ in range(repeats):
                start, start_process = time.thread_time(), time.process_time()
                run()
                thread[name] = min(thread[name], time.thread_time() - start)
                process[name] = min(process[name], time.process_time() - start_process)
    return (thread, process) if both else thread


def difference(a: dict[str, float], b: dict[str, float]) -> float:
    """Relative difference of two calibrations: ``exp(mean |log(a/b)|) - 1``."""
    keys = sorted(set(a) & set(b))
    if not keys:
        return math.inf
    return math.exp(sum(abs(math.log(a[k] / b[k])) for k in keys) / len(keys)) - 1


def load(calibrations: Path, name: str) -> dict[str, Any] | None:
    """The stored calibration of machine ``name``, or ``None`` if it has none."""
    path = calibrations / f"{name}.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a calibration file ({exc})") from None
    if not isinstance(data, dict) or not {"fingerprint", "calibration"} <= set(data):
        raise ValueError(f"{path}: not a calibration file (no fingerprint and calibration)")
    return data


def _by_its_clock(
    stored: dict[str, Any], cal: dict[str, float], legacy: dict[str, float] | None
) -> dict[str, float]:
    """This machine's calibration by the clock ``stored`` was taken with."""
    if stored.get("clock", "process") != CLOCK and legacy is not None:
        return legacy
    return cal


def mismatch(
    stored: dict[str, Any],
    finger: dict[str, Any],
    cal: dict[str, float],
    legacy: dict[str, float] | None = None,
) -> str | None:
    """Why a stored calibration is not this machine, or ``None`` if it is.

    ``cal`` is this machine's calibration by :data:`CLOCK`; ``legacy``, by the process's
    clock, is compared with a stored file that names no clock (the earlier files).
    """
    cal = _by_its_clock(stored, cal, legacy)
    for key in IDENTITY:
        if stored["fingerprint"].get(key) != finger.get(key):
            return (f"its {key} is {stored['fingerprint'].get(key)!r}, this machine's is "
                    f"{finger.get(key)!r}")
    diff = difference(stored["calibration"], cal)
    if diff > TOLERANCE:
        ratios = ", ".join(f"{k} {cal[k] / stored['calibration'][k]:.2f}x"
                           for k in sorted(cal) if k in stored["calibration"])
        return (f"this machine runs the calibration {diff:.0%} apart from it (now / then: "
                f"{ratios}; the limit is {TOLERANCE:.0%})")
    return None


def choose(
    results: Path,
    calibrations: Path,
    finger: dict[str, Any],
    cal: dict[str, float],
    given: str | None = None,
    legacy: dict[str, float] | None = None,
) -> tuple[str, str]:
    """The machine's name and what was decided, e.g. ``("...-2", "new: ...")``.

    Parameters
    ----------
    results : Path
        The suite's results folder (one subfolder per machine name).
    calibrations : Path
        The folder of stored calibrations (:data:`CALIBRATIONS`).
    finger, cal : dict
        :func:`fingerprint` and :func:`calibrate` of this machine.
    legacy : dict, optional
        This machine's calibration by the process's clock, for stored files that name no
        clock (:func:`mismatch`).
    given : str, optional
        A name asked for by hand; refused (``ValueError``) if its stored fingerprint or
        calibration does not match this machine.

    Returns
    -------
    tuple of str
        The name, and a sentence on how it was chosen.
    """
    if given:
        stored = load(calibrations, given)
        if stored is None:
            return given, f"{given!r} given by hand (no calibration stored yet)"
        why = mismatch(stored, finger, cal, legacy)
        if why is not None:
            raise ValueError(
                f"machine {given!r} does not match this hardware: {why}. Results of another "
                "kind of hardware would share its lines; run make bench-machine without "
                "MACHINE= to derive this machine's own name."
            )
        return given, f"{given!r} given by hand; calibration within {TOLERANCE:.0%}"
    base = base_name(finger)
    taken = []
    for index in range(1, 100):
        name = base if index == 1 else f"{base}-{index}"
        if not (results / name).exists() and load(calibrations, name) is None:
            reason = ("new kind of hardware" if not taken else
                      f"new: {', '.join(taken)} calibrated more than {TOLERANCE:.0%} apart")
            return name, reason
        stored = load(calibrations, name)
        if stored is not None and mismatch(stored, finger, cal, legacy) is None:
            diff = difference(stored["calibration"], _by_its_clock(stored, cal, legacy))
            return name, f"calibration within {diff:.0%} of the one stored with it"
        taken.append(name)
    raise ValueError(f"more than 99 machines named {base}-*: clean up {calibrations}")


def record(
    calibrations: Path, name: str, finger: dict[str, Any], cal: dict[str, float]
) -> Path | None:
    """Store the calibration a name was derived with; an existing one is never replaced."""
    path = calibrations / f"{name}.json"
    if path.exists():
        return None
    calibrations.mkdir(parents=True, exist_ok=True)
    data = {
        "fingerprint": finger,
        "calibration": {k: float(f"{v:.6g}") for k, v in cal.items()},
        "clock": CLOCK,
        "taken": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tolerance": TOLERANCE,
    }
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path
