"""The script that measures the fast path's targets: its table and its files."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("fast_targets", ROOT / "scripts" / "fast_targets.py")
script = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(script)


def test_free_pair_never_returns_an_existing_file(tmp_path):
    first = tmp_path / "fast-abc.json"
    json_path, txt_path = script.free_pair(str(first), ".txt")
    assert (json_path, txt_path) == (str(first), str(tmp_path / "fast-abc.txt"))
    first.write_text("{}")
    assert script.free_pair(str(first), ".txt") == (
        str(tmp_path / "fast-abc-2.json"), str(tmp_path / "fast-abc-2.txt"))
    # a stray table alone also moves both to a new stem, so the pair stays matched
    (tmp_path / "fast-abc-2.txt").write_text("")
    assert script.free_pair(str(first), ".txt") == (
        str(tmp_path / "fast-abc-3.json"), str(tmp_path / "fast-abc-3.txt"))


def test_peak_rss_is_this_process(tmp_path):
    assert 10 < script.peak_rss_mib() < 16 * 1024


def test_quick_table_and_json(tmp_path, capsys, monkeypatch):
    # the smallest sizes, one repeat, no summarize child: checks the plumbing only
    monkeypatch.setattr(script, "QUICK", [(1, 16, 30.0), (4, 8, 4.0)])
    path = tmp_path / "t.json"
    assert script.main(["--quick", "--repeats", "1", "--skip-summarize", "--only", "targets",
                        "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "| 1 | 16 |" in out and "| 4 | 8 |" in out
    data = json.loads(path.read_text())
    assert [case["c"] for case in data["cases"]] == [1, 4]
    for case in data["cases"]:
        assert case["dev_vs_lfa"] < 1e-12 and case["threads_identical"]
    # the table beside the raw numbers, and the same table re-printed from them
    table = (tmp_path / "t.txt").read_text().splitlines()
    assert table[1:] == [line for line in out.splitlines() if line.startswith("|")]
    assert "median of 1 interleaved repeats" in table[0]
    assert script.main(["--table-from", str(path)]) == 0
    assert capsys.readouterr().out.splitlines() == table


def test_table_ratios_come_from_the_stored_medians():
    run = {"cores": 2, "repeats": 3, "cases": [{
        "c": 4, "n": 64, "target": 4.0, "dev_vs_lfa": 1e-13, "dev_vs_fft": 3e-13,
        "median_s": {"lfa": 2.0, "fft": 3.0, "fast1": 0.5, "fastN": 0.25},
        "times_s": {"lfa": [2.0] * 3}}],
        "summarize": {"n": 64, "c": 4, "seconds": 1.25, "passes": 2, "peak_rss_mib": 99.6,
                      "count": 16384}}
    lines = script.table_lines(run)
    assert lines[3] == ("| 4 | 64 | 2.000 | 3.000 | 0.500 | 0.250 | 4.0x | 6.0x | 4x | "
                        "3.0e-13 | 2.00x |")
    assert lines[-1].startswith("summarize n=64 c=4: 1.2 s, 2 passes, peak RSS 100 MiB")


def test_wide_table_alone(tmp_path, capsys, monkeypatch):
    # the wide table's plumbing at toy sizes: fast, lfa and torch agree, ratios stored
    import pytest

    pytest.importorskip("torch")
    monkeypatch.setattr(script, "WIDE_QUICK", [(4, 8, 3.0, 4.0)])
    path = tmp_path / "w.json"
    assert script.main(["--quick", "--repeats", "1", "--only", "wide", "--cold-processes",
                        "1", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    data = json.loads(path.read_text())
    assert data["cases"] == [] and "summarize" not in data
    (case,) = data["wide"]["cases"]
    assert (case["c"], case["n"], case["torch_threads"]) == (4, 8, 1)
    assert max(case["dev_vs_lfa"].values()) < 1e-12
    assert set(case["median_s"]) == {"fast1", "fast2", "lfa", "torch", "half_svd", "half_eig"}
    cold = data["wide"]["cold_start"]
    assert cold["processes"] == 1 and cold["first_s"] > 0 and len(cold["runs"]) == 1
    assert "| 4 | 8 |" in out and "cold start c=4 n=16" in out
    table = (tmp_path / "w.txt").read_text().splitlines()
    assert table[0].startswith("# wide channels") and table[-1].startswith("cold start")


def test_wide_row_marks_targets():
    res = {"c": 128, "n": 28, "target_lfa": 3.0, "target_torch": 4.0,
           "median_s": {"fast1": 1.0, "fast2": 0.5, "lfa": 3.5, "torch": 2.0},
           "dev_vs_lfa": {"fast1": 1e-13, "fast2": 1e-13, "torch": 2e-9}}
    line = script.wide_line(res)
    assert line == ("| 128 | 28 | 1.000 | 3.500 | 2.000 | 3.50x | >= 3x met | 2.00x | "
                    ">= 4x missed | 2.0e-09 ok | 2.00x | >= 1.7x met | | |")  # stored
    # before the floor was measured: blank; with it, the cheaper LAPACK route
    res["median_s"] |= {"half_svd": 0.8, "half_eig": 0.7}
    assert script.wide_line(res).endswith("| >= 1.7x met | 0.700 | 5.00x |")
