"""scripts/model_results.py: the stored tables are complete and consistent, and existing
files are refused before anything is computed."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytest.importorskip("torch")
pd = pytest.importorskip("pandas")

sys.path.insert(0, str(ROOT / "scripts"))
_spec = importlib.util.spec_from_file_location(
    "model_results", ROOT / "scripts" / "model_results.py"
)
model_results = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(model_results)

STORED = sorted((ROOT / "results" / "models").glob("*.csv"))
#: Convolutions per architecture (scripts/architectures.py).
LAYERS = {"resnet18": 20, "mobilenet_v2": 52, "resnet50": 53}


def test_existing_files_are_refused_before_computing(tmp_path, capsys, monkeypatch):
    csv_path, _ = model_results.paths("resnet18", 224, tmp_path)
    csv_path.write_text("kept\n")
    monkeypatch.setattr(model_results, "run", lambda *a, **k: pytest.fail("computed"))
    with pytest.raises(SystemExit):
        model_results.main(["--arch", "resnet18", "--out", str(tmp_path)])
    assert "--force" in capsys.readouterr().err
    assert csv_path.read_text() == "kept\n"


def test_too_small_an_input_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        model_results.main(["--size", "16", "--out", str(tmp_path)])
    assert "--size" in capsys.readouterr().err


@pytest.mark.parametrize("path", STORED, ids=lambda p: p.stem)
def test_stored_table_is_complete_and_consistent(path):
    table = pd.read_csv(path)
    meta = json.loads((path.parent / "provenance" / f"{path.stem}.json").read_text())
    arch, size = path.stem.rsplit("-", 1)
    assert list(table.columns) == list(model_results.STORED)
    assert len(table) == meta["layers"] == LAYERS[arch]
    assert meta["input_shape"] == [1, 3, int(size), int(size)]
    assert meta["boundary"] == "zero" and len(meta["commit"]) == 40
    assert table["sigma_max"].notna().all() and (table["sigma_max"] > 0).all()
    # the certified bound is never below the exact zero-padded value
    assert (table["sigma_max"] <= table["bound"] * (1 + 1e-9)).all()
