"""The notebooks: paired with their .ipynb, short titled cells, and they execute on the
committed results, writing every figure they promise."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")
jupytext = pytest.importorskip("jupytext")
pytest.importorskip("nbclient")

_spec = importlib.util.spec_from_file_location(
    "run_notebooks", ROOT / "scripts" / "run_notebooks.py"
)
run_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_notebooks)

#: Figures each notebook must write (stems; PNG and SVG each).
FIGURES = {
    "boundary_error": [
        "boundary_paper",
        "boundary_error_vs_n",
        "boundary_models_vs_n",
        "boundary_sigma_max_bound",
    ],
    "estimates": ["estimates_leaderboard"],
    "models": ["models_sigma_max"],
    "claims": [
        "claims_c1_speedup",
        "claims_c2_scaling",
        "claims_c3_svd_layout",
        "claims_c4_memory",
        "claims_c5_kernel",
        "claims_c6_boundary",
    ],
    "runtime": [
        "runtime_vs_n",
        "runtime_transform_vs_svd",
        "runtime_svd_layout",
        "runtime_lfa_speedup",
        "memory_vs_n",
    ],
}
SOURCES = run_notebooks.notebook_sources()
MAX_CELL_LINES = 45


def test_every_notebook_is_known():
    assert sorted(p.stem for p in SOURCES) == sorted(FIGURES)


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_paired_ipynb_matches_the_source(source):
    paired = source.with_suffix(".ipynb")
    assert paired.is_file(), f"{paired.name} missing: run `make figures`"
    text = jupytext.read(source)
    executed = jupytext.read(paired)
    assert [(c.cell_type, c.source) for c in text.cells] == [
        (c.cell_type, c.source) for c in executed.cells
    ], f"{paired.name} is out of date with {source.name}: run `make figures`"
    assert executed.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in executed.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code), f"{paired.name} is not executed"
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_cells_are_short_and_titled(source):
    nb = jupytext.read(source)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        first = cell.source.splitlines()[0] if cell.source else ""
        assert cell.metadata.get("title"), f"{source.name}: untitled cell starting {first!r}"
        lines = len(cell.source.splitlines())
        assert lines <= MAX_CELL_LINES, f"{source.name}: cell {cell.metadata['title']!r} {lines}"


def has_asv_results() -> bool:
    return any(p.name != "machine.json" for p in (ROOT / "results").glob("*/*.json"))


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_executes_and_writes_its_figures(source, tmp_path, monkeypatch):
    if source.stem == "runtime" and not has_asv_results():
        pytest.skip("no committed asv results in results/ yet")
    monkeypatch.setenv("CONVBENCH_FIGURES_DIR", str(tmp_path))
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    nb = run_notebooks.execute(source, write=False, timeout=300)
    notes = [
        "".join(o.get("data", {}).get("text/markdown", ""))
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    ]
    for stem in FIGURES[source.stem]:
        for ext in ("png", "svg"):
            path = tmp_path / f"{stem}.{ext}"
            assert path.is_file() and path.stat().st_size > 5000, (
                f"{source.name} did not write {path.name}; notes: {[n for n in notes if n]}"
            )
