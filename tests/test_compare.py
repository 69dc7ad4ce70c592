"""make compare (scripts/compare.py): unchanged values are never a change, accuracy noise
below 1e-12 of sigma_max is not one, and times change by the factor as in asv."""

from __future__ import annotations

from pathlib import Path

import pytest
from scripts_loader import load_script

ROOT = Path(__file__).resolve().parent.parent
compare = load_script("compare")
Cell = compare.Cell
ACC = compare.ACCURACY_UNIT


@pytest.mark.parametrize("value", [-0.1, -3e-15, 0.0, 2.5, -7.0])
@pytest.mark.parametrize("unit", ["seconds", "bytes", ACC, "threads", None])
def test_an_unchanged_value_is_the_same_whatever_its_sign(value, unit):
    assert compare.classify(Cell(value), Cell(value), unit) == "same"


def test_asvs_own_rule_calls_an_unchanged_negative_value_better():
    # the defect the wrapper exists for: asv's `a < b / factor` with a == b < 0
    from asv.commands.compare import _is_result_better

    assert _is_result_better(-0.1, -0.1, None, None, 1.1)
    assert compare.classify(Cell(-0.1), Cell(-0.1), ACC) == "same"


def test_accuracy_noise_below_the_floor_is_not_a_change():
    assert compare.classify(Cell(9.4e-15), Cell(1.4e-14), ACC) == "same"
    assert compare.classify(Cell(-2e-13), Cell(3e-13), ACC) == "same"


def test_accuracy_changes_above_the_floor_by_magnitude():
    assert compare.classify(Cell(1e-15), Cell(1e-9), ACC) == "worse"
    assert compare.classify(Cell(1e-9), Cell(1e-15), ACC) == "better"
    # a signed error moving away from zero is worse, towards zero better
    assert compare.classify(Cell(-0.10), Cell(-0.12), ACC) == "worse"
    assert compare.classify(Cell(-0.12), Cell(-0.10), ACC) == "better"


def test_times_change_beyond_the_factor_only():
    assert compare.classify(Cell(1.0), Cell(1.05), "seconds", 1.1) == "same"
    assert compare.classify(Cell(1.0), Cell(1.2), "seconds", 1.1) == "worse"
    assert compare.classify(Cell(1.0), Cell(0.5), "seconds", 1.1) == "better"


def test_a_move_past_the_factor_that_the_samples_cannot_separate_is_unsure():
    # two samples each, overlapping: asv's test cannot tell them apart, yet the median
    # moved 1.8x; that is listed, never called the same
    stats = {"repeat": 2, "ci_99_a": 0.5, "ci_99_b": 3.0, "q_25": 0.9, "q_75": 2.0,
             "number": 1}
    old = Cell(1.0, stats, [0.6, 1.4])
    new = Cell(1.8, stats, [1.0, 2.6])
    assert compare.classify(old, new, "seconds", 1.1) == "unsure"
    apart = Cell(1.8, {**stats, "ci_99_a": 1.79, "ci_99_b": 1.81}, [1.79, 1.81])
    near = Cell(1.0, {**stats, "ci_99_a": 0.99, "ci_99_b": 1.01}, [0.99, 1.01])
    assert compare.classify(near, apart, "seconds", 1.1) == "worse"


def test_counts_change_without_a_direction():
    assert compare.classify(Cell(2), Cell(1), "threads") == "changed"


def test_missing_skipped_or_re_versioned_cells_are_not_comparable():
    assert compare.classify(Cell(None), Cell(1.0), "seconds") == "n/a"
    assert compare.classify(Cell(float("nan")), Cell(1.0), "seconds") == "n/a"
    assert compare.classify(Cell(1.0, version="1"), Cell(2.0, version="2"), "seconds") == "n/a"


def test_the_committed_runs_compare(capsys):
    runs = sorted((ROOT / "results").glob("*/*-virtualenv-*.json"))
    if len(runs) < 2:
        pytest.skip("fewer than two committed runs")
    import json

    a, b = (json.loads(p.read_text()) for p in runs[:2])
    if a["params"]["machine"] != b["params"]["machine"]:
        pytest.skip("the first two committed runs are on different machines")
    machine = a["params"]["machine"]
    assert compare.main(["--machine", machine, a["commit_hash"], b["commit_hash"]]) == 0
    out = capsys.readouterr().out
    assert f"on {machine}:" in out and " same" in out


def test_an_unknown_commit_is_named(capsys):
    assert compare.main(["--machine", "vm", "deadbeef", "feedface"]) == 1
    assert "no results of commit 'deadbeef'" in capsys.readouterr().err
