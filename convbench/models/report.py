"""The per-layer table of a model: records, the network bound, pandas, CSV and JSON."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .spec import LayerSpec

#: The columns of every table, in order.
COLUMNS = (
    "name", "op", "weight_shape", "stride", "dilation", "groups", "padding",
    "output_padding", "input_size", "output_size", "sigma_max", "certificate", "bound",
    "sigma_max_periodic", "sigma_min_periodic", "condition_periodic", "seconds", "reason",
)


@dataclass
class LayerRecord:
    """One convolution's row: what the layer is and its spectral numbers.

    ``sigma_max`` is the largest singular value of the operator under the report's
    boundary (``"zero"``: exactly as the layer computes, its own zero padding);
    ``certificate`` says how exact it is, relative: a singular value of the operator
    lies within ``certificate * sigma_max`` of it (the Lanczos Ritz pair's residual,
    or the dense SVD's rounding level, ``max(rows, cols) * eps``); ``bound`` a
    certified upper bound on it at the layer's input size, either boundary
    (:func:`convbench.size_bound`; ``spectral_norm_bound`` holds for every size). The
    periodic numbers come from the exact periodic spectrum and are NaN where the stride
    does not divide the input size. ``reason`` says why a layer has no numbers.
    ``estimates`` holds the values of the field's bounds and estimates asked for
    (:func:`convbench.sigma_max_estimates`; method name to value, NaN where a method
    does not apply).
    """

    name: str
    op: str
    weight_shape: tuple[int, ...] | None
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int
    padding: tuple[tuple[int, int], ...]
    output_padding: tuple[int, ...]
    input_size: tuple[int, ...] | None
    output_size: tuple[int, ...] | None
    sigma_max: float = math.nan
    certificate: float = math.nan
    bound: float = math.nan
    sigma_max_periodic: float = math.nan
    sigma_min_periodic: float = math.nan
    condition_periodic: float = math.nan
    seconds: float = math.nan
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    spectrum: np.ndarray | None = field(default=None, repr=False)
    estimates: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_spec(cls, spec: LayerSpec) -> LayerRecord:
        """The record of a layer, with no numbers yet."""
        return cls(
            name=spec.name, op=spec.op, weight_shape=spec.weight_shape, stride=spec.stride,
            dilation=spec.dilation, groups=spec.groups, padding=spec.padding,
            output_padding=spec.output_padding, input_size=spec.input_size,
            output_size=spec.output_size, reason=spec.reason, notes=list(spec.notes),
        )

    def row(self, estimates: tuple[str, ...] = ()) -> dict[str, Any]:
        """The record as a flat dict over :data:`COLUMNS` (tuples kept as tuples), then
        one ``estimate_<method>`` column per name of ``estimates``."""
        row = {c: getattr(self, c) for c in COLUMNS}
        for method in estimates:
            row[f"estimate_{method}"] = float(self.estimates.get(method, math.nan))
        return row


def json_ready(value: Any) -> Any:
    """JSON-ready: tuples to lists, non-finite floats to None."""
    if isinstance(value, tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _cell(value: Any) -> str:
    """CSV and table text: sizes as ``56x56``, pads as ``1:1,1:1``."""
    if value is None:
        return ""
    if isinstance(value, tuple):
        if value and isinstance(value[0], tuple):
            return ",".join(f"{b}:{a}" for b, a in value)
        return "x".join(str(v) for v in value)
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)


def _write_check(path: Any, force: bool) -> Path:
    path = Path(path)
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; pass force=True to overwrite it")
    return path


class TableWriter:
    """``to_pandas``, ``to_csv`` and ``to_json`` for a report that has ``rows()`` over
    its ``table_columns`` and a JSON-ready ``to_dict()``."""

    table_columns: tuple[str, ...] = ()

    def rows(self) -> list[dict[str, Any]]:  # pragma: no cover - every report has its own
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - every report has its own
        raise NotImplementedError

    def to_pandas(self) -> Any:
        """The table as a :class:`pandas.DataFrame`."""
        import pandas as pd

        return pd.DataFrame(self.rows(), columns=list(self.table_columns))

    def to_csv(self, path: Any, *, force: bool = False) -> Path:
        """Write the table as CSV (sizes as ``56x56``, pads as ``1:1,1:1``)."""
        path = _write_check(path, force)
        with path.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(self.table_columns)
            for row in self.rows():
                writer.writerow([_cell(row[c]) for c in self.table_columns])
        return path

    def to_json(self, path: Any, *, force: bool = False) -> Path:
        """Write :meth:`to_dict` as JSON (NaN as ``null``)."""
        path = _write_check(path, force)
        path.write_text(json.dumps(self.to_dict(), indent=1) + "\n")
        return path


@dataclass
class ModelReport(TableWriter):
    """Per-layer spectra of a model, in graph order.

    Attributes
    ----------
    layers : list of LayerRecord
        One record per convolution.
    boundary : str
        The boundary of every ``sigma_max``.
    input_shape : tuple of int
        The model's input shape, batch and channels included.
    chain : bool
        Whether the model is a plain chain of convolutions and 1-Lipschitz maps.
    chain_reason : str
        Why it is not (empty when it is).
    source : str
        ``"onnx"`` or ``"torch"``.
    estimate_methods : tuple of str
        The bounds and estimates computed for every layer (``model_spectra(...,
        estimates=...)``): one ``estimate_<method>`` column each, after :data:`COLUMNS`.
    """

    layers: list[LayerRecord]
    boundary: str
    input_shape: tuple[int, ...]
    chain: bool
    chain_reason: str
    source: str
    estimate_methods: tuple[str, ...] = ()

    @property
    def table_columns(self) -> tuple[str, ...]:  # type: ignore[override]
        """:data:`COLUMNS`, then one ``estimate_<method>`` per estimate method."""
        return COLUMNS + tuple(f"estimate_{m}" for m in self.estimate_methods)

    def estimate_products(self) -> dict[str, float]:
        """Per estimate method, the product of its layer values over the product of the
        layers' ``sigma_max`` (NaN where a layer has no value for it). A product of layer
        values: it bounds the network only where the model is a plain chain."""
        out = {}
        exact = [r.sigma_max for r in self.layers]
        for method in self.estimate_methods:
            values = [r.estimates.get(method, math.nan) for r in self.layers]
            both = np.array([values, exact], dtype=float)
            ok = self.layers and np.isfinite(both).all() and (both > 0).all()
            out[method] = (float(np.exp(np.log(both[0]).sum() - np.log(both[1]).sum()))
                           if ok else math.nan)
        return out

    @property
    def lipschitz_bound(self) -> float | None:
        """Product of the layers' ``sigma_max``: an upper bound on the network's
        Lipschitz constant (Euclidean norms) where the model is a plain chain; ``None``
        where it is not, or where a layer has no value."""
        return self._chain_product([r.sigma_max for r in self.layers])

    @property
    def lipschitz_certified(self) -> float | None:
        """Product of the layers' certified bounds, under the same condition."""
        return self._chain_product([r.bound for r in self.layers])

    def _chain_product(self, values: list[float]) -> float | None:
        """The product of one value per layer where the model is a plain chain and every
        value is finite, else ``None``."""
        if not self.chain or not values or any(not math.isfinite(v) for v in values):
            return None
        return float(np.prod(values))

    def rows(self) -> list[dict[str, Any]]:
        """Every record as a dict over :attr:`table_columns`."""
        return [r.row(self.estimate_methods) for r in self.layers]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the layers, the boundary, the input shape and the network view."""
        return {
            "source": self.source,
            "input_shape": list(self.input_shape),
            "boundary": self.boundary,
            "chain": self.chain,
            "chain_reason": self.chain_reason,
            "lipschitz_bound": self.lipschitz_bound,
            "lipschitz_certified": self.lipschitz_certified,
            "estimate_methods": list(self.estimate_methods),
            "estimate_products": {m: json_ready(v) for m, v in self.estimate_products().items()},
            "layers": [{c: json_ready(v) for c, v in row.items()} for row in self.rows()],
        }

