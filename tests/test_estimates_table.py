"""scripts/estimates_table.py end to end on the first layers of a shrunken network."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import convbench as cb

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "estimates_table.py"


def test_a_smoke_run_records_every_row_and_never_overwrites(tmp_path):
    env = {**os.environ, "CONVBENCH_BENCH_NETWORK_INPUT": "16",
           "CONVBENCH_BENCH_NETWORK_WIDTH": "16"}
    run = [sys.executable, str(SCRIPT), "--networks", "mobilenet_v2", "--layers", "2",
           "--out-dir", str(tmp_path)]
    for _ in range(2):
        out = subprocess.run(run, capture_output=True, text=True, check=True, env=env).stdout
        assert "mobilenet_v2 2/2" in out
    files = sorted(tmp_path.glob("estimates-*.json"))
    assert len(files) == 2  # the second run took a new name
    record = json.loads(files[0].read_text())
    assert record["threads"] == 1 and record["finished"]
    rows = record["rows"]
    assert {r["layer"] for r in rows} == {0, 1}
    methods = [m for m in cb.ESTIMATE_METHODS if m not in record["skipped_methods"]]
    assert [r["method"] for r in rows if r["layer"] == 1] == methods
    for r in rows:
        if r["kind"] == "upper bound" and r["applies"]:
            assert r["relative_gap"] >= 0
    bad = subprocess.run([*run[:2], "--layers", "0"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--layers must be positive" in bad.stderr
