from __future__ import annotations

import argparse
import subprocess
import sys

import numpy as np
import pytest

import convbench as cb
from convbench.cli import main, padding, random_weight, sizes


def run(argv, capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def line(out: str, key: str) -> str:
    return next(row for row in out.splitlines() if row.startswith(key))


def test_random_layer_summary(capsys):
    code, out, _ = run(["spectrum", "--cin", "4", "--cout", "3", "--kernel", "3", "--n", "8"],
                       capsys)
    assert code == 0
    values = cb.singular_values(cb.pytorch_default(3, 4, 3, seed=0), 8)
    assert line(out, "layer") == (
        "layer      Conv2d cout=3 cin=4 kernel=3x3 stride=1x1 dilation=1x1 groups=1 "
        "padding=1:1,1:1 input=8x8 output=8x8"
    )
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


# ---------------------------------------------------------------------------------------
# every layer option, end to end, against PyTorch's matrices (tests/test_layers.py)

LAYERS = [
    # (random layer arguments, input, boundary, method, layer options of the reference)
    (["--cin", 2, "--cout", 3, "--stride", 2, "--padding", "1:0,0:2"], "6x5", "zero",
     "explicit", {"stride": 2, "padding": ((1, 0), (0, 2))}),
    (["--cin", 4, "--stride", "2x1", "--dilation", "1x2", "--padding", "valid"], "8x6",
     "periodic", "lfa", {"stride": (2, 1), "dilation": (1, 2), "padding": "valid"}),
    (["--cin", 3, "--groups", "depthwise", "--dilation", 2, "--kernel", 3, "--dim", 1], "12",
     "periodic", "fft", {"groups": 3, "dilation": 2}),
    (["--cin", 2, "--cout", 4, "--groups", 2, "--kernel", 3, "--padding", "1,2"], "7x6",
     "zero", "explicit", {"groups": 2, "padding": (1, 2)}),
    (["--cin", 2, "--kernel", "3x3x3", "--stride", "1x1x2"], "4x4x6", "periodic", "fast",
     {"stride": (1, 1, 2)}),
    (["--cin", 2, "--cout", 4, "--groups", 2, "--transposed", "--stride", 2, "--padding", 1,
      "--output-padding", 1], "4x3", "zero", "explicit",
     {"transposed": True, "groups": 2, "stride": 2, "padding": 1, "output_padding": 1}),
    (["--cin", 3, "--cout", 2, "--transposed", "--stride", 2, "--kernel", 4], "5x4",
     "periodic", "fftw", {"transposed": True, "stride": 2}),
]


@pytest.mark.parametrize(
    ("layer", "n", "boundary", "method", "options"), LAYERS, ids=[str(i) for i in range(7)]
)
def test_layer_options_match_pytorch(layer, n, boundary, method, options, tmp_path, capsys):
    pytest.importorskip("torch")
    from test_layers import reference_values

    weight, spectrum = tmp_path / "w.npy", tmp_path / "s.npy"
    assert run(["init", weight, *_random_only(layer)], capsys)[0] == 0
    w = np.load(weight)
    code, out, err = run(["spectrum", weight, *_layer_only(layer), "--n", n, "--boundary", boundary,
                          "--method", method, "--save", spectrum], capsys)
    assert code == 0, err
    shape = sizes(n) if "x" in n else (int(n),)
    ref = reference_values(w, shape, boundary=boundary, **options)
    got = np.load(spectrum)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, atol=1e-12 * ref[0])
    assert f"operator   {_rows_cols(w, shape, options, boundary)}" in out
    # the random layer of the same arguments is the one init wrote
    code, out2, _ = run(["spectrum", *layer, "--n", n, "--boundary", boundary,
                         "--method", method], capsys)
    assert code == 0 and line(out2, "sigma_max") == line(out, "sigma_max")


_RANDOM = {"--cin", "--cout", "--kernel", "--groups", "--dim", "--transposed"}
_FLAGS = {"--transposed"}


def _random_only(args: list) -> list:
    return _pick(args, lambda flag: flag in _RANDOM)


def _layer_only(args: list) -> list:
    return _pick(args, lambda flag: flag not in _RANDOM or flag in ("--groups", "--transposed"))


def _pick(args: list, keep) -> list:
    out, i = [], 0
    while i < len(args):
        flag = args[i]
        width = 1 if flag in _FLAGS else 2
        if keep(flag):
            out += args[i : i + width]
        i += width
    return out


def _rows_cols(w: np.ndarray, shape: tuple[int, ...], options: dict, boundary: str) -> str:
    layer = cb.as_layer(w, shape, boundary=boundary, **options)
    return f"{layer.rows} x {layer.cols}, {boundary} boundary"


def test_layer_line_names_every_option(capsys):
    code, out, _ = run(
        ["spectrum", "--cin", 4, "--cout", 2, "--groups", 2, "--transposed", "--stride", 2,
         "--dilation", "1x2", "--padding", "1,0", "--output-padding", "1x0", "--kernel", "3x2",
         "--n", "5x4", "--boundary", "zero", "--method", "explicit"],
        capsys,
    )
    assert code == 0
    # ConvTranspose2d(4, 2, (3, 2), stride=2, padding=(1, 0), output_padding=(1, 0),
    # groups=2, dilation=(1, 2)) on 5x4: output (5-1)*2 + 3 - 2 + 1 = 10, (4-1)*2 + 3 = 9
    assert line(out, "layer") == (
        "layer      ConvTranspose2d cout=2 cin=4 kernel=3x2 stride=2x2 dilation=1x2 groups=2 "
        "padding=1:1,0:0 output_padding=1x0 input=5x4 output=10x9"
    )
    assert line(out, "operator") == "operator   180 x 80, zero boundary"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--n", "8x8x8"], "Conv3d cout=16 cin=16 kernel=3x3x3"),
        (["--kernel", "3x3x3", "--n", 4, "--cin", 2], "kernel=3x3x3 stride=1x1x1"),
        (["--dim", 1, "--kernel", 5, "--n", 16, "--cin", 2], "Conv1d cout=2 cin=2 kernel=5 "),
        (["--kernel", 3, 5, "--n", 8, "--cin", 2], "kernel=3x5 "),
        (["--kernel", 3, "--n", 8, "--m", 6, "--cin", 2], "input=8x6 output=8x6"),
        (["--cin", 4, "--stride", 2, "--padding", "0:1", "--n", 8], "padding=0:1,0:1 "),
        (["--cin", 2, "--padding", 2, "--n", 8, "--boundary", "zero", "--method", "explicit"],
         "padding=2:2,2:2 input=8x8 output=10x10"),
    ],
)
def test_dimension_and_sizes_are_inferred(argv, expected, capsys):
    code, out, err = run(["spectrum", *argv], capsys)
    assert code == 0, err
    assert expected in line(out, "layer")


def test_weight_files_of_one_to_three_dimensions(tmp_path, capsys):
    for shape, n, kind in (((2, 3, 5), "16", "Conv1d"), ((2, 3, 3, 3), "6", "Conv2d"),
                           ((2, 3, 3, 3, 3), "4", "Conv3d")):
        path = tmp_path / f"w{len(shape)}.npy"
        np.save(path, np.random.default_rng(0).normal(size=shape))
        code, out, err = run(["spectrum", path, "--n", n, "--method", "fast"], capsys)
        assert code == 0, err
        assert line(out, "layer").startswith(f"layer      {kind} cout=2 cin=3 ")


def test_argument_types():
    assert padding("same") == "same" and padding("VALID") == "valid"
    assert padding("2") == 2
    assert padding("1,2") == (1, 2)
    assert padding("1:2,0:1") == ((1, 2), (0, 1))
    assert padding("1,0:1") == ((1, 1), (0, 1))
    assert padding("0:3") == ((0, 3),)
    assert sizes("3") == (3,) and sizes("3x3x3") == (3, 3, 3) and sizes("2,1") == (2, 1)
    for bad in ("1:2:3", "x", "-1", "1,,2", "1:2,3:4,5:6,7:8", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            padding(bad)
    for bad in ("0", "3x", "a", "1x1x1x1"):
        with pytest.raises(argparse.ArgumentTypeError):
            sizes(bad)


def test_random_weight_is_the_library_generator_in_2d():
    np.testing.assert_array_equal(random_weight(3, 4, (3, 3), seed=5),
                                  cb.pytorch_default(3, 4, 3, seed=5))
    np.testing.assert_array_equal(random_weight(3, 4, (3, 2), init="he", seed=5),
                                  cb.he_normal(3, 4, (3, 2), seed=5))
    w = random_weight(6, 4, (3,), groups=2, transposed=True)
    assert w.shape == (4, 3, 3) and np.abs(w).max() <= 1 / np.sqrt(9)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["spectrum", "--n", "2"], "larger than the input"),
        (["spectrum", "missing.npy", "--n", "8"], "weight file not found"),
        (["spectrum", "--n", "8", "--kernel", "1", "2", "3", "4"], "at most 3"),
        (["spectrum", "--n", "8", "--memory-budget", "1K"], "memory budget"),
        (["spectrum", "--n", "8", "--method", "fft", "--boundary", "zero"], "explicit"),
        (["spectrum", "--n", "8", "--method", "nope"], "invalid choice"),
        (["spectrum", "--cin", "2"], "required: --n"),
        (["spectrum", "--n", "8", "--padding", "1:2:3"], "a pair is before:after"),
        (["spectrum", "--n", "8", "--padding", "wide"], "not a padding"),
        (["spectrum", "--n", "8", "--stride", "0"], "must be positive"),
        (["spectrum", "--n", "8", "--groups", "two"], "not an integer"),
        (["spectrum", "--n", "8x8x8", "--kernel", "3x3"], "--kernel 3x3 means a 2-D layer but "
         "--n 8x8x8 a 3-D one"),
        (["spectrum", "--n", "8", "--dim", "1", "--m", "4"], "--m a 2-D one"),
        (["spectrum", "--n", "8x8", "--m", "4"], "either in --n"),
        (["spectrum", "--n", "8", "--groups", "3"], "--groups 3 must divide --cin 16"),
        (["spectrum", "--n", "9", "--stride", "2"], "stride to divide the input size"),
        (["spectrum", "--n", "8", "--output-padding", "1"], "transposed layers only"),
        (["spectrum", "--n", "8", "--transposed", "--padding", "same"], "transposed layers"),
        (["spectrum", "--n", "8", "--padding", "3", "--boundary", "zero", "--kernel", "9",
          "--method", "explicit", "--padding", "valid"], "empty output"),
        (["spectrum", "--n", "8", "--threads", "0"], "threads"),
        (["spectrum", "--n", "8", "--top-k", "0", "--method", "explicit"], "top_k"),
        (["summarize", "--n", "8", "--groups", "2"], "summarize streams ungrouped"),
        (["summarize", "--n", "8x8x8"], "3-D layers"),
        (["bound", "--cin", "2", "--rtol", "-1"], "rtol must be a positive number"),
    ],
)
def test_errors_are_reported_not_raised(argv, message, capsys):
    code, out, err = run(argv, capsys)
    assert code == 2
    assert message in err
    assert "Traceback" not in err and out == ""


def test_weight_file_errors(tmp_path, capsys):
    flat = tmp_path / "flat.npy"
    np.save(flat, np.ones((3, 3)))
    dense = tmp_path / "dense.npy"
    np.save(dense, np.ones((4, 2, 3, 3)))
    for argv, message in (
        (["spectrum", flat, "--n", 8], "3-D to 5-D"),
        (["spectrum", dense, "--n", 8, "--cin", 4], "--cin describe a random layer"),
        (["spectrum", dense, "--n", 8, "--groups", "depthwise"], "one input channel per group"),
        (["spectrum", dense, "--n", 8, "--dim", 1], "--dim 1 means a 1-D layer"),
        (["spectrum", tmp_path, "--n", 8], "rror"),
    ):
        code, _, err = run(argv, capsys)
        assert code == 2 and message in err and "Traceback" not in err, (argv, err)


def test_help_and_version_return_zero(capsys):
    assert main(["--version"]) == 0
    assert cb.__version__ in capsys.readouterr().out
    assert main(["spectrum", "--help"]) == 0
    assert "--output-padding" in capsys.readouterr().out


def test_top_k_and_module_entry_point():
    proc = subprocess.run(
        [sys.executable, "-m", "convbench", "spectrum", "--n", "8", "--cin", "2",
         "--method", "explicit", "--boundary", "zero", "--top-k", "2"],
        capture_output=True, text=True, check=True,
    )
    assert "2 largest singular values" in proc.stdout
    assert "sigma_2" in proc.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "convbench", "spectrum", "--n", "8", "--padding", "1:x"],
        capture_output=True, text=True, check=False,
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "usage: convbench spectrum" in bad.stderr


# ---------------------------------------------------------------------------------------
# init


def test_init_writes_and_never_overwrites(tmp_path, capsys):
    path = tmp_path / "w.npy"
    code, out, _ = run(["init", path, "--cin", 4, "--cout", 6, "--kernel", 3, "--seed", 2],
                       capsys)
    assert code == 0 and f"saved      {path}" in out
    first = np.load(path)
    np.testing.assert_array_equal(first, cb.pytorch_default(6, 4, 3, seed=2))
    code, _, err = run(["init", path, "--cin", 4, "--seed", 3], capsys)
    assert code == 2 and "exists; pass --force" in err
    np.testing.assert_array_equal(np.load(path), first)
    assert run(["init", path, "--cin", 4, "--seed", 3, "--init", "he", "--force"], capsys)[0] == 0
    np.testing.assert_array_equal(np.load(path), cb.he_normal(4, 4, 3, seed=3))


def test_init_layouts_groups_and_dimensions(tmp_path, capsys):
    path = tmp_path / "dw.npy"
    code, out, _ = run(["init", path, "--cin", 8, "--groups", "depthwise", "--kernel", "3x3x3"],
                       capsys)
    assert code == 0 and np.load(path).shape == (8, 1, 3, 3, 3)
    assert "Conv3d cout=8 cin=8 kernel=3x3x3 stride=1x1x1 dilation=1x1x1 groups=8" in out
    path = tmp_path / "t.npy"
    assert run(["init", path, "--cin", 4, "--cout", 6, "--groups", 2, "--transposed",
                "--kernel", 5, "--dim", 1], capsys)[0] == 0
    assert np.load(path).shape == (4, 3, 5)
    # a layout round trip: the hwio file gives the spectrum of the oihw one
    oihw, hwio = tmp_path / "a.npy", tmp_path / "b.npy"
    run(["init", oihw, "--cin", 2, "--cout", 3, "--kernel", "3x2"], capsys)
    run(["init", hwio, "--cin", 2, "--cout", 3, "--kernel", "3x2", "--layout", "hwio"], capsys)
    assert np.load(hwio).shape == (3, 2, 2, 3)
    _, a, _ = run(["spectrum", oihw, "--n", 6], capsys)
    _, b, _ = run(["spectrum", hwio, "--n", 6, "--layout", "hwio"], capsys)
    assert line(a, "sigma_max") == line(b, "sigma_max")
    assert line(a, "sigma_min") == line(b, "sigma_min")


# ---------------------------------------------------------------------------------------
# summarize and bound


def test_summarize_command(capsys):
    assert main(["summarize", "--cin", "2", "--n", "16", "--progress", "no"]) == 0
    out = capsys.readouterr().out
    exact = cb.singular_values(cb.pytorch_default(2, 2, 3, seed=0), 16)
    assert "512 singular values" in out
    assert f"sigma_max  {exact[0]:.10g}" in out
    assert f"sigma_min  {exact[-1]:.10g}" in out


@pytest.mark.parametrize(
    ("argv", "options", "shape"),
    [
        (["--cin", 3, "--stride", 2, "--n", 8], {"stride": 2}, (8, 8)),
        (["--cin", 2, "--cout", 3, "--dim", 1, "--dilation", 2, "--n", 10], {"dilation": 2},
         (10,)),
        (["--cin", 4, "--cout", 2, "--transposed", "--stride", 2, "--n", "4x3"],
         {"transposed": True, "stride": 2}, (4, 3)),
    ],
)
def test_summarize_layers_match_pytorch(argv, options, shape, capsys):
    pytest.importorskip("torch")
    from test_layers import reference_values

    code, out, err = run(["summarize", *argv, "--progress", "no"], capsys)
    assert code == 0, err
    cin, cout = int(argv[1]), int(argv[3]) if argv[2] == "--cout" else int(argv[1])
    g = random_weight(cout, cin, (3,) * len(shape), transposed=bool(options.get("transposed")))
    ref = reference_values(g, shape, boundary="periodic", **options)
    assert f"values     {ref.size} singular values" in out
    assert float(line(out, "sigma_max").split()[1]) == pytest.approx(ref[0], rel=1e-9)
    assert float(line(out, "sigma_min").split()[1]) == pytest.approx(ref[-1], rel=1e-9)
    assert float(line(out, "quantile   0.5 ").split()[2]) == pytest.approx(
        np.quantile(ref, 0.5), rel=1e-9
    )


def test_bound_command(capsys, tmp_path):
    w = cb.pytorch_default(3, 2, 3, seed=1)
    path = tmp_path / "w.npy"
    np.save(path, w)
    assert main(["bound", str(path)]) == 0
    out = capsys.readouterr().out
    bound = float(out.split("bound")[1].split()[0])
    assert bound == pytest.approx(cb.spectral_norm_bound(w).upper, rel=1e-11)
    assert bound >= cb.singular_values(w, 8, method="explicit", boundary="zero")[0]


@pytest.mark.parametrize(
    ("argv", "options", "sizes_", "big"),
    [
        (["--cin", 3, "--cout", 2, "--stride", 2], {"stride": 2}, (6, 7, 12), 96),
        (["--cin", 2, "--dilation", 2, "--kernel", "3x2"], {"dilation": 2}, (6, 7, 12), 48),
        (["--cin", 4, "--groups", 2, "--dim", 1, "--stride", 3, "--kernel", 4],
         {"groups": 2, "stride": 3}, (6, 7, 12), 144),
        (["--cin", 2, "--cout", 4, "--transposed", "--stride", 2],
         {"transposed": True, "stride": 2}, (6, 7, 12), 48),
        (["--cin", 2, "--kernel", "3x3x3", "--stride", "1x1x2", "--padding", "1:1,0:2,1:1"],
         {"stride": (1, 1, 2), "padding": ((1, 1), (0, 2), (1, 1))}, (4, 5, 4), 24),
    ],
)
def test_bound_of_layers_is_certified_and_tight(argv, options, sizes_, big, tmp_path, capsys):
    pytest.importorskip("torch")
    from test_layers import reference_values

    path = tmp_path / "w.npy"
    assert run(["init", path, *_random_only(argv)], capsys)[0] == 0
    code, out, err = run(["bound", path, *_layer_only(argv)], capsys)
    assert code == 0, err
    bound = float(line(out, "bound").split()[1])
    w = np.load(path)
    d = w.ndim - 2
    stride = options.get("stride", 1)
    stride = (stride,) * d if isinstance(stride, int) else stride
    for n in sizes_:
        assert reference_values(w, (n,) * d, boundary="zero", **options)[0] <= bound * (1 + 1e-12)
        if options.get("transposed") or all(n % s == 0 for s in stride):
            top = reference_values(w, (n,) * d, boundary="periodic", **options)[0]
            assert top <= bound * (1 + 1e-12)
    # tight: the periodic spectrum on a fine grid comes within a few percent of it
    top = cb.singular_values(w, big, method="lfa", top_k=1, **options)[0]
    assert top >= 0.97 * bound


def test_estimates_prints_every_method_and_writes_csv_once(tmp_path, capsys):
    from test_layers import reference_values

    w = cb.pytorch_default(4, 4, 3, seed=5)
    np.save(tmp_path / "w.npy", w)
    out = tmp_path / "rows.csv"
    args = [tmp_path / "w.npy", "--n", "10", "--stride", "2", "--csv", out]
    code, text, _ = run(["estimates", *args], capsys)
    assert code == 0
    for method in cb.ESTIMATE_METHODS:
        assert f"\n{method} " in text
    exact = reference_values(w, (10, 10), stride=2)[0]  # PyTorch's dense operator
    rows = __import__("pandas").read_csv(out)
    got = rows.set_index("method")["value"]
    np.testing.assert_allclose(got["exact"], exact, rtol=1e-9)
    bounds = rows[rows["kind"] == "upper bound"]
    assert (bounds["value"] >= exact).all()
    code, _, err = run(["estimates", *args], capsys)  # the CSV is never overwritten
    assert code != 0 and "--force" in err
    code, _, err = run(["estimates", "--n", "8", "--methods", "gram", "exact"], capsys)
    assert code == 2 and "known: exact" in err
