"""The script that measures the fast path's targets: its table and its files."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("fast_targets", ROOT / "scripts" / "fast_targets.py")
script = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(script)


def test_free_path_never_returns_an_existing_file(tmp_path):
    first = tmp_path / "fast-abc.json"
    assert script.free_path(str(first)) == str(first)
    first.write_text("{}")
    second = script.free_path(str(first))
    assert second == str(tmp_path / "fast-abc-2.json")
    Path(second).write_text("{}")
    assert script.free_path(str(first)) == str(tmp_path / "fast-abc-3.json")


def test_peak_rss_is_this_process(tmp_path):
    assert 10 < script.peak_rss_mib() < 16 * 1024


def test_quick_table_and_json(tmp_path, capsys, monkeypatch):
    # the smallest sizes, one repeat, no summarize child: checks the plumbing only
    monkeypatch.setattr(script, "QUICK", [(1, 16, 30.0), (4, 8, 4.0)])
    path = tmp_path / "t.json"
    assert script.main(["--quick", "--repeats", "1", "--skip-summarize",
                        "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "| 1 | 16 |" in out and "| 4 | 8 |" in out
    data = json.loads(path.read_text())
    assert [case["c"] for case in data["cases"]] == [1, 4]
    for case in data["cases"]:
        assert case["dev_vs_lfa"] < 1e-12 and case["threads_identical"]
