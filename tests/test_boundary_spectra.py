"""The script that stores the boundary studies: writes, refuses to overwrite, defaults."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

import convbench as cb
from convbench.results import load_spectra

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location(
    "boundary_spectra", ROOT / "scripts" / "boundary_spectra.py"
)
script = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(script)


def test_grid_study_is_written_and_never_overwritten(tmp_path, capsys):
    args = ["grid", "--max-dim", "16", "--out-dir", str(tmp_path)]
    assert script.main(args) == 0
    stored = load_spectra(script.grid_path(16, tmp_path))
    assert len(stored.cells) > 0
    row = stored.cells.iloc[0]
    w = cb.pytorch_default(row.cout, row.cin, (row.kh, row.kw), seed=row.seed)
    np.testing.assert_allclose(
        row.zero, cb.singular_values(w, row.n, method="explicit", boundary="zero"), rtol=1e-12
    )
    before = script.grid_path(16, tmp_path).read_bytes()
    assert script.main(args) == 1
    assert "refusing to overwrite" in capsys.readouterr().err
    assert script.main([*args, "--skip-existing"]) == 0
    assert script.grid_path(16, tmp_path).read_bytes() == before


def test_both_studies_by_default(tmp_path, monkeypatch):
    ran = []
    monkeypatch.setattr(script, "run_paper", lambda target, force: ran.append("paper") or target)
    monkeypatch.setattr(
        script, "run_grid", lambda target, force, max_dim: ran.append("grid") or target
    )
    assert script.main(["--out-dir", str(tmp_path)]) == 0
    assert ran == ["paper", "grid"]
