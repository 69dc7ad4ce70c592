"""The grid, thread control, timing attributes and skip rule shared by the asv suite.

Every benchmark class of the suite derives from :class:`Case`. A class names its
parameters (``params``/``param_names``) and implements three small methods:

``skip_reason(*params)``
    ``None`` if the cell may run, else the reason why not. It always asks the library
    (:func:`convbench.budget.feasibility`, memory budget and predicted time), so the API
    and the suite share one rule.
``predict(*params)``
    ``(setup_seconds, call_seconds)`` predicted by :func:`convbench.budget.estimate`;
    ``python -m benchmarks.plan`` turns these into the coverage table and the predicted
    duration of a run.
``prepare(*params)``
    The work done in ``setup`` (weights, plans, symbols) before the timed call.

:meth:`Case.setup` raises ``NotImplementedError(reason)`` for a skipped cell, which asv
records as skipped and prints with its reason.

The grid can be overridden from the environment (comma-separated integers); asv passes
the environment on to the benchmark processes:

``CONVBENCH_BENCH_N``
    input sizes ``n`` (default ``32,64,...,16384``);
``CONVBENCH_BENCH_CHANNELS``
    channel counts, ``cin = cout`` (default ``1,4,16,64``);
``CONVBENCH_BENCH_KERNEL``
    kernel size ``k`` for ``k x k`` kernels (default ``3``);
``CONVBENCH_BENCH_MAX_SECONDS``
    largest predicted time of one timed call (default :data:`DEFAULT_MAX_SECONDS`);
``CONVBENCH_BENCH_LARGE_MAX_SECONDS``
    largest predicted time of the single-sample large-n end-to-end cells (default 12);
``CONVBENCH_BENCH_REFERENCE_MAX_SECONDS``
    largest predicted time of one dense reference SVD of the accuracy benchmarks
    (default 15);
``CONVBENCH_BENCH_WIDE_CHANNELS``, ``CONVBENCH_BENCH_WIDE_N``, ``CONVBENCH_BENCH_WIDE_MAX_CN``
    the wide cells, where real networks live: channel counts (default ``128,256,512``)
    at small input sizes (default ``7,14,28``, ResNet's feature maps at 224 x 224),
    each cell with ``c * n`` at most the third (default 3584, a ResNet stage: 128 at
    28, 256 at 14, 512 at 7); their benchmarks (``*Wide``) take 1 to 3 samples a cell;
``CONVBENCH_BENCH_THREADS``
    BLAS/FFTW threads of every benchmark that does not take threads as a parameter
    (default ``1``);
``CONVBENCH_MEMORY_BUDGET``
    the library's memory budget (default: half the memory available at the time);
``CONVBENCH_BENCH_TIER``
    ``full`` (default: every cell of the grid, ``make bench``) or ``track``: the
    representative cells of every class (:data:`TRACKED`, narrowed or widened by a
    class's own ``tracked``), a few minutes a commit, for runs over commit ranges
    (``make track``). The grid, and so every benchmark's parameters, stay the same:
    a cell outside the tier is skipped with that reason, so both tiers land on the
    same lines.

Every benchmark class pins its ``version`` (asv otherwise hashes the benchmark's source,
and any edit of a helper would cut its history): bump it only when what the benchmark
measures changes.
"""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np

import convbench
from convbench import budget
from convbench.symbols import SYMBOL_METHODS, default_threads

from . import torch_peer

__all__ = [
    "BOUNDARY_N",
    "CHANNELS",
    "DEFAULT_MAX_SECONDS",
    "FIXED_THREADS",
    "KERNEL",
    "LARGE_MAX_SECONDS",
    "MAX_SECONDS",
    "N_VALUES",
    "PATHS",
    "PEERS",
    "REFERENCE_MAX_SECONDS",
    "SEED",
    "THREAD_SETTINGS",
    "TIER",
    "TOP_K",
    "TRACKED",
    "TRANSFORM_PATHS",
    "WIDE_CHANNELS",
    "WIDE_MAX_CN",
    "WIDE_N",
    "WIDE_PATHS",
    "Case",
    "Tracked",
    "check",
    "check_tier",
    "feasible",
    "feasible_layer",
    "feasible_path",
    "in_tier",
    "limit_threads",
    "predicted",
    "predicted_layer",
    "predicted_path",
    "resolve_threads",
    "thread_info",
    "tier_cells",
    "tier_reason",
    "weights",
    "wide_reason",
]


def _ints_from_env(name: str, default: Sequence[int]) -> tuple[int, ...]:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return tuple(default)
    try:
        values = tuple(int(v) for v in raw.split(",") if v.strip())
    except ValueError:
        raise ValueError(f"{name} must be comma-separated integers; got {raw!r}") from None
    if not values or min(values) < 1:
        raise ValueError(f"{name} must list positive integers; got {raw!r}")
    return values


def _float_from_env(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds; got {raw!r}") from None
    if not value > 0:
        raise ValueError(f"{name} must be positive; got {raw!r}")
    return value


#: Input sizes n (square n x n inputs).
N_VALUES: tuple[int, ...] = _ints_from_env("CONVBENCH_BENCH_N", [2**k for k in range(5, 15)])
#: Channel counts; every cell has cin = cout = c.
CHANNELS: tuple[int, ...] = _ints_from_env("CONVBENCH_BENCH_CHANNELS", (1, 4, 16, 64))
#: Kernel size (k x k).
KERNEL: int = _ints_from_env("CONVBENCH_BENCH_KERNEL", (3,))[0]
#: Input sizes of the periodic vs zero-padding comparison (dense SVD of the zero operator).
BOUNDARY_N: tuple[int, ...] = tuple(
    n for n in _ints_from_env("CONVBENCH_BENCH_BOUNDARY_N", (4, 8, 16, 32)) if n >= KERNEL
)
#: Every singular-value path of the library, in its order (new paths join automatically).
PATHS: tuple[str, ...] = tuple(convbench.METHODS)
#: The paths that build a symbol (the transform-only benchmark).
TRANSFORM_PATHS: tuple[str, ...] = tuple(p for p in PATHS if p in SYMBOL_METHODS)
#: Peers the suite compares against, not library paths (:mod:`benchmarks.torch_peer`).
PEERS: tuple[str, ...] = torch_peer.PEERS
#: Channel counts of the wide cells (real networks' widths), at the small n of WIDE_N.
WIDE_CHANNELS: tuple[int, ...] = _ints_from_env("CONVBENCH_BENCH_WIDE_CHANNELS", (128, 256, 512))
#: Input sizes of the wide cells: ResNet's feature maps at a 224 x 224 input.
WIDE_N: tuple[int, ...] = _ints_from_env("CONVBENCH_BENCH_WIDE_N", (7, 14, 28))
#: A wide cell runs where ``c * n`` is at most this (networks halve n as they double c).
WIDE_MAX_CN: int = _ints_from_env("CONVBENCH_BENCH_WIDE_MAX_CN", (3584,))[0]
#: Paths of the wide cells: the spectral paths (fftw is fft's transform planned apart,
#: explicit is out of reach at these sizes) and the peers.
WIDE_PATHS: tuple[str, ...] = (*(p for p in PATHS if p in ("lfa", "fft", "fast")), *PEERS)
#: BLAS and FFTW threads of the benchmarks that do not take threads as a parameter.
FIXED_THREADS: int = _ints_from_env("CONVBENCH_BENCH_THREADS", (1,))[0]
#: Thread settings of the end-to-end benchmark: one thread, and every core of the machine.
THREAD_SETTINGS: tuple[str, ...] = ("1", "all")
#: Seed of the weights (PyTorch's default Conv2d initialisation).
SEED = 0
#: Number of largest singular values asked of the explicit path's block Lanczos.
TOP_K = 6

#: Default largest predicted time (s) of one timed call; a cell predicted slower is skipped
#: (the end-to-end cells between it and ``LARGE_MAX_SECONDS`` are measured once, by the
#: large-n benchmark). 3 s until ba996cf, whose ``make bench`` ran 37.7 minutes; the
#: cost model put 2 s at 81% of 3 s's duration.
DEFAULT_MAX_SECONDS = 2.0
MAX_SECONDS: float = _float_from_env("CONVBENCH_BENCH_MAX_SECONDS", DEFAULT_MAX_SECONDS)
#: Largest predicted time (s) of the single-sample cells of the large-n end-to-end benchmark.
LARGE_MAX_SECONDS: float = _float_from_env("CONVBENCH_BENCH_LARGE_MAX_SECONDS", 12.0)
#: Largest predicted time (s) of one dense reference SVD in the accuracy benchmarks.
REFERENCE_MAX_SECONDS: float = _float_from_env("CONVBENCH_BENCH_REFERENCE_MAX_SECONDS", 15.0)


#: The tier of this run: "full" (every cell) or "track" (representative cells).
TIER: str = os.environ.get("CONVBENCH_BENCH_TIER", "").strip() or "full"
if TIER not in ("full", "track"):
    raise ValueError(f"CONVBENCH_BENCH_TIER must be 'full' or 'track'; got {TIER!r}")
#: The tracking tier's cells, by parameter name: a parameter not named here is not
#: narrowed. A class adds or overrides entries with its own ``tracked`` dict.
TRACKED: dict[str, tuple[Any, ...]] = {
    "n": (64, 512),
    "channels": (4, 16),
    "threads": ("1",),
    "points": (4096,),
}


def tier_cells(**cells: tuple[Any, ...]) -> Mapping[str, tuple[Any, ...]]:
    """A class's ``tracked`` cells, read-only: ``tier_cells(n=(64,), channels=(4,))``."""
    return MappingProxyType(cells)


def tier_reason(cls: type, **values: Any) -> str | None:
    """``None`` if the cell with these parameter values is in this run's tier, else why.

    Parameters
    ----------
    cls : type
        The benchmark class (its ``tracked`` dict, if any, refines :data:`TRACKED`).
    **values
        The cell's parameter values by name.

    Returns
    -------
    str or None
        The reason the cell is skipped in the tracking tier.
    """
    if TIER != "track":
        return None
    cells = {**TRACKED, **getattr(cls, "tracked", {})}
    for name, value in values.items():
        allowed = cells.get(name)
        if allowed is not None and value not in allowed:
            return (f"not in the tracking tier (CONVBENCH_BENCH_TIER=track): {name}={value!r}, "
                    f"tracked {name} = {', '.join(map(repr, allowed))}")
    return None


def in_tier(cls: type, **values: Any) -> bool:
    """Whether the cell is in this run's tier (:func:`tier_reason` is ``None``)."""
    return tier_reason(cls, **values) is None


def check_tier(bench: Any, *params: Any) -> None:
    """Skip the current cell of ``bench`` (its ``param_names``) outside this run's tier."""
    names = getattr(bench, "param_names", ())
    check(tier_reason(type(bench), **dict(zip(names, params, strict=True))))


def resolve_threads(setting: str | int) -> int:
    """``"all"`` -> the cores this process may use; ``"1"`` or an int -> that count."""
    if setting == "all":
        return default_threads()
    return int(setting)


def limit_threads(threads: int) -> Any:
    """Limit BLAS and OpenMP pools to ``threads``; returns the limiter (restore to undo)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads)


def thread_info() -> dict[str, int]:
    """Threads each loaded BLAS/OpenMP library uses now, keyed by its internal API."""
    from threadpoolctl import threadpool_info

    out: dict[str, int] = {}
    for pool in threadpool_info():
        key = pool.get("internal_api", pool.get("user_api", "unknown"))
        out[key] = max(out.get(key, 0), int(pool["num_threads"]))
    return out


def weights(c: int, kernel: int = KERNEL) -> np.ndarray:
    """The suite's weights: PyTorch's default initialisation, ``(c, c, k, k)``, fixed seed."""
    return convbench.pytorch_default(c, c, kernel, seed=SEED)


def _budget_call(name: str, method: str, layer: Any, numbers: tuple[int, ...] | None = None,
                 boundary: str = "periodic", **options: Any) -> Any:
    """``convbench.budget.<name>`` in the form the library under test takes.

    asv runs this suite against older commits too, so the call follows the library:
    ``name(layer, method=...)`` since the layer API, ``name(method, layer)`` before it,
    and ``name(method, cout, cin, n, m, kh, kw, boundary=...)`` before the layer object.
    ``layer`` is a :class:`convbench.Conv` (or ``None`` where the library has none) and
    ``numbers`` the plain 2-D layer's six numbers and its ``boundary`` (``None`` for
    another layer).
    ``estimate_seconds`` is ``estimate(...).seconds``.
    """
    seconds = name == "estimate_seconds"
    function = getattr(budget, "estimate" if seconds else name)
    first = next(iter(inspect.signature(function).parameters))
    if first == "weight":
        result = function(layer, method=method, **options)
    elif numbers is None or (layer is not None and _takes_layers(function)):
        result = function(method, layer, **options)
    else:
        result = function(method, *numbers, boundary=boundary, **options)
    return result.seconds if seconds else result


def _takes_layers(function: Any) -> bool:
    """Whether a ``budget`` function of an older library took ``(method, layer)``."""
    return "layer" in inspect.signature(function).parameters


def _plain_layer(c: int, n: int, boundary: str) -> Any:
    """The grid's ``c x c`` layer at ``n x n`` (zero weights: the budget reads shapes),
    or ``None`` where the library has no layer object."""
    if not hasattr(convbench, "as_layer"):
        return None
    return convbench.as_layer(np.zeros((c, c, KERNEL, KERNEL)), (n, n), boundary=boundary)


def feasible(
    method: str,
    c: int,
    n: int,
    *,
    stage: str = "all",
    top_k: int | None = None,
    boundary: str = "periodic",
    max_seconds: float | None = None,
) -> str | None:
    """The library's feasibility rule for one cell of the grid; ``None`` means it runs.

    ``max_seconds`` defaults to :data:`MAX_SECONDS`. A method or stage the library has no
    estimate for is skipped with that reason rather than run blind.
    """
    limit = MAX_SECONDS if max_seconds is None else max_seconds
    numbers = (c, c, n, n, KERNEL, KERNEL)
    try:
        return _budget_call("feasibility", method, _plain_layer(c, n, boundary), numbers,
                            boundary, top_k=top_k, max_seconds=limit, stage=stage)
    except ValueError as exc:
        return f"no prediction from convbench.budget: {exc}"


def predicted(
    method: str,
    c: int,
    n: int,
    *,
    stage: str = "all",
    top_k: int | None = None,
    boundary: str = "periodic",
) -> float:
    """Predicted seconds of one cell (:func:`convbench.budget.estimate`); 0 if unknown."""
    numbers = (c, c, n, n, KERNEL, KERNEL)
    try:
        return _budget_call("estimate_seconds", method, _plain_layer(c, n, boundary), numbers,
                            boundary, top_k=top_k, stage=stage)
    except ValueError:
        return 0.0


def feasible_layer(
    method: str,
    layer: Any,
    *,
    top_k: int | None = None,
    max_seconds: float | None = None,
) -> str | None:
    """:func:`feasible` for any layer: a :class:`convbench.Conv` (its own boundary)."""
    limit = MAX_SECONDS if max_seconds is None else max_seconds
    try:
        return _budget_call("feasibility", method, layer, top_k=top_k, max_seconds=limit)
    except ValueError as exc:
        return f"no prediction from convbench.budget: {exc}"


def predicted_layer(method: str, layer: Any, *, top_k: int | None = None) -> float:
    """:func:`predicted` for any layer (a :class:`convbench.Conv`); 0 if unknown."""
    try:
        return _budget_call("estimate_seconds", method, layer, top_k=top_k)
    except ValueError:
        return 0.0


def wide_reason(c: int, n: int) -> str | None:
    """``None`` for a wide cell of the grid, else why (n too large for that width)."""
    if c * n > WIDE_MAX_CN:
        return (f"wide cells run where channels * n <= {WIDE_MAX_CN} "
                f"(CONVBENCH_BENCH_WIDE_MAX_CN); {c} * {n} = {c * n}")
    return None


def feasible_path(
    path: str,
    c: int,
    n: int,
    *,
    stage: str = "all",
    max_seconds: float | None = None,
) -> str | None:
    """:func:`feasible` for a library path or a peer (torch missing or no CUDA: skipped;
    else the estimate of :data:`benchmarks.torch_peer.PROXY` stands in)."""
    if path in PEERS:
        return torch_peer.reason(path) or feasible(
            torch_peer.PROXY, c, n, stage=stage, max_seconds=max_seconds
        )
    return feasible(path, c, n, stage=stage, max_seconds=max_seconds)


def predicted_path(path: str, c: int, n: int, *, stage: str = "all") -> float:
    """:func:`predicted` for a library path or a peer (the proxy's estimate)."""
    return predicted(torch_peer.PROXY if path in PEERS else path, c, n, stage=stage)


def check(reason: str | None) -> None:
    """Skip the current asv cell (``NotImplementedError``) if ``reason`` is not ``None``."""
    if reason is not None:
        raise NotImplementedError(reason)


class Case:
    """Base class of the suite's benchmarks: skip rule, thread limits, timing attributes.

    Timing: every timed call is one sample (``number = 1``; the setup runs again before
    each sample); one round (``rounds = 1``) takes between 2 and 5 samples, stopping
    after ``max_time = 1 s`` once 2 samples are in, so a cell of a second or more is
    measured twice and a fast one up to 5 times, and asv reports their median and
    spread. One round rather than asv's two, and (2, 5) rather than (3, 10) samples,
    keep the default run within half an hour on two cores: with (3, 10), a full run
    on the reference machine took 36 minutes, and the samples beyond (2, 5) were 309 s
    of it. No warm-up calls: :meth:`prepare` runs the path once at a tiny size instead,
    so imports, JIT compilation and FFTW's first plan are not timed, while the large
    arrays are not touched before the timed call.
    """

    number = 1
    rounds = 1
    repeat = (2, 5, 1.0)
    # asv takes at least two samples of every cell unless told otherwise, whatever
    # ``repeat`` says; the wide and large cells (``repeat`` from 1) are meant to be timed
    # once when a call is over ``max_time``: their second samples cost 116 s of one full
    # run on the reference machine.
    min_run_count = 1
    warmup_time = 0.0
    timeout = 900.0

    #: BLAS threads while the cell runs (subclasses with a threads parameter override
    #: :meth:`threads_for`).
    def threads_for(self, *params: Any) -> int:
        return FIXED_THREADS

    def skip_reason(self, *params: Any) -> str | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, *params: Any) -> tuple[float, float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def prepare(self, *params: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def setup(self, *params: Any) -> None:
        check_tier(self, *params)
        check(self.skip_reason(*params))
        self.threads = self.threads_for(*params)
        self._limiter = limit_threads(self.threads)
        self.prepare(*params)

    def teardown(self, *params: Any) -> None:
        # a peer's (benchmarks.torch_peer) own thread setting first, then BLAS's
        peer = getattr(self, "peer", None)
        if peer is not None:
            peer.restore()
            self.peer = None
        limiter = getattr(self, "_limiter", None)
        if limiter is not None:
            limiter.restore_original_limits()
            self._limiter = None


class Tracked:
    """Base of the ``track_`` benchmarks: errors relative to ``sigma_max``, long timeout,
    and the thread limiter of ``setup`` (if any) undone in ``teardown``."""

    unit = "relative to sigma_max"
    timeout = 3600.0

    def teardown(self, *args: object) -> None:
        limiter = getattr(self, "_limiter", None)
        if limiter is not None:
            limiter.restore_original_limits()
            self._limiter = None


def samples_per_round(case: Any, seconds: float) -> int:
    """How many samples asv takes per round of a cell whose sample costs ``seconds``."""
    repeat = getattr(case, "repeat", 0)
    if isinstance(repeat, tuple):
        lo, hi, max_time = repeat
    else:  # asv's default for rounds > 1
        lo, hi, max_time = 1, 5, 10.0
    if seconds <= 0:
        return int(hi)
    return int(min(hi, max(lo, math.floor(max_time / seconds) + 1)))
