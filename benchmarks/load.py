"""Graceful under load: three workloads quiet and beside two busy processes, interleaved.

A workstation is rarely idle. Each workload runs with the library's default settings
(no ``threads``, no environment variables), once on a quiet machine and once while two
other processes spin (``python -c "while True: pass"``), alternately, ``ROUNDS`` times:

``model``
    :func:`convbench.models.compute.layer_records` on YOLOv8n's 63 convolutions
    (:func:`benchmarks.networks.yolov8n`, seeded PyTorch-default weights), as
    ``convbench model`` runs them: certified bound, exact zero-padded ``sigma_max`` and
    periodic spectrum of every layer;
``fast``
    every singular value of a 64-channel 3x3 layer at n = 128 on the ``fast`` path;
``summarize``
    :func:`convbench.summarize` with 4 channels, streamed.

The benchmark runs the model at 96 x 96 and summarize at n = 2048
(:data:`SIZES`); ``scripts/load_ratios.py`` runs the sizes first reported (the model at
320 x 320, summarize at n = 8192: :data:`REPORTED_SIZES`, about ten minutes).

On a machine with as many cores as busy processes, sharing should cost about 2x (the
busy processes take their share of the cores); much more means threads that wait by
spinning, or more threads than cores. The target is at most 3x.

=========================== ============================================================
benchmark                   what it records, per workload
=========================== ============================================================
``TrackLoad.track_ratio``   median loaded time / median quiet time, from one setup
``TrackLoad.track_quiet``   median quiet time (s) of the same samples
=========================== ============================================================

The samples are taken once per run, in ``setup_cache``, and both methods read them.
The class belongs to the full tier only: a tracking run over many commits would pay
its minutes on each. ``scripts/load_ratios.py`` writes every sample to
``measurements/load/``.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

import convbench

from .common import SEED, TIER, _ints_from_env, check, check_tier, tier_cells

#: The workloads, by the name of the benchmark's parameter.
WORKLOADS: tuple[str, ...] = ("model", "fast", "summarize")
#: The sizes of the workloads as first reported: n of the ``fast`` workload, n of
#: ``summarize`` and the model's input. Quiet and loaded twice, they take about 10
#: minutes on the 2-core reference machine: ``scripts/load_ratios.py`` runs them.
REPORTED_SIZES: tuple[int, int, int] = (128, 8192, 320)
#: The sizes the asv benchmark runs (``CONVBENCH_BENCH_LOAD_SIZES``): summarize at
#: n = 2048 (a sixteenth of the work) and the model at 96 x 96, so the class fits the
#: full run; the model's width divisor is ``CONVBENCH_BENCH_NETWORK_WIDTH``, as for the
#: other networks. The model's time is not monotone in its input size (Lanczos on
#: seeded weights converges faster at some sizes than at others): quiet, on the reference
#: machine, 63.3 s at 64 x 64, 11.8 s at 96, 34.7 s at 128, 29.1 s at 160 and 49.5 s at 320.
SIZES: tuple[int, ...] = _ints_from_env("CONVBENCH_BENCH_LOAD_SIZES", (128, 2048, 96))
#: The sizes of the untimed first call (imports, JIT compilation, FFTW's first plans).
WARM_SIZES = (16, 32, 32)
if len(SIZES) != 3:
    raise ValueError(f"CONVBENCH_BENCH_LOAD_SIZES must give three sizes (fast n, "
                     f"summarize n, model input); got {SIZES!r}")
#: Quiet and loaded samples of each workload, alternating.
ROUNDS = 2
#: Busy processes beside a loaded sample.
BUSY = 2
#: The issue's target: loaded time at most this multiple of the quiet time.
TARGET = 3.0


@contextlib.contextmanager
def busy_processes(count: int = BUSY) -> Iterator[list[subprocess.Popen]]:
    """``count`` Python processes that spin on a core each, for the duration of the block."""
    procs = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(count)
    ]
    try:
        time.sleep(0.2)  # let them be scheduled before the timed call starts
        yield procs
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait()


def _model_specs(size: int) -> list[Any]:
    from convbench.models.spec import LayerSpec

    from .networks import yolov8n

    specs = []
    width = int(os.environ.get("CONVBENCH_BENCH_NETWORK_WIDTH", 1))
    for i, layer in enumerate(yolov8n(size, width)):
        pad = layer.padding
        specs.append(LayerSpec(
            name=f"conv{i}", op="Conv", weight=layer.weight(SEED + i),
            stride=(layer.stride, layer.stride), dilation=(1, 1), groups=layer.groups,
            padding=((pad, pad), (pad, pad)), output_padding=(0, 0), transposed=False,
            input_size=(layer.size, layer.size),
        ))
    return specs


def workload(name: str, sizes: tuple[int, ...] = SIZES) -> Callable[[], Any]:
    """The call of a workload at ``sizes`` (fast n, summarize n, model input), its
    inputs built (and not timed)."""
    fast_n, summarize_n, model_input = sizes
    if name == "model":
        from convbench.models.compute import layer_records

        specs = _model_specs(model_input)
        return lambda: layer_records(specs)
    if name == "fast":
        w = convbench.pytorch_default(64, 64, 3, seed=SEED)
        return lambda: convbench.singular_values(w, fast_n, method="fast")
    if name == "summarize":
        w = convbench.pytorch_default(4, 4, 3, seed=SEED)
        return lambda: convbench.summarize(w, (summarize_n, summarize_n), progress=False)
    raise ValueError(f"workload must be one of {WORKLOADS}; got {name!r}")


def _timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def measure(
    workloads: tuple[str, ...] = WORKLOADS,
    rounds: int = ROUNDS,
    sizes: tuple[int, ...] = SIZES,
    report: Callable[[str], None] | None = None,
    loaded: bool = True,
) -> dict[str, dict[str, list[float]]]:
    """Quiet and loaded seconds of each workload at ``sizes``, alternating quiet and
    loaded.

    Each workload is first called untimed at tiny sizes (imports, JIT compilation,
    FFTW's first plans). Returns ``{workload: {"quiet": [...], "loaded": [...],
    "load": [...]}}`` with the 1-minute load average before each loaded sample
    (``loaded=False``: the quiet samples only).
    """
    out: dict[str, dict[str, list[float]]] = {}
    for name in workloads:
        workload(name, WARM_SIZES)()
        call = workload(name, sizes)
        samples: dict[str, list[float]] = {"quiet": [], "loaded": [], "load": []}
        for r in range(rounds):
            samples["quiet"].append(_timed(call))
            if loaded:
                with busy_processes():
                    samples["load"].append(os.getloadavg()[0])
                    samples["loaded"].append(_timed(call))
            if report is not None:
                beside = f", loaded {samples['loaded'][-1]:.2f} s" if loaded else ""
                report(f"{name} round {r + 1}/{rounds}: quiet {samples['quiet'][-1]:.2f} s"
                       + beside)
        out[name] = samples
    return out


def ratio(samples: dict[str, list[float]]) -> float:
    """Median loaded time over median quiet time."""
    return float(statistics.median(samples["loaded"]) / statistics.median(samples["quiet"]))


class TrackLoad:
    """Loaded / quiet time of each workload, with two busy processes beside it."""

    params = (list(WORKLOADS),)
    param_names = ("workload",)
    version = "1"
    tracked = tier_cells(workload=())
    untracked = "minutes a run (every workload quiet and loaded, twice)"
    timeout = 1800

    def setup_cache(self) -> dict[str, Any]:
        if TIER != "full":
            return {}
        return measure()

    def setup(self, samples: dict[str, Any], workload: str) -> None:
        check_tier(self, workload)
        check(None if workload in samples else f"{workload} was not measured")

    def track_ratio(self, samples: dict[str, Any], workload: str) -> float:
        return ratio(samples[workload])

    track_ratio.unit = "ratio"  # type: ignore[attr-defined]

    def track_quiet(self, samples: dict[str, Any], workload: str) -> float:
        return float(np.median(samples[workload]["quiet"]))

    track_quiet.unit = "seconds"  # type: ignore[attr-defined]
