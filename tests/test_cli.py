from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import convbench as cb
from convbench.cli import main


def test_random_layer_summary(capsys):
    assert main(["spectrum", "--cin", "4", "--cout", "3", "--kernel", "3", "--n", "8"]) == 0
    out = capsys.readouterr().out
    values = cb.singular_values(cb.pytorch_default(3, 4, 3, seed=0), 8)
    assert "operator   192 x 256" in out
    assert f"sigma_max  {values[0]:.10g}" in out
    assert f"sigma_min  {values[-1]:.10g}" in out
    assert f"condition  {values[0] / values[-1]:.6g}" in out
    assert "time       transform" in out and "time       svd + sort" in out


def test_weight_file_save_and_no_overwrite(tmp_path, capsys):
    w = cb.he_normal(2, 3, (3, 2), seed=1, layout="hwio")
    path = tmp_path / "w.npy"
    np.save(path, w)
    out = tmp_path / "s.npy"
    args = ["spectrum", str(path), "--n", "6", "--m", "5", "--layout", "hwio", "--save", str(out)]
    assert main([*args, "--method", "explicit"]) == 0
    saved = np.load(out)
    np.testing.assert_allclose(saved, cb.singular_values(w, (6, 5), layout="hwio"), atol=1e-13)
    assert main([*args, "--method", "fft"]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    np.testing.assert_array_equal(np.load(out), saved)
    assert main([*args, "--method", "fft", "--force"]) == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["spectrum", "--n", "2"], "larger than the input"),
        (["spectrum", "missing.npy", "--n", "8"], "weight file not found"),
        (["spectrum", "--n", "8", "--kernel", "1", "2", "3"], "--kernel takes one size"),
        (["spectrum", "--n", "8", "--memory-budget", "1K"], "memory budget"),
        (["spectrum", "--n", "8", "--method", "fft", "--boundary", "zero"], "explicit"),
    ],
)
def test_errors_are_reported_not_raised(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_top_k_and_module_entry_point():
    proc = subprocess.run(
        [sys.executable, "-m", "convbench", "spectrum", "--n", "8", "--cin", "2",
         "--method", "explicit", "--boundary", "zero", "--top-k", "2"],
        capture_output=True, text=True, check=True,
    )
    assert "2 largest singular values" in proc.stdout
    assert "sigma_2" in proc.stdout


def test_summarize_command(capsys):
    assert main(["summarize", "--cin", "2", "--n", "16", "--progress", "no"]) == 0
    out = capsys.readouterr().out
    exact = cb.singular_values(cb.pytorch_default(2, 2, 3, seed=0), 16)
    assert "512 singular values" in out
    assert f"sigma_max  {exact[0]:.10g}" in out
    assert f"sigma_min  {exact[-1]:.10g}" in out


def test_bound_command(capsys, tmp_path):
    w = cb.pytorch_default(3, 2, 3, seed=1)
    path = tmp_path / "w.npy"
    np.save(path, w)
    assert main(["bound", str(path)]) == 0
    out = capsys.readouterr().out
    bound = float(out.split("bound")[1].split()[0])
    assert bound == pytest.approx(cb.spectral_norm_bound(w).upper, rel=1e-11)
    assert bound >= cb.singular_values(w, 8, method="explicit", boundary="zero")[0]


def test_bound_command_bad_rtol(capsys):
    assert main(["bound", "--cin", "2", "--rtol", "-1"]) == 2
    assert "rtol must be a positive number" in capsys.readouterr().err
