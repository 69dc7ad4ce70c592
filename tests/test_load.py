"""The load benchmark's measurement and its script (benchmarks/load.py,
scripts/load_ratios.py), at tiny sizes: what they record, never how fast it is."""

from __future__ import annotations

import json
import os
import time

import pytest

from benchmarks import load
from benchmarks.networks import yolov8n
from tests.scripts_loader import load_script

TINY = ("--sizes", "16,32,32", "--rounds", "1")


def test_yolov8n_table_is_the_detector():
    # 63 trained convolutions; their weights hold 3,146,160 of YOLOv8n's 3,151,904
    # parameters (the rest are BatchNorm's and the biases)
    table = yolov8n(320)
    assert len(table) == 63
    assert sum(t.cout * t.cin * t.kernel**2 for t in table) == 3_146_160
    assert (table[6].cout, table[6].cin, table[6].kernel, table[6].stride,
            table[6].size) == (64, 32, 3, 2, 80)  # the layer first reported slow
    assert {t.size for t in table} == {320, 160, 80, 40, 20, 10}


def test_busy_processes_spin_while_the_block_runs_and_are_gone_after():
    with load.busy_processes(2) as procs:
        time.sleep(0.3)
        assert all(p.poll() is None for p in procs)
        pids = [p.pid for p in procs]
    for proc, pid in zip(procs, pids, strict=True):
        assert proc.poll() is not None
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_measure_alternates_quiet_and_loaded_samples():
    notes = []
    samples = load.measure(("fast",), rounds=2, sizes=(16, 32, 32), report=notes.append)
    assert list(samples) == ["fast"]
    assert len(samples["fast"]["quiet"]) == len(samples["fast"]["loaded"]) == 2
    assert all(t > 0 for t in samples["fast"]["quiet"] + samples["fast"]["loaded"])
    assert [n.split(":")[0] for n in notes] == ["fast round 1/2", "fast round 2/2"]
    quiet = load.measure(("fast",), rounds=1, sizes=(16, 32, 32), loaded=False)
    assert quiet["fast"]["loaded"] == [] and len(quiet["fast"]["quiet"]) == 1


def test_ratio_is_the_median_loaded_over_the_median_quiet():
    assert load.ratio({"quiet": [1.0, 2.0, 9.0], "loaded": [4.0, 6.0, 5.0]}) == 2.5


def test_script_writes_a_new_file_each_run_and_prints_its_table(tmp_path, monkeypatch,
                                                                capsys):
    script = load_script("load_ratios")
    monkeypatch.setattr(script, "OUT", tmp_path)
    assert script.main([*TINY, "--workloads", "fast"]) == 0
    assert script.main([*TINY, "--workloads", "fast", "--quiet-only"]) == 0
    first, second = sorted(tmp_path.glob("load-*.json"), key=lambda p: len(p.name))
    assert second.name == first.name.replace(".json", "-2.json")
    record = json.loads(first.read_text())
    assert record["sizes"] == {"fast_n": 16, "summarize_n": 32, "model_input": 32}
    assert set(record["ratios"]) == {"fast"}
    assert any(p["user_api"] == "blas" for p in record["threadpools"])
    assert json.loads(second.read_text())["ratios"] == {}
    out = capsys.readouterr().out
    assert "| fast |" in out and "(not measured)" in out
    assert script.main(["--table-from", str(first)]) == 0
    assert "| fast |" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [
    ["--rounds", "0"], ["--sizes", "16,32"], ["--sizes", "a,b,c"], ["--sizes", "0,32,32"],
    ["--workloads", "fast,nope"],
])
def test_script_refuses_bad_arguments(argv, tmp_path, monkeypatch):
    script = load_script("load_ratios")
    monkeypatch.setattr(script, "OUT", tmp_path)
    with pytest.raises(SystemExit) as exc:
        script.main(argv)
    assert exc.value.code == 2
    assert not list(tmp_path.iterdir())


def test_script_refuses_a_library_without_convbench(tmp_path):
    script = load_script("load_ratios")
    with pytest.raises(SystemExit, match="no convbench package"):
        script.main(["--library", str(tmp_path)])
