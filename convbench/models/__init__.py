"""Whole models: the exact per-layer spectra of an ONNX model or a PyTorch module.

:func:`model_spectra` reads the model (:mod:`.onnx_graph`, :mod:`.torch_module`: each
convolution, its options and input size, as a :class:`.spec.LayerSpec`), computes each
layer's numbers (:mod:`.compute`) and returns a :class:`.report.ModelReport`;
:func:`sweep` does it for several models at once, as one table (:mod:`.sweep`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from ..blas import blas_threads, check_threads, default_threads
from ..estimates import estimate_methods, sigma_max_estimates
from ..layer import as_layer
from .compute import layer_records
from .onnx_graph import onnx_layers
from .report import COLUMNS, LayerRecord, ModelReport
from .spec import LayerSpec
from .sweep import SweepReport, sweep
from .torch_module import is_module, torch_layers

__all__ = ["COLUMNS", "LayerRecord", "ModelReport", "SweepReport", "model_spectra", "sweep"]


def _input_shape(input_shape: Any) -> tuple[int, ...]:
    if isinstance(input_shape, str) or not hasattr(input_shape, "__iter__"):
        raise TypeError(f"input_shape must be a tuple of ints such as (1, 3, 224, 224); "
                        f"got {input_shape!r}")
    shape = tuple(input_shape)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in shape):
        raise TypeError(f"input_shape must hold ints; got {input_shape!r}")
    if not 3 <= len(shape) <= 5:
        raise ValueError(
            f"input_shape must be (batch, channels, *spatial) with 1 to 3 spatial "
            f"dimensions; got {shape}"
        )
    if any(v < 1 for v in shape):
        raise ValueError(f"input_shape must be positive; got {shape}")
    return shape


def model_spectra(
    model: Any,
    input_shape: Any,
    *,
    boundary: str = "zero",
    spectra: bool = False,
    threads: int | None = None,
    fold_batchnorm: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
    client: Any = None,
    estimates: Sequence[str] | None = None,
) -> ModelReport:
    """Exact per-layer spectra of every convolution of a model, in graph order.

    Parameters
    ----------
    model : str, os.PathLike, onnx.ModelProto or torch.nn.Module
        An ONNX file (read as data; nothing is executed or unpickled), a parsed ONNX
        model, or a PyTorch module (load your checkpoint into it yourself).
    input_shape : tuple of int
        The full input shape, batch and channels included, e.g. ``(1, 3, 224, 224)``.
    boundary : {"zero", "periodic"}
        ``sigma_max`` of each layer exactly as it computes, with its own zero padding
        (default), or on the torus (NaN where the stride does not divide the size).
    spectra : bool
        Keep each layer's full periodic spectrum in ``record.spectrum``.
    threads : int, optional
        Threads to use; default all cores. With two or more (and no ``client``) the
        layers run that many at once, costliest first, one BLAS thread each; with
        one, BLAS runs on one thread too. The records and their numbers do not depend
        on it.
    fold_batchnorm : bool
        PyTorch only: fold each eval-mode BatchNorm that directly follows a convolution
        into its weight (``w * gamma / sqrt(var + eps)`` per output channel), so the
        numbers are those of the affine map the pair computes at inference. Off by
        default: the convolution alone.
    progress : callable, optional
        Called as ``progress(done, total, name)`` after each layer.
    client : dask.distributed.Client, optional
        Compute the layers as tasks on this cluster (:mod:`convbench.distributed`):
        each weight travels once, with its task; the records come back in graph
        order, the same numbers as without a client. Each task runs the ``fast``
        path on ``threads`` threads (default 1: the workers' threads are the
        parallelism).
    estimates : sequence of str, optional
        Names of :data:`convbench.ESTIMATE_METHODS` (all but ``"exact"``, which is
        ``sigma_max``) to compute for every layer with
        :func:`convbench.sigma_max_estimates`, under the report's boundary: one
        ``estimate_<method>`` column each, and the products in
        ``report.estimate_products()``. Computed here, one layer after another, after
        the spectra (``progress`` counts them as a second pass).

    Returns
    -------
    ModelReport
        ``.layers`` (one :class:`LayerRecord` per convolution), ``.lipschitz_bound``
        (the product of the ``sigma_max`` where the model is a plain chain of
        convolutions and 1-Lipschitz maps; ``.chain_reason`` says why not otherwise),
        ``.to_pandas()``, ``.to_csv(path)``, ``.to_json(path)``.

    Raises
    ------
    OSError
        A missing model file.
    ValueError
        A file that is not an ONNX model, an input shape of the wrong rank or too
        small for the model, an unknown estimate method (before the model is read).
    TypeError
        A model of another type.
    """
    if boundary not in ("zero", "periodic"):
        raise ValueError(f"boundary must be 'zero' or 'periodic'; got {boundary!r}")
    if fold_batchnorm not in (True, False):
        raise TypeError(f"fold_batchnorm must be True or False; got {fold_batchnorm!r}")
    if threads is not None:
        check_threads(threads)  # before the model is read
    methods = _estimate_methods(estimates)
    shape = _input_shape(input_shape)
    specs, reason, source = _read(model, shape, fold_batchnorm)
    passes = 2 if methods else 1
    counted = None if progress is None else (
        lambda done, total, name: progress(done, passes * total, name))
    records = layer_records(specs, boundary=boundary, spectra=spectra, threads=threads,
                            progress=counted, client=client)
    if methods:
        with blas_threads(default_threads() if threads is None else threads):
            for i, (spec, record) in enumerate(zip(specs, records, strict=True)):
                record.estimates = _layer_estimates(spec, record, boundary, methods)
                if progress is not None:
                    progress(len(specs) + i + 1, 2 * len(specs), spec.name)
    return _report(records, boundary, shape, reason, source, methods)


def _estimate_methods(estimates: Sequence[str] | None) -> tuple[str, ...]:
    """The estimate methods asked for, checked, without ``"exact"``."""
    if estimates is None:
        return ()
    if isinstance(estimates, str):
        estimates = (estimates,)
    if "exact" in estimates:
        raise ValueError("'exact' is the report's sigma_max column; estimates takes the "
                         "other methods of convbench.ESTIMATE_METHODS")
    return estimate_methods(list(estimates))


def _layer_estimates(spec: LayerSpec, record: LayerRecord, boundary: str,
                     methods: tuple[str, ...]) -> dict[str, float]:
    """Each method's value on one layer (NaN on a layer without numbers)."""
    if (record.reason or spec.weight is None or spec.input_size is None
            or not math.isfinite(record.sigma_max)):
        return dict.fromkeys(methods, math.nan)
    layer = as_layer(spec.weight, spec.input_size, boundary=boundary, **spec.options)
    frame = sigma_max_estimates(layer, methods=methods)
    return {m: float(v) for m, v in zip(frame["method"], frame["value"], strict=True)}


def _read(model: Any, shape: tuple[int, ...], fold_batchnorm: bool) -> tuple[list, str, str]:
    """The model's convolutions, why it is not a plain chain (or ``""``), its source."""
    if is_module(model):
        specs, reason = torch_layers(model, shape, fold_batchnorm=fold_batchnorm)
        return specs, reason, "torch"
    if fold_batchnorm:
        raise ValueError("fold_batchnorm applies to PyTorch modules only")
    specs, reason = onnx_layers(model, shape)
    return specs, reason, "onnx"


def _report(
    records: list[LayerRecord], boundary: str, shape: tuple[int, ...], reason: str,
    source: str, methods: tuple[str, ...] = (),
) -> ModelReport:
    return ModelReport(
        layers=records,
        boundary=boundary,
        input_shape=shape,
        chain=not reason and bool(records),
        chain_reason=reason if records else "the model has no convolution",
        source=source,
        estimate_methods=methods,
    )
