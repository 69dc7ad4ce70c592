"""Every bad input gets a clear error naming the argument, before any large allocation."""

from __future__ import annotations

import numpy as np
import pytest

import convbench as cb

W = np.ones((2, 2, 3, 3))


@pytest.mark.parametrize(
    ("weight", "exc", "match"),
    [
        (np.ones((2, 3)), ValueError, r"1 to 3 spatial dimensions, \(cout, cin/groups, \*kernel\)"),
        (np.ones((2, 2, 3, 3, 1, 1)), ValueError, "weight must have 1 to 3 spatial"),
        (np.ones((0, 2, 3, 3)), ValueError, "weight has an empty dimension"),
        (np.full((2, 2, 3, 3), np.nan), ValueError, "weight contains non-finite"),
        (np.full((2, 2, 3, 3), np.inf), ValueError, "weight contains non-finite"),
        (np.array([[["a"]]]), TypeError, "weight must be a real numeric array"),
        (np.ones((2, 2, 3, 3), dtype=complex), TypeError, "weight must be real"),
        (np.ones((2, 2, 3, 3), dtype=object), TypeError, "weight must be a real numeric"),
        ("not an array", TypeError, "weight must be a real numeric array"),
        ([[[[1, 2], [3]]]], TypeError, "weight must be a numeric array"),
    ],
)
@pytest.mark.parametrize("func", ["singular_values", "symbol", "unrolled"])
def test_bad_weights(weight, exc, match, func):
    with pytest.raises(exc, match=match):
        getattr(cb, func)(weight, 8)


@pytest.mark.parametrize(
    ("shape", "exc", "match"),
    [
        (0, ValueError, "shape entries must be positive"),
        (-4, ValueError, "shape entries must be positive"),
        ((8, 0), ValueError, "shape entries must be positive"),
        (8.0, TypeError, "shape must be an int or a tuple of 2 ints"),
        ((8, 8.5), TypeError, "shape entries must be integers"),
        ((8, 8, 8), ValueError, "shape must be an int or a tuple of 2 ints for a 2-D layer"),
        (True, TypeError, "shape must be an int or a tuple"),
        ("8", TypeError, "shape must be an int or a tuple"),
        (2, ValueError, "kernel 3x3 is larger than the input 2x2"),
        ((8, 2), ValueError, "kernel 3x3 is larger than the input 8x2"),
    ],
)
@pytest.mark.parametrize("func", ["singular_values", "symbol", "unrolled"])
def test_bad_shapes(shape, exc, match, func):
    with pytest.raises(exc, match=match):
        getattr(cb, func)(W, shape)


def test_hwio_shape_message_names_the_layout():
    with pytest.raises(ValueError, match=r"\(\*kernel, cin/groups, cout\) for layout='hwio'"):
        cb.singular_values(np.ones((3, 3)), 8, layout="hwio")


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"method": "svd"}, ValueError, "method must be one of"),
        ({"boundary": "reflect"}, ValueError, "boundary must be one of"),
        ({"layout": "nchw"}, ValueError, "layout must be one of"),
        ({"method": "lfa", "boundary": "zero"}, ValueError, "use method='explicit'"),
        ({"method": "fft", "boundary": "zero"}, ValueError, "computes boundary 'periodic' only"),
        ({"top_k": 0}, ValueError, "top_k must be between 1"),
        ({"top_k": 10**6}, ValueError, "top_k must be between 1"),
        ({"top_k": 2.0}, TypeError, "top_k must be a positive integer"),
        ({"method": "fftw", "threads": 0}, ValueError, "threads must be a positive integer"),
        ({"method": "fftw", "planner_effort": "FAST"}, ValueError, "planner_effort must be"),
        ({"memory_budget": "lots"}, ValueError, "cannot parse memory budget"),
        ({"memory_budget": -1}, ValueError, "memory budget must be a positive"),
    ],
)
def test_bad_options(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        cb.singular_values(W, 8, **kwargs)


def test_symbol_rejects_explicit_and_unknown_methods():
    with pytest.raises(ValueError, match="method must be one of"):
        cb.symbol(W, 8, method="explicit")
    with pytest.raises(ValueError, match="boundary must be one of"):
        cb.unrolled(W, 8, boundary="circular")


def test_generators_validate():
    with pytest.raises(ValueError, match="cout must be positive"):
        cb.pytorch_default(0, 2)
    with pytest.raises(TypeError, match="cin must be an integer"):
        cb.he_normal(2, 2.5)
    with pytest.raises(ValueError, match="kernel entries must be positive"):
        cb.pytorch_default(2, 2, kernel=0)
    with pytest.raises(ValueError, match="layout must be one of"):
        cb.pytorch_default(2, 2, layout="nhwc")
