"""The script that times the fast path on real layers: its tables and its record (the
format only; its timings are not checked)."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location(
    "layer_targets", ROOT / "scripts" / "layer_targets.py"
)
script = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(script)

NUMBER = r"[0-9]+\.[0-9]+"


def _has_base() -> bool:
    try:
        subprocess.run(["git", "cat-file", "-e", f"{script.BASE}^{{commit}}"], cwd=ROOT,
                       check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return False
    return True


@pytest.mark.skipif(not _has_base(), reason=f"commit {script.BASE} is not in this checkout")
def test_tiny_run_prints_the_tables_and_keeps_the_samples(tmp_path, capsys, monkeypatch):
    # two layers and one plain layer at tiny sizes; the base library is exported and
    # compiled under tmp_path
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(script, "LAYERS", script.LAYERS[:2])
    monkeypatch.setattr(script, "QUICK_N", [8, 8])
    monkeypatch.setattr(script, "QUICK_PLAIN", [(1, 8)])
    out_dir = tmp_path / "out"
    assert script.main(["--quick", "--repeats", "2", "--out-dir", str(out_dir)]) == 0
    printed = capsys.readouterr().out.splitlines()
    tables = [line for line in printed if line.startswith(("#", "|"))]
    assert tables[1] == "| layer | n | lfa s | fast s | lfa/fast | target | max dev / sigma_max |"
    rows = [line for line in tables if line.startswith("| Conv2d") or line.startswith("| depth")]
    assert len(rows) == 2
    assert re.fullmatch(
        rf"\| Conv2d 64->128, 3x3, stride 2 \| 8 \| {NUMBER} \| {NUMBER} \| {NUMBER}x "
        r"\| >= 2x \| [0-9.]+e-[0-9]+ \|",
        rows[0],
    )
    assert "| >= 5x |" in rows[1]
    plain = [line for line in tables if line.startswith("| 1 | 8 |")]
    assert len(plain) == 1 and plain[0].endswith(" |")
    cells = [c.strip() for c in plain[0].strip("|").split("|")]
    assert len(cells) == 14 and cells[9] == ">= 0.90" and cells[12] == "bit for bit"
    # the record: one file named after the commit, every sample, the machine, versions
    (path,) = out_dir.glob("layers-*.json")
    record = json.loads(path.read_text())
    assert path.name.startswith(f"layers-{record['commit'][:8]}")
    assert record["repeats"] == 2
    assert record["base"]["commit"].startswith(script.BASE)
    assert {"numpy", "scipy", "numba", "python"} <= set(record["versions"])
    assert record["machine"]["cores"] >= 1
    assert record["clock"] == "cpu"
    for case in record["layers"]:
        assert set(case["samples_s"]) == set(case["samples_cpu_s"]) == {"current lfa",
                                                                       "current fast"}
        assert all(len(v) == 2 and min(v) > 0 for v in case["samples_s"].values())
        assert all(len(v) == 2 and min(v) > 0 for v in case["samples_cpu_s"].values())
        assert case["check"]["max_dev"] < 1e-12
    (case,) = record["plain"]
    assert set(case["samples_s"]) == {"current lfa", "current fast", "base lfa", "base fast"}
    assert case["check"]["fast_sha256"] == case["base_check"]["fast_sha256"]
    assert len(record["order"]) == 2 * (2 * 2 + 4)
    # the tables again from the record alone
    assert script.main(["--table-from", str(path)]) == 0
    again = capsys.readouterr().out.splitlines()
    assert [line for line in again if line.startswith(("#", "|"))] == tables
    # a second run, of the last commit's library, never overwrites the first
    first = path.read_text()
    monkeypatch.setattr(script, "LAYERS", script.LAYERS[1:])
    monkeypatch.setattr(script, "QUICK_N", [8])
    assert script.main(["--quick", "--repeats", "1", "--no-base", "--current", "HEAD",
                        "--out-dir", str(out_dir)]) == 0
    assert path.read_text() == first
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()
    (second,) = set(out_dir.glob("layers-*.json")) - {path}
    assert second.name == f"layers-{head[:8]}.json" or second.name.startswith(
        f"layers-{head[:8]}-")
    record = json.loads(second.read_text())
    assert record["commit"] == head and record["dirty"] is False
    assert record["plain"] == [] and "base" not in record


def test_table_ratios_come_from_the_medians():
    record = {
        "machine": {"cpu": "cpu", "cores": 2}, "versions": {"numpy": "2"}, "repeats": 3,
        "commit": "0123456789ab", "dirty": False, "base": {"commit": "93cd84c1aaaa"},
        "layers": [{"name": "L", "n": 8, "target": 2.0, "check": {"max_dev": 2e-15},
                    "samples_s": {"current lfa": [3.0, 2.0, 9.0],
                                  "current fast": [1.0, 0.5, 0.25]}}],
        "plain": [{"c": 4, "n": 16, "check": {"max_dev": None, "fast_sha256": "a"},
                   "base_check": {"fast_sha256": "b"},
                   "samples_s": {"current lfa": [2.0], "current fast": [1.0],
                                 "base lfa": [3.0], "base fast": [1.0]}}],
    }
    lines = script.table_lines(record)
    assert lines[0].endswith("times: wall seconds, medians of 3 interleaved repeats, ratios: "
                             "medians of the repeats' ratios, commit 01234567")
    # times 3 and 0.5 are the medians; the ratio is that of the repeats (3, 4, 36)
    assert lines[3] == "| L | 8 | 3.0000 | 0.5000 | 4.0x | >= 2x | 2.0e-15 |"
    assert lines[-1] == ("| 4 | 16 | 3.000 | 1.000 | 3.0x | 2.000 | 1.000 | 2.0x | 0.67 | "
                         ">= 0.90 | 1.00 | 0.67 | differ | shapes or order differ |")
    record["load_average"] = [3.25, 3.0, 2.0]
    assert ", load average 3.2 at the start," in script.table_lines(record)[0]
    # a record made with the CPU clock tabulates its CPU samples
    record["clock"] = "cpu"
    case = record["layers"][0]
    case["clock"] = "cpu"
    case["samples_cpu_s"] = {"current lfa": [1.0], "current fast": [0.5]}
    lines = script.table_lines(record)
    assert "times: CPU seconds" in lines[0]
    assert lines[3] == "| L | 8 | 1.0000 | 0.5000 | 2.0x | >= 2x | 2.0e-15 |"


def test_free_path_never_returns_an_existing_file(tmp_path):
    assert script.free_path(tmp_path, "layers-x") == tmp_path / "layers-x.json"
    (tmp_path / "layers-x.json").write_text("{}")
    (tmp_path / "layers-x-2.json").write_text("{}")
    assert script.free_path(tmp_path, "layers-x") == tmp_path / "layers-x-3.json"
