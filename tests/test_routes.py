"""The block routes (convbench.routes): the decision itself, and that the fast path and
the memory/time budget both follow it."""

from __future__ import annotations

import numpy as np
import pytest

import convbench as cb
from convbench import budget, routes
from convbench.fast import plane


@pytest.mark.parametrize(
    ("r", "k", "precision", "small", "route"),
    [
        (7, 1, "double", False, "norm"),
        (2, 2, "single", False, "closed-form"),
        (3, 3, "double", False, "gram-soa"),
        (32, 32, "double", False, "gram-soa"),
        (16, 16, "double", True, "gram"),  # small jobs: LAPACK, not the compiled kernel
        (4, 4, "double", True, "gram-soa"),  # too narrow for the small-job rule to apply
        (8, 8, "single", False, "jacobi"),
        (9, 9, "single", False, "svd"),
        (33, 33, "double", False, "gram"),
        (routes.GRAM_SQUARE_MAX, routes.GRAM_SQUARE_MAX, "double", False, "gram"),
        (routes.GRAM_SQUARE_MAX + 1, routes.GRAM_SQUARE_MAX + 1, "double", False, "svd"),
        (512, 512, "double", False, "svd"),
        (66, 33, "double", False, "gram-coef"),
        (65, 33, "double", False, "gram"),
        (1024, 512, "double", False, "gram-coef"),
        (1024, 512, "single", False, "svd"),
    ],
)
def test_block_route(r, k, precision, small, route):
    small = small and routes.small_job(1, k)  # the rule itself: narrow blocks never
    assert routes.block_route(r, k, precision, small) == route


def test_block_route_wants_tall_blocks():
    with pytest.raises(ValueError, match="oriented tall"):
        routes.block_route(3, 4)


def test_small_job_rule():
    assert routes.small_job(routes.SMALL_JOB_ENTRIES, routes.SMALL_JOB_MIN_K)
    assert not routes.small_job(routes.SMALL_JOB_ENTRIES + 1, routes.SMALL_JOB_MIN_K)
    assert not routes.small_job(1, routes.SMALL_JOB_MIN_K - 1)


@pytest.mark.parametrize(
    ("cout", "cin", "n"),
    [(5, 4, 64), (16, 16, 8), (16, 16, 512), (40, 40, 4), (40, 100, 4), (90, 90, 2)],
)
def test_fast_plan_follows_the_route(cout, cin, n):
    w = cb.pytorch_default(cout, cin, (3, 3), seed=1)
    plan = plane.Plan(w, n, n)
    r, k = max(cout, cin), min(cout, cin)
    route = routes.block_route(r, k, "double", plane.small_job(n, n, r, k))
    assert plan.soa == (route == "gram-soa")
    assert plan.coef == (route == "gram-coef")


def test_budget_prices_by_route(monkeypatch):
    """The budget reads the same thresholds: moving GRAM_SQUARE_MAX past a square
    layer's width moves its price from the SVD's to the Gram route's."""
    k = routes.GRAM_SQUARE_MAX + 1
    svd = budget.estimate(np.zeros((k, k, 3, 3)), (8, 8), "fast").seconds
    monkeypatch.setattr(routes, "GRAM_SQUARE_MAX", k)
    assert routes.block_route(k, k) == "gram"
    gram = budget.estimate(np.zeros((k, k, 3, 3)), (8, 8), "fast").seconds
    assert gram != pytest.approx(svd, rel=0.05)
