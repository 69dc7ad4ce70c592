"""scripts/provenance.py: a measurement names its commit and never overwrites another."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from scripts_loader import load_script

ROOT = Path(__file__).resolve().parent.parent
provenance = load_script("provenance")


def test_a_new_path_never_names_an_existing_file(tmp_path):
    first = provenance.new_path(tmp_path / "load", "load-abc")
    assert first == tmp_path / "load" / "load-abc.json"
    first.write_text("{}")
    second = provenance.new_path(tmp_path / "load", "load-abc")
    assert second == tmp_path / "load" / "load-abc-2.json"


def test_the_commit_is_the_checkouts_own():
    head = subprocess.run(["git", "rev-parse", "--short=8", "HEAD"], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout.strip()
    assert provenance.commit(ROOT).split("+")[0] == head


def test_a_record_is_written_under_a_new_name(tmp_path, capsys):
    first = provenance.write_record(tmp_path, "topk-abc", {"a": 1}, tmp_path)
    second = provenance.write_record(tmp_path, "topk-abc", {"a": 2}, tmp_path)
    assert (first.name, second.name) == ("topk-abc.json", "topk-abc-2.json")
    assert json.loads(first.read_text()) == {"a": 1}
    assert "wrote topk-abc-2.json" in capsys.readouterr().out
