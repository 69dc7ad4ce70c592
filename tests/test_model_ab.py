"""scripts/model_ab.py: two commits' whole models, interleaved (arguments only here: a
run takes minutes)."""

from __future__ import annotations

from pathlib import Path

import pytest
from scripts_loader import load_script

ROOT = Path(__file__).resolve().parent.parent
model_ab = load_script("model_ab")


def test_repeats_and_workloads_are_checked_before_anything_runs(capsys):
    with pytest.raises(SystemExit) as exc:
        model_ab.main([str(ROOT), str(ROOT), "--repeats", "0"])
    assert exc.value.code == 2
    assert "--repeats must be at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        model_ab.main([str(ROOT), str(ROOT), "--workloads", "vgg"])


def test_a_tree_names_its_commit():
    assert len(model_ab.head(ROOT)) == 8
