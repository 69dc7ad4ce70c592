"""Every method of :func:`convbench.singular_values`, declared once.

This module declares what a method is; :mod:`convbench.paths` registers the built-in
ones. A :class:`Method` says what a path supports (boundaries, precisions), how much memory
and time it needs for a layer (its cost model, which :mod:`convbench.budget` asks), how
it runs, and how figures and help texts name and draw it. :func:`convbench.singular_values`
is then: validate the layer, look the method up, check the budget, run. The budget,
the figures' styles (:mod:`convbench.plotting`), the command line and
:data:`convbench.symbols.SYMBOL_METHODS` read the registry, so a new path is one module
and one :func:`register` call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np

from .costs import Cost, Estimate
from .layer import BOUNDARIES, Conv

__all__ = [
    "KINDS",
    "METHODS",
    "PRECISIONS",
    "STAGES",
    "Method",
    "MethodNames",
    "describe",
    "get",
    "names",
    "register",
    "unregister",
]

#: What a method computes from: ``"symbol"``, the periodic symbol's blocks and a batched
#: SVD (these also give :func:`convbench.symbol`); ``"compiled"``, the same spectrum by
#: compiled kernels that never hold the whole symbol; ``"matrix"``, the unrolled
#: operator, as a matrix or matrix-free.
KINDS = ("symbol", "compiled", "matrix")
#: Working precisions a method may offer.
PRECISIONS = ("double", "single")
#: Steps of a path that a cost model predicts on their own.
STAGES = ("all", "transform", "svd")


@dataclass(frozen=True)
class Method:
    """One way to compute a layer's singular values.

    Attributes
    ----------
    name : str
        The ``method=`` name.
    summary : str
        One line for help texts.
    run : callable
        ``run(layer, top_k, options) -> values``: all (or the ``top_k`` largest)
        singular values, descending, of a validated layer whose boundary it supports.
    boundaries : tuple of str
        Boundaries it computes.
    precisions : tuple of str
        Working precisions it offers.
    cost : callable
        ``cost(layer, top_k, precision) -> Cost``: the path's peak bytes and the seconds
        of its two stages, from the layer's shapes alone (:mod:`convbench.costs`).
    kind : {"symbol", "compiled", "matrix"}
        What it computes from (:data:`KINDS`).
    label : str
        Its name in figure legends (default: ``name``).
    color, marker : str
        Its colour and matplotlib marker in every figure.
    boundaries : tuple of str
        Boundaries it computes.
    precisions : tuple of str
        Working precisions it offers.
    advice : str
        What to do instead when the budget refuses a layer.
    doc : str
        Its paragraph in the API reference (default: ``summary``).
    """

    name: str
    summary: str
    run: Callable[[Conv, int | None, dict[str, Any]], np.ndarray]
    cost: Callable[[Conv, int | None, str], Cost]
    kind: str = "matrix"
    label: str = ""
    color: str = "#777777"
    marker: str = "o"
    boundaries: tuple[str, ...] = ("periodic",)
    precisions: tuple[str, ...] = ("double",)
    advice: str = "Use a smaller input size or convbench.summarize for streamed statistics."
    doc: str = ""

    def estimate(
        self, layer: Conv, top_k: int | None = None, precision: str = "double", stage: str = "all"
    ) -> Estimate:
        """Predicted peak memory and time of one stage (or all) on a validated layer.

        The cost model's bytes for that stage plus 10% for the interpreter, LAPACK's
        workspace and the allocator, and its seconds.
        """
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}; got {stage!r}")
        self.check_precision(precision)
        cost = self.cost(layer, top_k, precision)
        if stage == "all":
            nbytes, seconds = cost.nbytes, cost.transform + cost.svd
        elif stage == "transform":
            nbytes = cost.nbytes if cost.transform_nbytes is None else cost.transform_nbytes
            seconds = cost.transform
        else:
            nbytes = cost.nbytes if cost.svd_nbytes is None else cost.svd_nbytes
            seconds = cost.svd
        return Estimate(int(1.1 * nbytes), float(seconds))

    def check(self, layer: Conv, precision: str) -> None:
        """Refuse, naming the option, what this method does not support."""
        if layer.boundary not in self.boundaries:
            others = [m.name for m in _REGISTRY.values() if layer.boundary in m.boundaries]
            raise ValueError(
                f"method={self.name!r} computes boundary {' or '.join(map(repr, self.boundaries))} "
                f"only; for boundary={layer.boundary!r} use method={' or '.join(map(repr, others))}"
            )
        self.check_precision(precision)

    def check_precision(self, precision: str) -> None:
        """Refuse a precision this method does not offer, naming the ones that do."""
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be 'double' or 'single'; got {precision!r}")
        if precision not in self.precisions:
            offered = [m.name for m in _REGISTRY.values() if precision in m.precisions]
            raise ValueError(
                f"precision={precision!r} is offered by method={' or '.join(map(repr, offered))} "
                "only"
            )


_REGISTRY: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add a method to the registry (its name must be new); it is then a ``method=``
    of every function of :func:`convbench.singular_values`'s family, of the budget and
    of the command line, and has its style in every figure."""
    if method.name in _REGISTRY:
        raise ValueError(f"method {method.name!r} is already registered")
    for b in method.boundaries:
        if b not in BOUNDARIES:
            raise ValueError(f"unknown boundary {b!r} in method {method.name!r}")
    for p in method.precisions:
        if p not in PRECISIONS:
            raise ValueError(f"unknown precision {p!r} in method {method.name!r}")
    if method.kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got {method.kind!r}")
    for key, default in (("label", method.name), ("doc", method.summary)):
        if not getattr(method, key):
            object.__setattr__(method, key, default)
    _REGISTRY[method.name] = method
    return method


def unregister(name: str) -> Method:
    """Take a method out of the registry (a built-in one too) and return it."""
    return _REGISTRY.pop(get(name).name)


def get(name: Any) -> Method:
    """The registered method called ``name``; a clear error for anything else."""
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"method must be one of {tuple(_REGISTRY)}; got {name!r}")
    return _REGISTRY[name]


def names(kind: str | None = None) -> tuple[str, ...]:
    """The registered method names (of one ``kind``), in registration order."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")
    return tuple(n for n, m in _REGISTRY.items() if kind is None or m.kind == kind)


def describe(indent: int = 8) -> str:
    """The registered methods as a numpydoc bullet list, ``name``: paragraph, for the
    docstrings of the functions that take ``method=``."""
    import textwrap

    pad = " " * indent
    return "\n".join(
        textwrap.fill(f"``{m.name}``: {m.doc}", 88, initial_indent=pad + "- ",
                      subsequent_indent=pad + "  ")
        for m in _REGISTRY.values()
    )


class MethodNames(Sequence[str]):
    """The registered method names (of one ``kind``) as a live, read-only sequence: a
    method registered later is in it too."""

    def __init__(self, kind: str | None = None) -> None:
        names(kind)  # a clear error for an unknown kind
        self.kind = kind

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[str, ...]: ...
    def __getitem__(self, index: int | slice) -> str | tuple[str, ...]:
        return names(self.kind)[index]

    def __len__(self) -> int:
        return len(names(self.kind))

    def __iter__(self) -> Iterator[str]:
        return iter(names(self.kind))

    def __contains__(self, name: object) -> bool:
        return name in names(self.kind)

    def __eq__(self, other: object) -> bool:
        return tuple(self) == (tuple(other) if isinstance(other, Sequence) else other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(names(self.kind))


#: Every method accepted by :func:`convbench.singular_values`, in registration order
#: (live: a method registered later is in it too). The built-in ones are registered by
#: :mod:`convbench.paths`.
METHODS = MethodNames()
