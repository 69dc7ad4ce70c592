"""One layer's numbers: exact ``sigma_max``, the certified bound, the periodic extremes.

Every value goes through the library's own entry points on the validated layer
(:func:`convbench.as_layer`): matrix-free Lanczos for the zero-padded ``sigma_max``
(:func:`convbench.extremes.layer_top_certified`, with its residual certificate), the
certified bound at the layer's input size (:func:`convbench.embedding.size_bound`), and
the ``fast`` path for the periodic spectrum.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..blas import blas_threads, check_threads, default_threads
from ..embedding import size_bound
from ..extremes import layer_top_certified
from ..lattice import group_layers, sublattices
from ..layer import Conv, as_layer
from ..spectrum import singular_values
from .report import LayerRecord
from .spec import LayerSpec

#: Lanczos stops when the top Ritz pair's residual is below a quarter of this (relative;
#: :func:`convbench.extremes.golub_kahan_top`): ten times the 1e-9 the records promise.
LANCZOS_RTOL = 1e-10

#: The certified bound is within about half this (relative) of the norm of the periodic
#: layer on the smallest torus that embeds the zero-padded one
#: (:func:`convbench.embedding.size_bound`). It bounds the layer at its input size; the
#: zero-padded ``sigma_max`` sits ``O(1/n^2)`` below that norm, so a tighter shift says
#: little more.
BOUND_RTOL = 1e-6

#: Operators with at most this many matrix entries take the dense SVD instead (exact,
#: and Lanczos needs ``min(rows, cols) > 1``).
DENSE_ENTRIES = 2**22


def _periodic_layer(zero: Conv) -> Conv | str:
    """The layer on the torus, or why it has none (the stride does not divide the
    input size, or the kernel is larger than the torus)."""
    try:
        return zero.with_boundary("periodic")
    except ValueError as exc:
        return str(exc)


def _svd_rounding(size: int) -> float:
    """The certificate of a value from LAPACK's SVD of a matrix whose larger side is
    ``size``: its rounding level, ``size * eps`` (relative)."""
    return size * float(np.finfo(np.float64).eps)


def _exact_top(layer: Conv, theta: tuple[float, ...] | None = None) -> tuple[float, float]:
    """sigma_max of one zero-padded layer and its certificate (relative): dense SVD when
    small (its rounding level, ``max(rows, cols) * eps``), Lanczos otherwise (the Ritz
    pair's relative residual; started at the symbol's maximiser ``theta`` when known)."""
    if layer.rows * layer.cols <= DENSE_ENTRIES:
        value = float(singular_values(layer, method="explicit")[0])
        return value, _svd_rounding(max(layer.rows, layer.cols))
    return layer_top_certified(layer, rtol=LANCZOS_RTOL, maxiter=4000, theta=theta)


def _tap_bound(weight: np.ndarray) -> float:
    """sum over taps of ||W[:, :, a]||_2: a bound on the layer's norm for any stride,
    dilation, padding and boundary (each tap is a shift, a subsampling and a channel map
    of norm at most ||W[:, :, a]||_2)."""
    taps = weight.reshape(weight.shape[0], weight.shape[1], -1).transpose(2, 0, 1)
    if min(taps.shape[1:]) == 1:
        return float(np.sqrt((taps**2).sum(axis=(1, 2))).sum())
    return float(np.linalg.norm(taps, ord=2, axis=(1, 2)).sum())


def zero_sigma_max(layer: Conv, theta: tuple[float, ...] | None = None) -> float:
    """The exact ``sigma_max`` of a zero-padded layer (:func:`certified_sigma_max`'s
    value)."""
    return certified_sigma_max(layer, theta)[0]


def certified_sigma_max(
    layer: Conv, theta: tuple[float, ...] | None = None
) -> tuple[float, float]:
    """The exact ``sigma_max`` of a zero-padded layer and its certificate.

    A dilated layer of stride 1 is the direct sum of layers on sub-lattices
    (:func:`convbench.lattice.sublattices`): the largest of theirs.
    A grouped layer is block-diagonal over its groups, so its norm is the largest
    group's; groups with equal weights are one (:func:`convbench.lattice.group_layers`).
    Lanczos on the whole operator converges slowly when several groups share
    nearly the same top value, so each group is taken alone, largest bound first; a
    group whose bound (:func:`_tap_bound`, then the certified symbol bound) is below the
    largest value found cannot hold the maximum and is skipped.

    Returns
    -------
    tuple of float
        ``(value, certificate)``: a singular value of the layer lies within
        ``certificate * value`` of ``value`` (the Ritz pair's relative residual, or the
        dense SVD's rounding level ``max(rows, cols) * eps``).
    """
    parts = sublattices(layer)
    if parts is not None:  # dilated: the largest of its sub-lattice layers'
        return max((certified_sigma_max(sub) for sub, _count in parts), key=lambda t: t[0])
    if layer.groups == 1:
        return _exact_top(layer, theta)
    groups = [sub for sub, _count in group_layers(layer)]  # equal groups once
    bounds = [_tap_bound(sub.weight) for sub in groups]
    order = sorted(range(len(groups)), key=lambda i: -bounds[i])
    best, certificate = 0.0, 0.0
    for i in order:
        if bounds[i] <= best:
            break
        group = groups[i]
        if best > 0 and size_bound(group).upper <= best:
            continue
        value, residual = _exact_top(group)
        if value > best:
            best, certificate = value, residual
    return best, certificate


def layer_record(
    spec: LayerSpec,
    *,
    boundary: str = "zero",
    spectra: bool = False,
    threads: int | None = None,
) -> LayerRecord:
    """The record of one layer (NaN numbers and the reason where it cannot be computed).

    Parameters
    ----------
    spec : LayerSpec
        The layer as found in the model.
    boundary : {"zero", "periodic"}
        The operator whose ``sigma_max`` is reported: the layer as it computes
        (``"zero"``), or on the torus (``"periodic"``; NaN where the stride does not
        divide the input size).
    spectra : bool
        Keep every periodic singular value (descending) in ``record.spectrum``.
    threads : int or None
        Threads of the ``fast`` path (default: all cores).
    """
    record = LayerRecord.from_spec(spec)
    if spec.reason or spec.weight is None or spec.input_size is None:
        return record
    start = time.perf_counter()
    zero = as_layer(spec.weight, spec.input_size, boundary="zero", **spec.options)
    record.output_size = tuple(int(v) for v in zero.out_shape)
    bound = size_bound(zero, rtol=BOUND_RTOL)  # at this input size
    record.bound = float(bound.upper)
    torus = _periodic_layer(zero)
    if isinstance(torus, str):
        record.notes.append(f"no periodic version: {torus}")
    else:
        values = singular_values(torus, method="fast", threads=threads)
        record.sigma_max_periodic = float(values[0])
        record.sigma_min_periodic = float(values[-1])
        record.condition_periodic = (
            float(values[0] / values[-1]) if values[-1] > 0 else math.inf
        )
        if spectra:
            record.spectrum = np.asarray(values)
    if boundary == "zero":
        record.sigma_max, record.certificate = certified_sigma_max(zero, bound.theta)
    else:
        record.sigma_max = record.sigma_max_periodic
        if math.isfinite(record.sigma_max):  # LAPACK's SVD of the symbol's blocks
            record.certificate = _svd_rounding(max(zero.block_shape))
    record.seconds = time.perf_counter() - start
    return record


def layer_records(
    specs: Sequence[LayerSpec],
    *,
    boundary: str = "zero",
    spectra: bool = False,
    threads: int | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    client: Any = None,
) -> list[LayerRecord]:
    """:func:`layer_record` of every spec, in order: here, or as tasks on ``client``'s
    cluster (each spec sent once, with its task; ``threads`` per task, default 1).

    Here, ``threads`` (default: every core this process may use) of 2 or more run that
    many layers at once, each on one thread (its ``fast`` path and BLAS alike; the
    bound's Cholesky factorisations and Lanczos' GEMMs release the GIL), the costliest
    layers first; the records come back in order. With one thread, or one layer, BLAS
    is held to ``threads`` as well, so no BLAS thread is started beyond the count.
    ``progress(done, total, name)`` is called as each layer finishes.
    """
    if threads is not None:
        threads = check_threads(threads)
    if client is None:
        count = default_threads() if threads is None else threads
        if count > 1 and len(specs) > 1:
            return _threaded_records(specs, boundary, spectra, count, progress)
        records = []
        with blas_threads(count):
            for i, spec in enumerate(specs):
                records.append(layer_record(spec, boundary=boundary, spectra=spectra,
                                            threads=count))
                if progress is not None:
                    progress(i + 1, len(specs), spec.name)
        return records
    from ..distributed import Cluster

    cluster = Cluster(client)
    options = {"boundary": boundary, "spectra": spectra,
               "threads": 1 if threads is None else threads}
    found: list[LayerRecord | None] = [None] * len(specs)
    done = cluster.map(_record_task, list(specs), shared=options, name="layer")
    for count, (i, record) in enumerate(done, 1):
        found[i] = record
        if progress is not None:
            progress(count, len(specs), specs[i].name)
    return [r for r in found if r is not None]


def _record_task(options: dict[str, Any], spec: LayerSpec) -> LayerRecord:
    """One layer's record on a worker (a task of :func:`layer_records`)."""
    return layer_record(spec, **options)


def _cost(spec: LayerSpec) -> float:
    """A rough cost of a layer's record, to start the costliest first."""
    if spec.weight is None or spec.input_size is None:
        return 0.0
    return float(spec.weight.size) * math.prod(spec.input_size)


def _threaded_records(
    specs: Sequence[LayerSpec],
    boundary: str,
    spectra: bool,
    threads: int,
    progress: Callable[[int, int, str], None] | None,
) -> list[LayerRecord]:
    """:func:`layer_record` of every spec on ``threads`` threads, one BLAS thread each.

    A layer that fails raises what a run in order would: the error of the first failing
    layer in ``specs`` order (the layers after it are cancelled, those before it still
    run), as :class:`convbench.distributed.Cluster` does.
    """
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from ..blas import single_blas_thread

    order = sorted(range(len(specs)), key=lambda i: -_cost(specs[i]))
    found: list[LayerRecord | None] = [None] * len(specs)
    failures: dict[int, BaseException] = {}
    done = 0
    with single_blas_thread(), ThreadPoolExecutor(max_workers=threads) as pool:
        futures = {
            pool.submit(layer_record, specs[i], boundary=boundary, spectra=spectra,
                        threads=1): i
            for i in order
        }
        for future in as_completed(futures):
            i = futures[future]
            if future.cancelled():
                continue
            error = future.exception()
            if error is not None:
                failures[i] = error
                first = min(failures)
                for other, j in futures.items():
                    if j > first:
                        other.cancel()
                continue
            found[i] = future.result()
            done += 1
            if progress is not None:
                progress(done, len(specs), specs[i].name)
    if failures:
        raise failures[min(failures)]
    return [r for r in found if r is not None]
