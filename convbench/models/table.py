"""The per-layer table as aligned text, as ``convbench model`` prints it."""

from __future__ import annotations

import math
from typing import Any

from .report import ModelReport

#: (header, how a record's cell is written)
_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("layer", lambda r: r.name),
    ("op", lambda r: r.op),
    ("weight", lambda r: _x(r.weight_shape)),
    ("stride", lambda r: _x(r.stride)),
    ("groups", lambda r: str(r.groups)),
    ("input", lambda r: _x(r.input_size)),
    ("output", lambda r: _x(r.output_size)),
    ("sigma_max", lambda r: _num(r.sigma_max)),
    ("certificate", lambda r: "-" if math.isnan(r.certificate) else f"{r.certificate:.1e}"),
    ("bound", lambda r: _num(r.bound)),
    ("periodic_max", lambda r: _num(r.sigma_max_periodic)),
    ("periodic_cond", lambda r: _num(r.condition_periodic, 5)),
    ("seconds", lambda r: "" if math.isnan(r.seconds) else f"{r.seconds:.2f}"),
)

_NUMERIC = {"sigma_max", "certificate", "bound", "periodic_max", "periodic_cond", "seconds"}


def _x(values: Any) -> str:
    return "?" if values is None else "x".join(str(v) for v in values)


def _num(value: float, digits: int = 10) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:.{digits}g}"


def _columns(report: ModelReport) -> tuple[tuple[str, Any], ...]:
    """The printed columns: :data:`_COLUMNS`, then one per estimate method."""
    extra = tuple(
        (method, lambda r, m=method: _num(r.estimates.get(m, math.nan), 7))
        for method in report.estimate_methods
    )
    return _COLUMNS[:-1] + extra + _COLUMNS[-1:]


def format_table(report: ModelReport) -> str:
    """The aligned per-layer table, one line per layer, then the layers' reasons and the
    network view (with the estimates' products over the exact one, when asked for)."""
    columns = _columns(report)
    header = [h for h, _ in columns]
    numeric = _NUMERIC | set(report.estimate_methods)
    rows = [[cell(r) for _, cell in columns] for r in report.layers]
    widths = [max(len(c) for c in col) for col in zip(header, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        parts = [
            c.rjust(w) if h in numeric else c.ljust(w)
            for h, c, w in zip(header, cells, widths, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [line(header)] + [line(r) for r in rows]
    for r in report.layers:
        if r.reason:
            out.append(f"skipped    {r.name}: {r.reason}")
    done = [r for r in report.layers if not r.reason]
    total = sum(r.seconds for r in done if not math.isnan(r.seconds))
    out.append(
        f"layers     {len(report.layers)} convolutions, {len(done)} computed, "
        f"boundary {report.boundary}, {total:.2f} s"
    )
    worst = max((r.certificate for r in done if not math.isnan(r.certificate)), default=None)
    if worst is not None:
        above = [r.name for r in done if r.sigma_max > r.bound]
        where = ("and at most its certified bound" if not above
                 else f"but above its bound at {', '.join(above)}")
        out.append(
            f"certified  each sigma_max within {worst:.1e} (relative) of a singular value "
            f"of its layer (Lanczos residual or dense SVD rounding), {where}"
        )
    if report.lipschitz_bound is not None:
        out.append(
            f"network    Lipschitz constant <= {report.lipschitz_bound:.10g} (product of "
            f"sigma_max; plain chain of convolutions and 1-Lipschitz maps)"
        )
    else:
        out.append(f"network    no product bound: {report.chain_reason or 'a layer has no value'}")
    products = report.estimate_products()
    if products:
        ratios = ", ".join(f"{m} {_num(v, 4)}" for m, v in products.items())
        out.append(f"estimates  product of layer values / product of sigma_max: {ratios}")
    return "\n".join(out)
