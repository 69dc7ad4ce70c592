"""The regressions page's absolute floor for the accuracy tracks (scripts/asv_publish.py)."""

from __future__ import annotations

from scripts_loader import load_script

asv_publish = load_script("asv_publish")
ACC = asv_publish.ACCURACY_UNIT


def test_accuracy_noise_is_no_regression():
    jumps = [(3, 4, 9.4e-15, 1.4e-14)]
    assert asv_publish.floored(1.4e-14, 9.4e-15, jumps, ACC) == (None, None, None)


def test_a_real_accuracy_regression_is_kept_and_its_noise_dropped():
    jumps = [(1, 2, 9.4e-15, 1.4e-14), (5, 6, 1.4e-14, 3e-9)]
    last, best, kept = asv_publish.floored(3e-9, 9.4e-15, jumps, ACC)
    assert (last, best) == (3e-9, 9.4e-15) and kept == [(5, 6, 1.4e-14, 3e-9)]


def test_latest_within_the_floor_of_the_best_lists_nothing():
    # a jump that came back: the latest value is the best value to within the floor
    jumps = [(1, 2, 1e-14, 5e-9)]
    assert asv_publish.floored(1.5e-14, 1e-14, jumps, ACC) == (None, None, None)


def test_times_are_asvs_own():
    jumps = [(1, 2, 1.0e-6, 1.4e-6)]
    assert asv_publish.floored(1.4e-6, 1.0e-6, jumps, "seconds") == (1.4e-6, 1.0e-6, jumps)
    assert asv_publish.floored(None, None, None, ACC) == (None, None, None)


def test_the_patch_reaches_asvs_publisher():
    from asv.plugins import regressions

    original = regressions.detect_regressions
    saved = {k: regressions.Regressions.__dict__[k] for k in ("publish", "_process_regression")}
    try:
        asv_publish.install()
        token = asv_publish._unit.set(ACC)
        try:
            # two flat runs with a 1e-14 step: asv alone calls it a 40% regression
            steps = [(0, 5, 1e-14, 1e-14, 0.0), (5, 10, 1.4e-14, 1.4e-14, 0.0)]
            assert original(steps, 0.05)[0] is not None
            assert regressions.detect_regressions(steps, 0.05) == (None, None, None)
        finally:
            asv_publish._unit.reset(token)
    finally:
        regressions.detect_regressions = original
        for key, value in saved.items():
            setattr(regressions.Regressions, key, value)
