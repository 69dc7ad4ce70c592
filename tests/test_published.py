"""The published codes of the claims study, against PyTorch's dense periodic operator."""

from __future__ import annotations

import numpy as np
import pytest
from test_layers import reference_values

import convbench as cb
from benchmarks.published import (
    PUBLISHED,
    hwio,
    paper_lfa,
    sorted_values,
    three_liner,
    three_liner_fftw,
)


@pytest.mark.parametrize("c", [1, 3])
@pytest.mark.parametrize("n", [5, 8])
def test_every_published_path_gives_the_layers_spectrum(c, n):
    w = cb.pytorch_default(c, c, 3, seed=c + n)
    dense = reference_values(w, (n, n), boundary="periodic")
    for name, (transform, takes_hwio) in PUBLISHED.items():
        got = sorted_values(transform(hwio(w) if takes_hwio else w, n))
        np.testing.assert_allclose(got, dense, atol=1e-12 * dense[0], err_msg=name)


def test_layouts_are_the_published_ones():
    w = cb.pytorch_default(4, 4, 3, seed=0)
    assert three_liner(hwio(w), 8).flags.c_contiguous
    assert three_liner_fftw(hwio(w), 8).shape == (8, 8, 4, 4)
    lfa = paper_lfa(w, 8)
    assert lfa.shape == (8, 8, 4, 4)
    assert not lfa.flags.c_contiguous  # the paper hands a transposed view to the SVD


def test_paper_lfa_refuses_what_it_does_not_cover():
    with pytest.raises(ValueError, match=r"\(c, c, 3, 3\)"):
        paper_lfa(cb.pytorch_default(4, 2, 3, seed=0), 8)
    with pytest.raises(ValueError, match=r"\(c, c, 3, 3\)"):
        paper_lfa(cb.pytorch_default(2, 2, 5, seed=0), 8)


def test_fft_paths_script_records_ratios_and_never_overwrites(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "scripts" / "fft_paths.py"
    run = [sys.executable, str(script), "--cells", "2:8", "--repeats", "2",
           "--out-dir", str(tmp_path)]
    for _ in range(2):
        out = subprocess.run(run, capture_output=True, text=True, check=True).stdout
        assert "| 2 | 8 |" in out
    files = sorted(tmp_path.glob("fft-paths-*.json"))
    assert len(files) == 2  # the second run took a new name
    record = json.loads(files[0].read_text())
    (cell,) = record["cells"]
    assert len(cell["samples"]["fft"]) == 2
    assert set(cell["stage_medians"]) == {"bind", "budget", "transform", "svd", "sort"}
    assert cell["ratios"]["fft/three-liner"]["of_medians"] > 0
    bad = subprocess.run([*run[:2], "--cells", "2x8"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert "a cell is C:N" in bad.stderr
