"""The method registry: one contract for every registered method, and the seams."""

from __future__ import annotations

import numpy as np
import pytest
from test_layers import reference_values, weights

import convbench as cb
from convbench import budget, registry
from convbench.costs import Cost, Estimate

# small layers of different kinds (weight shape, input shape, options)
LAYERS = [
    ((3, 2, 3, 3), (6, 4), {}),
    ((4, 2, 3, 3), (8, 8), {"stride": 2, "groups": 2}),
    ((2, 2, 3), (10,), {"dilation": 2}),
    ((3, 2, 2, 2, 2), (4, 4, 4), {"transposed": True, "stride": 2}),
]


@pytest.mark.parametrize("name", registry.names())
@pytest.mark.parametrize("case", LAYERS, ids=lambda c: str(c[2]) or "plain")
def test_every_method_keeps_the_contract(name, case):
    method = registry.get(name)
    wshape, shape, opts = case
    w = weights(wshape, 11)
    for boundary in cb.layer.BOUNDARIES:
        layer = cb.as_layer(w, shape, boundary=boundary, **opts)
        if boundary not in method.boundaries:
            with pytest.raises(ValueError, match=f"method={name!r} computes boundary"):
                cb.singular_values(w, shape, method=name, boundary=boundary, **opts)
            continue
        exact = reference_values(w, shape, boundary=boundary, **opts)
        estimate = method.estimate(layer)
        assert isinstance(estimate, Estimate)
        assert estimate.nbytes > 0
        assert estimate.seconds > 0
        values = cb.singular_values(w, shape, method=name, boundary=boundary, threads=1, **opts)
        assert values.dtype == np.float64
        assert values.shape == (layer.n_values,)
        np.testing.assert_allclose(values, exact, rtol=0, atol=1e-10 * exact[0])
        top = cb.singular_values(
            w, shape, method=name, boundary=boundary, top_k=3, threads=1, **opts
        )
        np.testing.assert_allclose(top, exact[:3], rtol=0, atol=1e-9 * exact[0])
        with pytest.raises(cb.BudgetError, match=f"method={name!r}"):
            cb.singular_values(
                w, shape, method=name, boundary=boundary, memory_budget=64, **opts
            )


def test_unknown_names_are_refused_in_one_place():
    for bad in ("svd", "FFT", None, 3):
        with pytest.raises(ValueError, match="method must be one of"):
            cb.singular_values(weights((2, 2, 3, 3), 0), 8, method=bad)
    with pytest.raises(ValueError, match="method must be one of"):
        cb.symbol(weights((2, 2, 3, 3), 0), 8, method="explicit")


def test_precision_is_refused_by_name_where_unsupported():
    w = weights((2, 2, 3, 3), 0)
    with pytest.raises(ValueError, match="precision='single' is offered by method='fast'"):
        cb.singular_values(w, 8, method="lfa", precision="single")
    with pytest.raises(ValueError, match="precision must be 'double' or 'single'"):
        cb.singular_values(w, 8, method="fast", precision="half")


def test_a_new_path_is_one_registration():
    calls = []

    def run(layer, top_k, options):
        calls.append((layer.describe(), top_k))
        values = np.linalg.svd(cb.unrolled(layer, layer.shape).toarray(), compute_uv=False)
        return values if top_k is None else values[:top_k]

    def cost(layer, top_k, precision):
        return Cost(8 * layer.rows * layer.cols, 0.0, 1e-9 * layer.rows * layer.cols)

    method = registry.register(registry.Method(
        "dense", "dense SVD of the sparse matrix", run, cost, color="#123456", marker="*"))
    try:
        w = weights((3, 2, 3, 3), 1)
        values = cb.singular_values(w, 6, method="dense", stride=2)
        np.testing.assert_allclose(values, cb.singular_values(w, 6, stride=2), atol=1e-12)
        assert calls and calls[0][1] is None
        # everything that reads the registry knows it now
        assert "dense" in cb.METHODS and cb.METHODS[-1] == "dense"
        assert "``dense``: dense SVD" in registry.describe()
        assert method.label == "dense"
        layer = cb.as_layer(w, 6, stride=2)
        assert cb.feasibility(layer, method="dense") is None
        expected = int(1.1 * 8 * layer.rows * layer.cols)
        assert budget.estimate(layer, method="dense").nbytes == expected
        assert "needs" in cb.feasibility(layer, method="dense", memory_budget=expected - 1)
        with pytest.raises(cb.BudgetError, match="method='dense'"):
            cb.singular_values(layer, method="dense", memory_budget=expected - 1)
        with pytest.raises(ValueError, match="already registered"):
            registry.register(registry.Method("dense", "again", run, cost))
    finally:
        registry.unregister("dense")
    assert "dense" not in cb.METHODS
    with pytest.raises(ValueError, match="method must be one of"):
        cb.singular_values(w, 6, method="dense")
    with pytest.raises(ValueError, match="unknown boundary"):
        registry.register(registry.Method("other", "x", run, cost, boundaries=("reflect",)))
    with pytest.raises(ValueError, match="kind must be one of"):
        registry.register(registry.Method("other", "x", run, cost, kind="magic"))
    assert "other" not in cb.METHODS


def test_budget_plots_and_help_read_the_registry():
    from convbench.cli import main as cli_main  # noqa: F401  (the parser builds from it)
    from convbench.plotting import PATH_COLORS, PATH_LABELS, PATH_MARKERS, PATHS, palette

    assert PATHS == registry.names()
    for name in registry.names():
        entry = registry.get(name)
        assert (PATH_COLORS[name], PATH_MARKERS[name], PATH_LABELS[name]) == (
            entry.color, entry.marker, entry.label)
        assert f"``{name}``: " in cb.singular_values.__doc__
    assert cb.symbols.SYMBOL_METHODS == registry.names("symbol") == ("lfa", "fft", "fftw")
    assert len(set(PATH_COLORS.values())) == len(PATHS)
    assert palette(["fast"]) == {"fast": registry.get("fast").color}
