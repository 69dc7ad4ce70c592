"""Dilated zero-padded layers solved on their sub-lattices, against dense SVDs of
PyTorch's own operators."""

from __future__ import annotations

import numpy as np
import pytest

import convbench as cb
from convbench import extremes
from convbench.lattice import group_layers, merge, repeated_groups, sublattices

torch = pytest.importorskip("torch")
F = torch.nn.functional

RTOL = 1e-9


def torch_values(weight, size, *, padding, dilation, groups=1):
    """Every singular value of torch's convolution (padding pairs applied with F.pad)."""
    d = len(size)
    cin = weight.shape[1] * groups
    count = cin * int(np.prod(size))
    eye = torch.eye(count, dtype=torch.float64).reshape(count, cin, *size)
    pairs = padding if isinstance(padding[0], tuple) else tuple((p, p) for p in padding)
    flat = [p for pair in reversed(pairs) for p in pair]
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[d]
    out = conv(F.pad(eye, flat), torch.from_numpy(weight), dilation=dilation, groups=groups)
    return np.linalg.svd(out.reshape(count, -1).numpy(), compute_uv=False)


CASES = {
    # (weight shape, size, padding pairs or ints, dilation, groups, expected parts)
    "divides, 4-fold": ((4, 4, 3, 3), (12, 12), (2, 2), 2, 1, 1),
    "mixed dilation": ((3, 2, 3, 3), (11, 9), (1, 0), (2, 3), 1, 2),
    "asymmetric pads": ((4, 2, 3, 3), (13, 10), ((0, 2), (1, 3)), 3, 1, 6),
    "1-D, 3-fold": ((4, 4, 3), (17,), (0,), 4, 1, 2),
    "3-D": ((2, 2, 3, 3, 3), (6, 7, 5), (2, 2, 2), 2, 1, 4),
    "grouped": ((4, 2, 3, 3), (10, 10), (1, 1), 2, 2, 4),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_dilated_layers_are_exact_at_every_multiplicity(case):
    shape, size, padding, dilation, groups, parts = CASES[case]
    w = np.random.default_rng(len(case)).standard_normal(shape)
    ref = torch_values(w, size, padding=padding, dilation=dilation, groups=groups)
    layer = cb.as_layer(w, size, boundary="zero", padding=padding, dilation=dilation,
                        groups=groups)
    found = sublattices(layer)
    assert found is not None and len(found) == parts
    assert sum(sub.rows * count for sub, count in found) <= layer.rows
    got = cb.singular_values(layer, method="explicit")
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=0, atol=RTOL * ref[0])
    multiplicity = max(count for _sub, count in found)
    for k in sorted({1, multiplicity - 1, multiplicity, multiplicity + 1, 5} - {0}):
        top = cb.singular_values(layer, method="explicit", top_k=k)
        np.testing.assert_allclose(top, ref[:k], rtol=0, atol=RTOL * ref[0])


def test_a_dilation_dividing_the_padded_grid_repeats_the_top_value():
    # the example of the zero-padding issue: 4 identical 6 x 6 layers
    w = np.random.default_rng(5).standard_normal((4, 4, 3, 3))
    ref = torch_values(w, (12, 12), padding=(2, 2), dilation=2)
    top = cb.singular_values(w, (12, 12), method="explicit", boundary="zero", top_k=6,
                             dilation=2)
    np.testing.assert_allclose(top[:4], ref[0], rtol=RTOL)
    np.testing.assert_allclose(top, ref[:6], rtol=0, atol=RTOL * ref[0])


def test_model_sigma_max_of_a_dilated_layer_and_its_certificate():
    torch.manual_seed(3)
    conv = torch.nn.Conv2d(4, 4, 3, padding=2, dilation=2).double()
    (rec,) = cb.model_spectra(conv, (1, 4, 20, 20)).layers
    ref = torch_values(conv.weight.detach().numpy(), (20, 20), padding=(2, 2),
                       dilation=2)[0]
    assert abs(rec.sigma_max - ref) <= max(rec.certificate, 1e-13) * ref
    assert rec.bound >= rec.sigma_max


def test_layers_without_sub_lattices():
    w = np.ones((2, 2, 3, 3))
    assert sublattices(cb.as_layer(w, 8, boundary="zero")) is None  # not dilated
    assert sublattices(cb.as_layer(w, 8, boundary="periodic", dilation=2)) is None
    assert sublattices(cb.as_layer(w, 8, boundary="zero", dilation=2, stride=2)) is None
    assert sublattices(cb.as_layer(w, 8, boundary="zero", dilation=2,
                                   transposed=True)) is None


def test_merge_counts_copies_and_pads_with_zeros():
    parts = [(np.array([3.0, 1.0]), 2), (np.array([2.0]), 1)]
    np.testing.assert_array_equal(merge(parts, 7, None), [3, 3, 2, 1, 1, 0, 0])
    np.testing.assert_array_equal(merge(parts, 7, 3), [3, 3, 2])
    np.testing.assert_array_equal(merge([], 2, 1), [0])


GROUP_CASES = {
    # (channels, groups, repeated weights: block of groups that repeats, size)
    "depthwise, 3 equal channels": (3, 3, 1, (9, 9)),
    "depthwise, 2 x 2 equal": (4, 4, 2, (8, 8)),
    "grouped, 2 equal groups of 2": (4, 2, 1, (8, 7)),
}


@pytest.mark.parametrize("case", GROUP_CASES, ids=list(GROUP_CASES))
def test_equal_groups_are_solved_once_and_counted(case, monkeypatch):
    channels, groups, block, size = GROUP_CASES[case]
    per = channels // groups
    rng = np.random.default_rng(len(case))
    distinct = rng.standard_normal((block * per, per, 3, 3))
    w = np.concatenate([distinct] * (groups // block))  # groups repeat in blocks
    ref = torch_values(w, size, padding=(1, 1), dilation=1, groups=groups)
    layer = cb.as_layer(w, size, boundary="zero", groups=groups)
    parts = group_layers(layer)
    assert len(parts) == block and all(c == groups // block for _s, c in parts)
    again = repeated_groups(layer)
    assert again is not None and [c for _s, c in again] == [c for _s, c in parts]
    for (a, _), (b, _) in zip(again, parts, strict=True):
        np.testing.assert_array_equal(a.weight, b.weight)
    solved = []
    real = extremes.layer_top_values

    def spy(sub, *args, **kwargs):
        solved.append(sub.groups)
        return real(sub, *args, **kwargs)

    monkeypatch.setattr(extremes, "layer_top_values", spy)
    copies = groups // block
    for k in sorted({1, copies - 1, copies, copies + 1} - {0}):
        solved.clear()
        top = cb.singular_values(layer, method="explicit", top_k=k)
        np.testing.assert_allclose(top, ref[:k], rtol=0, atol=RTOL * ref[0])
        assert solved and set(solved) == {1}, "the groups were not solved apart"
    np.testing.assert_allclose(cb.singular_values(layer, method="explicit"), ref,
                               rtol=0, atol=RTOL * ref[0])
    # distinct groups are solved whole
    other = cb.as_layer(rng.standard_normal((channels, per, 3, 3)), size, boundary="zero",
                        groups=groups)
    assert repeated_groups(other) is None and len(group_layers(other)) == groups
