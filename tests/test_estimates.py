"""``sigma_max_estimates`` against dense matrices built by PyTorch.

The reference shares no code with the library: the operator's matrix is PyTorch's
``torch.nn.functional.conv*`` applied to the identity's columns
(:func:`test_layers.reference_matrix`), and its ``sigma_max`` comes from one dense SVD.
Every row that says ``"upper bound"`` must be at least that value, with no tolerance.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import convbench as cb

torch = pytest.importorskip("torch")

from test_layers import CASES, _id, _periodic_ok, reference_matrix, weights  # noqa: E402

KINDS = {"exact", "upper bound", "estimate"}


def dense_sigma_max(w, shape, **opts) -> float:
    return float(np.linalg.svd(reference_matrix(w, shape, **opts), compute_uv=False)[0])


def check_table(table, exact: float) -> None:
    assert tuple(table.columns) == cb.ESTIMATE_COLUMNS
    assert table.method.tolist() == list(cb.ESTIMATE_METHODS)
    assert set(table.kind) <= KINDS
    rows = table.set_index("method")
    assert rows.loc["exact", "kind"] == "exact"
    assert rows.loc["exact", "value"] == pytest.approx(exact, rel=1e-9)
    bounds = table[(table.kind == "upper bound") & table.applies]
    for name, value in zip(bounds.method, bounds.value, strict=True):
        assert value >= exact, f"{name}: {value!r} < exact {exact!r}"
    assert rows.loc["power", "value"] <= rows.loc["exact", "value"] * (1 + 1e-12)
    assert rows.loc["power", "iterations"] == 50
    missing = table[~table.applies]
    assert missing.value.isna().all()
    assert (missing.reason.str.len() > 0).all()
    assert table[table.applies].value.notna().all()
    assert (table[table.applies].reason == "").all()
    assert (table.seconds >= 0).all()
    gaps = table.value / rows.loc["exact", "value"] - 1
    np.testing.assert_allclose(table.relative_gap, gaps, rtol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_bounds_hold_on_every_layer_kind(case):
    wshape, shape, opts = case
    w = weights(wshape, 3)
    exact = dense_sigma_max(w, shape, boundary="zero", **opts)
    table = cb.sigma_max_estimates(w, shape, gram_iterations=4, **opts)
    check_table(table, exact)
    rows = table.set_index("method")
    assert rows.loc["size_bound", "operator"] == "zero-padded layer"
    assert rows.loc["gram_circular", "kind"] == "estimate"
    if _periodic_ok(shape, opts) and rows.loc["periodic", "applies"]:
        periodic = dense_sigma_max(w, shape, boundary="periodic", **opts)
        assert rows.loc["periodic", "value"] == pytest.approx(periodic, rel=1e-9)
        assert rows.loc["gram_circular", "value"] >= periodic


@pytest.mark.parametrize(
    "case", [c for c in CASES if _periodic_ok(c[1], c[2])][::2], ids=_id
)
def test_periodic_layers_are_their_own_operator(case):
    wshape, shape, opts = case
    w = weights(wshape, 4)
    try:
        layer = cb.as_layer(w, shape, boundary="periodic", **opts)
    except ValueError:
        pytest.skip("no periodic layer at this size")
    exact = dense_sigma_max(w, shape, boundary="periodic", **opts)
    table = cb.sigma_max_estimates(layer, gram_iterations=3)
    check_table(table, exact)
    rows = table.set_index("method")
    assert rows.loc["periodic", "kind"] == "exact"
    assert rows.loc["gram_circular", "kind"] == "upper bound"


def test_rows_that_do_not_apply_say_why():
    w = weights((3, 2, 3, 3), 5)
    table = cb.sigma_max_estimates(w, 7, stride=2, methods=["periodic", "gram_circular"])
    assert table.method.tolist() == ["periodic", "gram_circular"]
    assert not table.applies.any()
    assert table.value.isna().all()
    assert table.reason.str.contains("stride to divide").all()
    assert table.relative_gap.isna().all()  # no exact row


def test_methods_select_rows_in_registry_order():
    w = weights((3, 2, 3, 3), 6)
    table = cb.sigma_max_estimates(w, 6, methods=["reshaped", "power", "exact"])
    assert table.method.tolist() == ["exact", "power", "reshaped"]
    assert table.iterations.isna().tolist() == [True, False, True]
    assert table.relative_gap.iloc[0] == 0.0


def test_reshaped_is_the_matrix_torch_normalises():
    w = weights((4, 3, 3, 3), 7)
    table = cb.sigma_max_estimates(w, 6, stride=2, transposed=True, methods=["reshaped"])
    # ConvTranspose weights (cin, cout/groups, k, k): spectral_norm reshapes along dim 1
    wt = torch.from_numpy(w).transpose(0, 1).reshape(w.shape[1], -1)
    expected = float(torch.linalg.matrix_norm(wt, ord=2))
    assert table.value.iloc[0] == pytest.approx(expected, rel=1e-12)
    assert table.operator.iloc[0] == "reshaped weight matrix"


def test_gram_circular_converges_to_the_periodic_norm():
    w = weights((4, 3, 3, 3), 8)
    periodic = dense_sigma_max(w, (6, 6), boundary="periodic")
    values = [
        cb.sigma_max_estimates(w, 6, boundary="periodic", methods=["gram_circular"],
                               gram_iterations=t).value.iloc[0]
        for t in range(0, 25, 2)
    ]
    assert all(v >= periodic for v in values)
    assert all(b <= a * (1 + 1e-12) for a, b in itertools.pairwise(values))
    assert values[0] > periodic * 1.01  # far from it at first
    assert values[-1] == pytest.approx(periodic, rel=1e-6)


def test_the_gram_iteration_papers_setting():
    # 64 -> 64 channels, 5 x 5, n = 12, periodic (Delattre et al. 2023)
    w = cb.he_normal(64, 64, 5, seed=0)
    table = cb.sigma_max_estimates(
        w, 12, boundary="periodic", methods=["periodic", "gram_circular", "singla", "araujo"]
    ).set_index("method")
    periodic = table.loc["periodic", "value"]
    gram = table.loc["gram_circular", "value"]
    assert periodic <= gram <= periodic * 1.01
    assert gram < table.loc["singla", "value"]
    assert gram < table.loc["araujo", "value"]


def test_kernel_bounds_hold_at_every_size():
    # gram_zero, araujo, singla and spectral_norm_bound bound every input size
    w = weights((3, 3, 3, 3), 9)
    names = ["gram_zero", "araujo", "singla", "spectral_norm_bound"]
    table = cb.sigma_max_estimates(w, 4, methods=names)
    assert (table.operator == "any input size").all()
    for n in (3, 9, 16):
        exact = dense_sigma_max(w, (n, n), boundary="zero")
        assert (table.value >= exact).all()
    # tighter Gram iterates: no looser than fewer steps, up to the rounding margin
    few = cb.sigma_max_estimates(w, 4, methods=["gram_zero"], gram_iterations=1).value.iloc[0]
    assert table.value.iloc[0] <= few * (1 + 1e-9)


def test_unknown_method_names_the_known_ones():
    w = weights((3, 2, 3, 3), 10)
    with pytest.raises(ValueError, match=r"unknown methods.*gram_zero.*reshaped"):
        cb.sigma_max_estimates(w, 6, methods=["exact", "lanczos"])


def test_bad_counts_are_refused():
    w = weights((3, 2, 3, 3), 11)
    with pytest.raises(ValueError, match="power_iterations"):
        cb.sigma_max_estimates(w, 6, power_iterations=0)
    with pytest.raises(ValueError, match="gram_iterations"):
        cb.sigma_max_estimates(w, 6, gram_iterations=-1)
    with pytest.raises(TypeError, match="seed"):
        cb.sigma_max_estimates(w, 6, seed=1.5)


def test_non_finite_weights_raise_as_elsewhere():
    w = weights((3, 2, 3, 3), 12)
    w[0, 0, 0, 0] = math.nan
    with pytest.raises(ValueError) as other:
        cb.size_bound(w, 6)
    with pytest.raises(ValueError) as ours:
        cb.sigma_max_estimates(w, 6)
    assert str(ours.value) == str(other.value)
