"""The layer contract of every public function, bound once by ``convbench.layer.takes_layer``.

- Every public entry point refuses the same bad layer the same way, with the same message.
- A ``Conv`` keeps its own settings (boundary, stride, groups, padding, ...) in every
  function; a keyword that conflicts with them is a ``TypeError`` naming both values.
- One positional order ``f(weight, shape, <own arguments>, *, <layer keywords>)`` and one
  boundary rule: ``"periodic"`` by default, ``"zero"`` in the functions written for the
  zero-padded layer.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import numpy as np
import pytest
import scipy.sparse
import scipy.sparse.linalg

import convbench as cb
from convbench import boundary as zp
from convbench import bounds, budget, extremes, fast, operators
from convbench.layer import LAYER_KEYWORDS

#: Every public function of the layer's arguments, with the arguments of its own that
#: the tests pass (small and quick).
PUBLIC: dict[str, tuple[Any, dict[str, Any]]] = {
    "as_layer": (cb.as_layer, {}),
    "singular_values": (cb.singular_values, {"method": "explicit"}),
    "symbol": (cb.symbol, {}),
    "unrolled": (cb.unrolled, {}),
    "summarize": (cb.summarize, {"threads": 1, "progress": False}),
    "spectral_norm_bound": (cb.spectral_norm_bound, {"grid": 8, "rtol": 1e-6}),
    "size_bound": (cb.size_bound, {}),
    "approximate": (cb.approximate, {"model": "circular"}),
    "sigma_max_estimate": (zp.sigma_max_estimate, {"grid": 8}),
    "mixture_distribution": (zp.mixture_distribution, {}),
    "compare_models": (zp.compare_models, {"models": ("circular",)}),
    "conv_operator": (operators.conv_operator, {}),
    "top_singular_values": (extremes.top_singular_values, {}),
    "smallest_singular_values": (cb.smallest_singular_values, {}),
    "half_plane_symbol": (fast.half_plane_symbol, {}),
    "estimate": (budget.estimate, {"method": "explicit"}),
    # a budget of 64 bytes: the reason, which names the layer's size, is the result
    "feasibility": (cb.feasibility, {"method": "explicit", "memory_budget": 64}),
}

#: The functions written for the zero-padded layer: their boundary defaults to "zero".
ZERO_DEFAULT = {
    "approximate",
    "compare_models",
    "conv_operator",
    "mixture_distribution",
    "sigma_max_estimate",
    "size_bound",
    "smallest_singular_values",
    "top_singular_values",
}
#: The functions that take one boundary only.
ONLY = {
    "symbol": "periodic",
    "summarize": "periodic",
    "half_plane_symbol": "periodic",
    "sigma_max_estimate": "zero",
    "mixture_distribution": "zero",
    "compare_models": "zero",
}

W = np.random.default_rng(0).standard_normal((4, 2, 3, 3))
N = 8


def _call(name: str, weight: Any, shape: Any = N, **keywords: Any) -> Any:
    func, extra = PUBLIC[name]
    return func(weight, shape, **extra, **keywords)


def _values(result: Any) -> np.ndarray:
    """A result as numbers, to compare two calls."""
    if isinstance(result, cb.Conv):
        return np.array([*result.shape, *result.out_shape, result.boundary == "zero"])
    if isinstance(result, np.ndarray):
        return result
    if scipy.sparse.issparse(result):
        return result.toarray()
    if isinstance(result, scipy.sparse.linalg.LinearOperator):
        x = np.random.default_rng(1).standard_normal(result.shape[1])
        return result @ x
    if isinstance(result, (cb.NormBound, cb.SizeBound)):
        return np.array([result.upper, result.lower])
    if isinstance(result, cb.Summary):
        return np.array([result.count, result.sigma_max, result.sigma_min])
    if isinstance(result, fast.HalfPlaneSymbol):
        return np.concatenate([blocks.ravel() for blocks, _ in result.chunks])
    if isinstance(result, str):
        return np.frombuffer(result.encode(), dtype=np.uint8)
    if isinstance(result, budget.Estimate):
        return np.array([result.nbytes, result.seconds])
    if isinstance(result, tuple):
        return np.concatenate(result)
    if isinstance(result, list):
        return np.array([r["rms"] for r in result])
    return np.array([result])


def _default_boundary(name: str) -> str:
    return "zero" if name in ZERO_DEFAULT else "periodic"


# ---------------------------------------------------------------------------------------
# one bad layer, one refusal everywhere

BAD = [
    pytest.param({"weight": np.ones((2, 3))}, ValueError,
                 "weight must have 1 to 3 spatial dimensions", id="weight-ndim"),
    pytest.param({"weight": np.full((4, 2, 3, 3), np.nan)}, ValueError,
                 "weight contains non-finite values", id="weight-nan"),
    pytest.param({"weight": np.full((4, 2, 3, 3), np.inf)}, ValueError,
                 "weight contains non-finite values", id="weight-inf"),
    pytest.param({"stride": 0}, ValueError, "stride entries must be positive", id="stride-0"),
    pytest.param({"stride": (1, 1, 1)}, ValueError, "stride must be an int or a tuple of 2",
                 id="stride-length"),
    pytest.param({"stride": 1.5}, TypeError, "stride must be an int or a tuple",
                 id="stride-float"),
    pytest.param({"weight": np.ones((3, 2, 3, 3)), "groups": 2}, ValueError,
                 r"groups=2 must divide the weight's first axis \(cout=3\)", id="groups"),
    pytest.param({"groups": 0}, ValueError, "groups must be a positive integer",
                 id="groups-0"),
    pytest.param({"layout": "nchw"}, ValueError, "layout must be one of", id="layout"),
    pytest.param({"boundary": "reflect"}, ValueError, "boundary must be one of",
                 id="boundary"),
    pytest.param({"shape": 0}, ValueError, "shape entries must be positive", id="shape-0"),
    pytest.param({"shape": (8, 8, 8)}, ValueError, "shape must be an int or a tuple of 2",
                 id="shape-length"),
    pytest.param({"transposed": "yes"}, TypeError, "transposed must be True or False",
                 id="transposed"),
]


@pytest.mark.parametrize(("bad", "exc", "match"), BAD)
def test_every_entry_point_refuses_a_bad_layer_with_one_message(bad, exc, match):
    bad = dict(bad)
    weight = bad.pop("weight", W)
    shape = bad.pop("shape", N)
    messages = {}
    for name in PUBLIC:
        with pytest.raises(exc, match=match) as info:
            _call(name, weight, shape, **bad)
        messages[name] = str(info.value)
    assert len(set(messages.values())) == 1, messages


def test_every_entry_point_refuses_a_shape_that_is_not_the_layers():
    layer = cb.as_layer(W, N, boundary="zero")
    messages = set()
    for name in PUBLIC:
        with pytest.raises(TypeError, match=r"shape=9 conflicts with the layer's own shape "
                                            r"\(8, 8\)") as info:
            _call(name, layer, 9)
        messages.add(str(info.value).removeprefix(f"{name}(): "))
    assert len(messages) == 1, messages


def test_an_array_weight_needs_a_shape_except_for_the_size_free_bound():
    for name in PUBLIC:
        func, extra = PUBLIC[name]
        if name == "spectral_norm_bound":
            assert func(W, **extra).upper == pytest.approx(func(W, N, **extra).upper)
            continue
        with pytest.raises(TypeError, match=f"{name}\\(\\) needs the input shape"):
            func(W, **extra)


# ---------------------------------------------------------------------------------------
# a Conv keeps its settings

#: Per function, a layer whose settings differ from the defaults in what it takes.
KEPT: dict[str, dict[str, Any]] = {
    "as_layer": {"boundary": "zero", "stride": 2, "groups": 2, "padding": 0},
    "singular_values": {"boundary": "zero", "stride": 2, "groups": 2, "padding": 0},
    "symbol": {"stride": 2, "groups": 2, "dilation": 2},
    "unrolled": {"boundary": "zero", "stride": 2, "groups": 2, "padding": (1, 0)},
    "summarize": {"stride": 2, "groups": 2},
    "spectral_norm_bound": {"stride": 2, "groups": 2, "dilation": 2},
    "size_bound": {"boundary": "periodic", "stride": 2, "groups": 2},
    "approximate": {"boundary": "periodic", "stride": 2, "groups": 2},
    "sigma_max_estimate": {"groups": 2, "dilation": 2},
    "mixture_distribution": {"groups": 2, "dilation": 2},
    "compare_models": {"groups": 2, "dilation": 2},
    "conv_operator": {"boundary": "periodic", "stride": 2, "groups": 2},
    "top_singular_values": {"boundary": "periodic", "stride": 2, "groups": 2},
    "smallest_singular_values": {"boundary": "periodic", "stride": 2, "groups": 2},
    "half_plane_symbol": {"padding": ((1, 1), (1, 1))},
    "estimate": {"boundary": "periodic", "stride": 2, "groups": 2},
    "feasibility": {"boundary": "periodic", "stride": 2, "groups": 2},
}


@pytest.mark.parametrize("name", list(PUBLIC))
def test_a_conv_keeps_its_own_settings(name):
    settings = KEPT[name]
    layer = cb.as_layer(W, N, **{"boundary": _default_boundary(name), **settings})
    given = _values(_call(name, layer, None))
    np.testing.assert_array_equal(given, _values(_call(name, layer, N)))
    np.testing.assert_array_equal(given, _values(_call(name, W, N, **settings)))
    if name == "half_plane_symbol":  # the plain layer only
        return
    plain = _values(_call(name, W, N))
    assert given.shape != plain.shape or not np.allclose(given, plain), "settings ignored"


@pytest.mark.parametrize("name", list(PUBLIC))
def test_a_conv_refuses_a_conflicting_keyword_and_accepts_an_equal_one(name):
    layer = cb.as_layer(W, N, stride=2, groups=2, boundary=ONLY.get(name, "zero"))
    if name in ("half_plane_symbol",):
        layer = cb.as_layer(W, N)
    own = {"stride": layer.stride, "groups": layer.groups, "boundary": layer.boundary}
    for key, value in own.items():
        other = {"stride": 1 if layer.stride != (1, 1) else 2, "groups": 2 // layer.groups,
                 "boundary": "periodic" if value == "zero" else "zero"}[key]
        with pytest.raises(TypeError, match=re.escape(
            f"{name}(): {key}={other!r} conflicts with the layer's own {key} {value!r}"
        )):
            _call(name, layer, **{key: other})
    if name in ("sigma_max_estimate", "mixture_distribution", "compare_models"):
        return  # stride-1 layers only: the equal keywords are checked on as_layer
    np.testing.assert_array_equal(
        _values(_call(name, layer, **own, padding=layer.padding, layout="oihw")),
        _values(_call(name, layer)),
    )


def test_the_silent_override_is_gone():
    w = cb.pytorch_default(3, 3, 3, seed=0)
    z = cb.as_layer(w, 8, boundary="zero")
    np.testing.assert_allclose(
        cb.singular_values(z, 8, method="explicit"),
        np.linalg.svd(cb.unrolled(w, 8, boundary="zero").toarray(), compute_uv=False),
        rtol=1e-12, atol=1e-14,
    )
    assert not np.allclose(
        cb.singular_values(z, 8, method="explicit"), cb.singular_values(w, 8, method="explicit")
    )
    with pytest.raises(TypeError, match=r"stride=5 conflicts with the layer's own stride"):
        cb.as_layer(z, 8, stride=5)
    with pytest.raises(TypeError, match=r"groups=2 conflicts with the layer's own groups 1"):
        cb.as_layer(z, 8, groups=2)
    assert cb.as_layer(z, (8, 8), stride=(1, 1), padding="same", boundary="zero") is z
    assert z.replace(stride=2).stride == (2, 2)
    assert z.with_boundary("periodic").boundary == "periodic"


@pytest.mark.parametrize(("name", "boundary"), sorted(ONLY.items()))
def test_a_one_boundary_function_refuses_the_other_also_from_a_conv(name, boundary):
    other = "zero" if boundary == "periodic" else "periodic"
    match = f"{name}\\(\\) takes boundary='{boundary}' only"
    with pytest.raises(ValueError, match=match):
        _call(name, W, N, boundary=other)
    with pytest.raises(ValueError, match=match):
        _call(name, cb.as_layer(W, N, boundary=other))


def test_budget_keeps_a_convs_boundary():
    zero = cb.as_layer(W, N, boundary="zero")
    assert budget.estimate(zero, method="explicit", boundary="zero") == budget.estimate(
        zero, method="explicit"
    )
    for func in (budget.estimate, budget.feasibility):
        with pytest.raises(TypeError, match="boundary='periodic' conflicts"):
            func(zero, method="explicit", boundary="periodic")
    # an array weight takes the boundary it is given, as every public function does
    plain = budget.estimate(np.zeros((4, 4, 3, 3)), (8, 8), "explicit", boundary="zero")
    assert plain == budget.estimate(cb.as_layer(np.zeros((4, 4, 3, 3)), 8, boundary="zero"),
                                    method="explicit")


def test_fftw_plan_keeps_a_convs_boundary():
    pytest.importorskip("pyfftw")
    with pytest.raises(ValueError, match=r"FFTWPlan\(\) takes boundary='periodic' only"):
        cb.FFTWPlan(cb.as_layer(W, N, boundary="zero"), threads=1)


# ---------------------------------------------------------------------------------------
# one order, one boundary rule, the docs written once


@pytest.mark.parametrize("name", list(PUBLIC))
def test_one_positional_order_and_one_boundary_rule(name):
    func, _extra = PUBLIC[name]
    params = list(inspect.signature(func).parameters.values())
    assert [p.name for p in params[:2]] == ["weight", "shape"]
    assert params[1].default is None
    keywords = [p for p in params if p.name in LAYER_KEYWORDS]
    assert [p.name for p in keywords] == list(LAYER_KEYWORDS)
    assert all(p.kind is p.KEYWORD_ONLY for p in keywords)
    assert [p.name for p in params[-len(LAYER_KEYWORDS):]] == list(LAYER_KEYWORDS)
    boundary = inspect.signature(func).parameters["boundary"].default
    assert boundary.value == _default_boundary(name)
    assert f'default "{boundary.value}"' in func.__doc__


def _documented(doc: str) -> list[str]:
    """The parameter names of a numpydoc "Parameters" section, in order."""
    lines = doc.splitlines()
    start = lines.index("Parameters") + 2
    names = []
    for i in range(start, len(lines)):
        line = lines[i]
        if i + 1 < len(lines) and set(lines[i + 1]) == {"-"} and line and line[0] != " ":
            break
        if line and not line[0].isspace() and " : " in line:
            names += [n.strip() for n in line.split(" : ")[0].split(",")]
    return names


@pytest.mark.parametrize("name", list(PUBLIC))
def test_the_parameters_are_documented_in_the_signatures_order(name):
    func, _extra = PUBLIC[name]
    doc = func.__doc__
    assert _documented(doc) == list(inspect.signature(func).parameters)
    assert doc.count("stride, dilation : int or tuple of int") == 1
    for section in ("Returns",):
        assert f"\n{section}\n{'-' * len(section)}\n" in doc


def test_the_old_calls_of_the_suite_still_work():
    """The benchmark suite calls the library by keyword, across old commits."""
    values = cb.singular_values(W, N, "lfa")
    np.testing.assert_array_equal(values, cb.singular_values(W, N, method="lfa"))
    cb.singular_values(W, N, method="explicit", boundary="zero", layout="oihw", top_k=1)
    layer = cb.as_layer(W, N, stride=2, boundary="zero")
    cb.singular_values(layer, layer.shape, method="explicit", boundary=layer.boundary)
    assert cb.spectral_norm_bound(layer).upper == pytest.approx(
        cb.spectral_norm_bound(W, stride=2).upper
    )
    cb.approximate(W, N, model="circular")
    cb.unrolled(W, 4, boundary="zero")
    cb.summarize(W, N, exact=True, threads=1, progress=False)
    cb.symbol(W, N, method="lfa", threads=1)
    assert budget.feasibility(np.zeros((4, 4, 3, 3)), (8, 8), "lfa", boundary="periodic") is None
    assert bounds.torus_layer(layer).boundary == "periodic"


def test_old_positional_boundaries_fail_loudly():
    with pytest.raises(TypeError, match=r"singular_values\(\): too many positional"):
        cb.singular_values(W, N, "explicit", "zero")
    with pytest.raises(TypeError, match=r"unrolled\(\): too many positional"):
        cb.unrolled(W, N, "zero")
    with pytest.raises(TypeError, match=r"sigma_max_estimate\(\): too many positional"):
        zp.sigma_max_estimate(W, 12, 12)
