"""The claims study: verdict statistics on synthetic samples, the results writer, and a
quick run of scripts/claims.py end to end."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from convbench.verdicts import (
    VERDICTS,
    direction,
    median_ratio_ci,
    power_law_fit,
    trend,
    verdict,
)

ROOT = Path(__file__).resolve().parent.parent


def _load_script():
    """The script as a module; the thread variables it pins are put back afterwards."""
    names = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
             "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
    saved = {name: os.environ.get(name) for name in names}
    spec = importlib.util.spec_from_file_location("claims_script", ROOT / "scripts" / "claims.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("claims_script", module)
    try:
        spec.loader.exec_module(module)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return module


# ---------------------------------------------------------------------------------------
# verdict statistics


def test_a_ratio_whose_interval_straddles_one_is_not_faster():
    rng = np.random.default_rng(1)
    # the same distribution on both sides: the interval must contain 1
    a = rng.lognormal(0.0, 0.2, size=7)
    b = rng.lognormal(0.0, 0.2, size=7)
    ci = median_ratio_ci(a, b)
    assert ci.low <= 1.0 <= ci.high
    assert not ci.excludes(1.0)
    assert direction(ci) == "no difference shown"


def test_a_clear_effect_is_detected_in_both_directions():
    rng = np.random.default_rng(2)
    slow = 1.5 * rng.lognormal(0.0, 0.03, size=7)
    fast = rng.lognormal(0.0, 0.03, size=7)
    ci = median_ratio_ci(slow, fast)
    assert ci.low > 1.3 and ci.high < 1.7
    assert direction(ci) == "faster"
    assert direction(median_ratio_ci(fast, slow)) == "slower"
    assert abs(ci.estimate - np.median(slow) / np.median(fast)) < 1e-12


def test_paired_resampling_cancels_a_drift_shared_by_both_sides():
    # the machine slows down during the run; both sides drift together, 10% apart
    drift = np.linspace(1.0, 3.0, 9)
    ci_paired = median_ratio_ci(1.1 * drift, drift)
    ci_unpaired = median_ratio_ci(1.1 * drift, drift, paired=False)
    assert ci_paired.low > 1.0
    assert ci_unpaired.high - ci_unpaired.low > ci_paired.high - ci_paired.low


def test_median_ratio_ci_rejects_bad_input():
    with pytest.raises(ValueError, match="numerator"):
        median_ratio_ci([], [1.0])
    with pytest.raises(ValueError, match="denominator"):
        median_ratio_ci([1.0], [0.0])
    with pytest.raises(ValueError, match="equal lengths"):
        median_ratio_ci([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="level"):
        median_ratio_ci([1.0], [1.0], level=1.5)


def test_verdict_rules():
    assert verdict([True, True]) == VERDICTS[0] == "reproduced"
    assert verdict({"a": True, "b": False}) == "partly reproduced"
    assert verdict([False]) == "not reproduced"
    with pytest.raises(ValueError):
        verdict([])
    with pytest.raises(TypeError):
        verdict([1, 0])


def test_power_law_fit_recovers_exponents_with_honest_intervals():
    rng = np.random.default_rng(3)
    n = np.repeat([64, 128, 256, 512, 1024], 4).astype(float)
    c = np.tile([1, 4, 16, 64], 5).astype(float)
    y = 2e-9 * n**2 * c**3 * rng.lognormal(0, 0.05, size=n.size)
    fit = power_law_fit(y, n=n, c=c)
    assert fit.ci["n"][0] < 2.0 < fit.ci["n"][1]
    assert fit.ci["c"][0] < 3.0 < fit.ci["c"][1]
    assert fit.stderr["n"] < 0.05 and fit.r2 > 0.99 and fit.dof == n.size - 3
    # a log factor shows as an exponent above 2 over this range
    y_log = 1e-9 * n**2 * np.log(n) * rng.lognormal(0, 0.01, size=n.size)
    assert power_law_fit(y_log, n=n).ci["n"][0] > 2.0


def test_trend_reads_the_slope_interval():
    x = np.array([64, 128, 256, 512, 1024, 2048])
    assert trend(x, 1.0 + 0.1 * np.log2(x))[0] == "rises"
    assert trend(x, 1.0 / x)[0] == "falls"
    flat = np.array([1.0, 1.02, 0.98, 1.01, 0.99, 1.0])
    assert trend(x, flat)[0] == "no trend shown"


def test_power_law_fit_rejects_degenerate_input():
    with pytest.raises(ValueError, match="more points"):
        power_law_fit([1.0, 2.0], n=[1.0, 2.0])
    with pytest.raises(ValueError, match="independently"):
        power_law_fit([1.0, 2.0, 3.0, 4.0], n=[1, 2, 3, 4], m=[1, 2, 3, 4])
    with pytest.raises(ValueError, match="regressor"):
        power_law_fit([1.0, 2.0])


# ---------------------------------------------------------------------------------------
# the study's files


def test_results_are_never_overwritten(tmp_path):
    claims = _load_script()
    path = claims.write_new(tmp_path / "m" / "abc.json", {"a": 1})
    assert json.loads(path.read_text()) == {"a": 1}
    with pytest.raises(FileExistsError):
        claims.write_new(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 1}


def test_result_path_names_machine_commit_and_time(tmp_path):
    import datetime as dt

    claims = _load_script()
    when = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    path = claims.result_path(tmp_path, "vm", "0123456789abcdef", when)
    assert path == tmp_path / "vm" / "01234567-20250102T030405Z.json"
    with pytest.raises(ValueError, match="machine"):
        claims.result_path(tmp_path, "../up", "0123", when)


def test_plan_covers_every_required_cell():
    claims = _load_script()
    cells = claims.plan()
    stages = {(c.c, c.n): c for c in cells if c.kind == "stages"}
    need = {1: 4096, 4: 4096, 16: 1024, 64: 256}
    for c, n in need.items():
        assert (c, n) in stages and stages[(c, n)].repeats >= 5
        assert {"lfa", "fft"} <= set(stages[(c, n)].paths)
    assert all(c.repeats >= 7 for c in stages.values() if c.n <= 256 and c.c <= 4)
    kernel = [c for c in cells if c.kind == "kernel"]
    assert {c.k for c in kernel} >= {3} and any(c.k == c.n // 4 for c in kernel)


def test_quick_run_end_to_end(tmp_path):
    claims = _load_script()
    argv = ["--quick", "--out-dir", str(tmp_path), "--machine", "test", "--quiet-wait", "0"]
    assert claims.main(argv) == 0
    files = list((tmp_path / "test").glob("*.json"))
    assert len(files) == 1 and not list((tmp_path / "test").glob("*.partial"))
    data = json.loads(files[0].read_text())
    assert data["complete"] and data["quick"] and not data["left_out"]
    assert data["threads"]["fftw_threads"] == 1
    kinds = {cell["kind"] for cell in data["cells"]}
    assert kinds == {"stages", "layout", "memory", "kernel", "boundary"}
    assert data["quiet"] == (data["load_median"] <= data["quiet_limit"])
    for cell in data["cells"]:
        assert len(cell["load_before"]) == 3
        assert cell["waited_s"] == 0 and isinstance(cell["quiet"], bool)
        if cell["kind"] == "stages":  # the published codes beside the library's paths
            assert {"paper-lfa", "three-liner"} <= set(cell["samples"])
        if cell["kind"] == "layout":
            assert list(cell["samples"]) == list(claims.LAYOUTS)
            assert not cell["contiguous"]["fft-view"] and cell["contiguous"]["fft"]
        if cell["kind"] in ("stages", "kernel"):
            for samples in cell["samples"].values():
                assert len(samples["total"]) == cell["repeats"] == 3
            assert all(dev < 1e-10 for dev in cell["max_dev"].values())
        if cell["kind"] == "boundary":
            assert [s["seed"] for s in cell["seed_errors"]] == list(cell["seeds"])
        if cell["kind"] == "stages" and cell["library"]:
            assert all(len(v) == 3 for v in cell["library_samples"].values())
        if cell["kind"] == "memory":
            assert set(cell["samples"]) == {"lfa", "fft", "fftw"}


def test_the_study_waits_for_a_quiet_machine_and_marks_a_loud_run():
    claims = _load_script()
    limit = claims.quiet_limit()
    loads = iter([limit + 3, limit + 1, limit - 0.5, limit - 0.5])
    slept = []
    waited = claims.wait_for_quiet(100, lambda msg: None, poll=10, load=lambda: next(loads),
                                   sleep=slept.append)
    assert waited == 20 and slept == [10, 10]
    # never past the longest wait
    slept.clear()
    assert claims.wait_for_quiet(25, lambda msg: None, poll=10, load=lambda: limit + 1,
                                 sleep=slept.append) == 25
    assert slept == [10, 10, 5]
    loud = [{"load_before": [limit + 1, 0, 0], "load_after": [limit + 2, 0, 0]}] * 3
    summary = claims.quiet_summary(loud)
    assert summary["quiet"] is False and summary["load_median"] == limit + 1.5
    calm = [{"load_before": [0.5, 0, 0], "load_after": [1.0, 0, 0]}]
    assert claims.quiet_summary(calm)["quiet"] is True
    assert claims.quiet_summary([])["quiet"] is None
