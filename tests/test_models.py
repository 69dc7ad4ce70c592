"""Whole models: every convolution of ONNX graphs and PyTorch modules, against
independent references.

ONNX layers are checked against the dense matrix that ONNX's own reference evaluator
(``onnx.reference``, numpy) computes for the node on the identity's columns, so the
attribute semantics (pads, auto_pad, group, dilations, ConvTranspose's output_padding)
are ONNX's, not the library's reading of them. PyTorch layers are checked against the
module itself applied to the identity (bias off). Large layers, where the library uses
Lanczos, are checked against ARPACK on PyTorch's functional conv and its autograd
adjoint. No reference shares code with the library.
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

import convbench as cb

onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

RTOL = 1e-9


def _graph_model(nodes, x_dims, inits, opset=13, name="g"):
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("x", TensorProto.DOUBLE, x_dims)],
        [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.DOUBLE, None)],
        [numpy_helper.from_array(v, k) for k, v in inits.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _onnx_matrix(model, shape):
    """The model's matrix by ONNX's reference evaluator on unit inputs (bias off)."""
    size = math.prod(shape[1:])
    eye = np.eye(size).reshape(size, *shape[1:])
    out = ReferenceEvaluator(model).run(None, {"x": eye})[0]
    return out.reshape(size, -1).T


def _top(matrix):
    return np.linalg.svd(matrix, compute_uv=False)[0]


def _single(op, w, cin, spatial, *, x_name="x", unnamed=False, const=False, **attrs):
    rng = np.random.default_rng(0)
    weight = rng.standard_normal(w)
    nodes = []
    inits = {}
    if const:
        nodes.append(helper.make_node(
            "Constant", [], ["w"], value=numpy_helper.from_array(weight, "w")
        ))
    else:
        inits["w"] = weight
    nodes.append(helper.make_node(op, [x_name, "w"], ["y"], name="" if unnamed else "conv",
                                  **attrs))
    shape = (1, cin, *spatial)
    model = _graph_model(nodes, ["N", cin, *(["S"] * len(spatial))], inits)
    return model, shape


ONNX_CASES = {
    "pads_stride_group": ("Conv", (4, 2, 3, 3), 4, (7, 6),
                          {"pads": [1, 0, 2, 1], "strides": [2, 1], "group": 2}),
    "same_lower_stride": ("Conv", (3, 2, 4, 3), 2, (7, 8),
                          {"auto_pad": "SAME_LOWER", "strides": [2, 3]}),
    "same_upper_dilated": ("Conv", (2, 3, 3, 3), 3, (9, 8),
                           {"auto_pad": "SAME_UPPER", "dilations": [2, 1]}),
    "valid_dilated": ("Conv", (2, 2, 3, 2), 2, (9, 7),
                      {"auto_pad": "VALID", "dilations": [2, 3]}),
    "depthwise": ("Conv", (3, 1, 3, 3), 3, (6, 6), {"pads": [1, 1, 1, 1], "group": 3}),
    "one_d": ("Conv", (3, 2, 5), 2, (17,), {"pads": [2, 1], "strides": [2]}),
    "map_1x1": ("Conv", (4, 3, 3, 3), 3, (1, 1), {"pads": [1, 1, 1, 1]}),
    "kernel_1x1_on_1x1": ("Conv", (5, 3, 1, 1), 3, (1, 1), {}),
    "transpose": ("ConvTranspose", (3, 2, 4, 4), 3, (5, 4),
                  {"strides": [2, 2], "pads": [1, 1, 1, 1]}),
    # onnx.reference's ConvTranspose has no groups: grouped transposed layers are
    # checked on PyTorch modules below
    "transpose_outpad_asym": ("ConvTranspose", (4, 2, 3, 3), 4, (4, 3),
                              {"strides": [2, 2], "pads": [1, 1, 1, 0],
                               "output_padding": [1, 0]}),
}


@pytest.mark.parametrize("case", sorted(ONNX_CASES))
def test_onnx_layer_against_the_reference_evaluator(case):
    op, w, cin, spatial, attrs = ONNX_CASES[case]
    model, shape = _single(op, w, cin, spatial, **attrs)
    matrix = _onnx_matrix(model, shape)
    report = cb.model_spectra(model, shape)
    (rec,) = report.layers
    assert rec.reason == ""
    assert rec.name == "conv" and rec.op == op
    assert rec.output_size == tuple(
        ReferenceEvaluator(model).run(None, {"x": np.zeros(shape)})[0].shape[2:]
    )
    assert rec.sigma_max == pytest.approx(_top(matrix), rel=RTOL)
    assert rec.bound >= rec.sigma_max * (1 - 1e-12)
    assert rec.weight_shape == w
    assert report.chain and report.lipschitz_bound == pytest.approx(rec.sigma_max)


def test_onnx_constant_weights_unnamed_nodes_and_periodic_numbers():
    model, shape = _single("Conv", (4, 2, 3, 3), 2, (8, 8), unnamed=True, const=True,
                           pads=[1, 1, 1, 1], strides=[2, 2])
    report = cb.model_spectra(model, shape)
    (rec,) = report.layers
    assert rec.name == "y"  # the first output's name
    assert rec.sigma_max == pytest.approx(_top(_onnx_matrix(model, shape)), rel=RTOL)
    # periodic: circular padding by ONNX's Pad, then the same strided convolution
    pad = helper.make_node("Pad", ["x", "p"], ["xp"], mode="wrap")
    conv = helper.make_node("Conv", ["xp", "w"], ["y"], strides=[2, 2])
    weight = numpy_helper.to_array(model.graph.node[0].attribute[0].t)
    wrap = _graph_model([pad, conv], ["N", 2, 8, 8],
                        {"w": weight, "p": np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)},
                        opset=19)
    s = np.linalg.svd(_onnx_matrix(wrap, shape), compute_uv=False)
    assert rec.sigma_max_periodic == pytest.approx(s[0], rel=RTOL)
    assert rec.sigma_min_periodic == pytest.approx(s[-1], rel=1e-8)
    assert rec.condition_periodic == pytest.approx(s[0] / s[-1], rel=1e-8)
    per = cb.model_spectra(model, shape, boundary="periodic", spectra=True)
    assert per.layers[0].sigma_max == pytest.approx(s[0], rel=RTOL)
    np.testing.assert_allclose(per.layers[0].spectrum, s, atol=1e-9 * s[0])


def test_onnx_periodic_numbers_are_nan_where_the_stride_does_not_divide():
    model, shape = _single("Conv", (2, 2, 3, 3), 2, (7, 7), pads=[1, 1, 1, 1], strides=[2, 2])
    (rec,) = cb.model_spectra(model, shape).layers
    assert math.isnan(rec.sigma_max_periodic) and math.isnan(rec.condition_periodic)
    assert math.isfinite(rec.sigma_max)


def _arpack_top(weight, shape, **conv):
    """sigma_max by ARPACK on torch's functional conv2d and its autograd adjoint."""
    import scipy.sparse.linalg as sla

    F = torch.nn.functional
    wt = torch.from_numpy(weight)
    x0 = torch.zeros(shape, dtype=torch.float64)
    out_shape = F.conv2d(x0, wt, **conv).shape

    def mv(v):
        x = torch.from_numpy(np.ascontiguousarray(v).reshape(shape))
        return F.conv2d(x, wt, **conv).numpy().ravel()

    def rmv(u):
        y = torch.from_numpy(np.ascontiguousarray(u).reshape(out_shape))
        _, back = torch.autograd.functional.vjp(lambda x: F.conv2d(x, wt, **conv), x0, y)
        return back.numpy().ravel()

    op = sla.LinearOperator((math.prod(out_shape), math.prod(shape)), matvec=mv,
                            rmatvec=rmv, dtype=np.float64)
    return sla.svds(op, k=1, tol=1e-14, return_singular_vectors=False,
                    random_state=0)[0]


def test_onnx_large_layer_lanczos_against_arpack_on_torch():
    weight = cb.pytorch_default(16, 16, 3, seed=1)
    model = _graph_model(
        [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1], strides=[2, 2])],
        ["N", 16, "H", "W"], {"w": weight},
    )
    shape = (1, 16, 24, 24)
    (rec,) = cb.model_spectra(model, shape).layers
    ref = _arpack_top(weight, shape, stride=2, padding=1)
    assert rec.sigma_max == pytest.approx(ref, rel=RTOL)
    # Lanczos: its certificate is the Ritz pair's residual, and it holds
    assert 0 < rec.certificate <= 1e-10 / 4
    assert abs(rec.sigma_max - ref) <= (rec.certificate + 1e-13) * ref


def test_onnx_large_depthwise_layer_against_arpack_on_torch():
    # groups with nearly equal top values: each group is taken alone
    weight = cb.pytorch_default(16, 1, 3, seed=2)
    model = _graph_model(
        [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1], group=16)],
        ["N", 16, "H", "W"], {"w": weight},
    )
    shape = (1, 16, 48, 48)
    (rec,) = cb.model_spectra(model, shape).layers
    ref = _arpack_top(weight, shape, padding=1, groups=16)
    assert rec.sigma_max == pytest.approx(ref, rel=RTOL)
    assert 0 < rec.certificate <= 1e-10 / 4
    assert abs(rec.sigma_max - ref) <= (rec.certificate + 1e-13) * ref


# -- PyTorch ---------------------------------------------------------------------------


def _module_matrix(module, size):
    """The module's linear part on unit inputs: module(e_i) - module(0)."""
    cin = module.in_channels
    n = cin * math.prod(size)
    eye = torch.eye(n, dtype=torch.float64).reshape(n, cin, *size)
    with torch.no_grad():
        out = module(eye) - module(torch.zeros(1, cin, *size, dtype=torch.float64))
    return out.reshape(n, -1).T.numpy()


class TwoD(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.act = torch.nn.ReLU()
        self.dw = torch.nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=8, bias=False)
        self.block = torch.nn.Sequential(torch.nn.Conv2d(8, 4, 1),
                                         torch.nn.Conv2d(4, 6, (3, 2), padding="same"))
        self.up = torch.nn.ConvTranspose2d(6, 4, 3, stride=2, padding=1, output_padding=1,
                                           groups=2)

    def forward(self, x):
        return self.up(self.block(self.dw(self.act(self.stem(x)))))


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_torch_module_layers_against_the_modules_themselves():
    torch.manual_seed(0)
    net = TwoD().double()
    report = cb.model_spectra(net, (2, 3, 10, 9))
    assert [r.name for r in report.layers] == ["stem", "dw", "block.0", "block.1", "up"]
    sizes = [(10, 9), (5, 5), (5, 5), (5, 5), (5, 5)]
    mods = [net.stem, net.dw, net.block[0], net.block[1], net.up]
    for rec, mod, size in zip(report.layers, mods, sizes, strict=True):
        assert rec.input_size == size, rec.name
        ref = _top(_module_matrix(mod, size))
        assert rec.sigma_max == pytest.approx(ref, rel=RTOL)
        assert rec.bound >= rec.sigma_max * (1 - 1e-12)
        # small layers take the dense SVD: the certificate is its rounding level
        rows = np.prod(rec.output_size) * mod.out_channels
        cols = np.prod(size) * mod.in_channels
        assert rec.certificate == pytest.approx(max(rows, cols) * np.finfo(float).eps)
        assert abs(rec.sigma_max - ref) <= rec.certificate * ref
    assert report.layers[-1].output_size == (10, 10)
    assert report.chain, report.chain_reason
    prod = np.prod([r.sigma_max for r in report.layers])
    assert report.lipschitz_bound == pytest.approx(prod)


def test_torch_one_d_and_a_residual_graph_is_not_a_chain():
    class Res(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Conv1d(3, 3, 5, stride=2, padding=2)
            self.b = torch.nn.Conv1d(3, 3, 3, padding=1, dilation=1)

        def forward(self, x):
            h = self.a(x)
            return h + self.b(h)

    torch.manual_seed(1)
    net = Res().double()
    report = cb.model_spectra(net, (1, 3, 20))
    for rec, mod, size in zip(report.layers, [net.a, net.b], [(20,), (10,)], strict=True):
        assert rec.input_size == size
        assert rec.sigma_max == pytest.approx(_top(_module_matrix(mod, size)), rel=RTOL)
    assert not report.chain and report.lipschitz_bound is None
    assert "output" in report.chain_reason


def test_torch_fold_batchnorm_is_the_pairs_linear_part():
    torch.manual_seed(2)
    conv = torch.nn.Conv2d(3, 4, 3, padding=1)
    bn = torch.nn.BatchNorm2d(4)
    bn.running_var.uniform_(0.2, 3.0)
    bn.running_mean.uniform_(-1, 1)
    bn.weight.data.uniform_(-2, 2)
    net = torch.nn.Sequential(conv, bn, torch.nn.ReLU()).double().eval()
    plain = cb.model_spectra(net, (1, 3, 6, 6))
    folded = cb.model_spectra(net, (1, 3, 6, 6), fold_batchnorm=True)
    pair = torch.nn.Sequential(conv, bn)
    pair.in_channels = 3
    ref = _top(_module_matrix(pair, (6, 6)))
    assert folded.layers[0].sigma_max == pytest.approx(ref, rel=RTOL)
    assert plain.layers[0].sigma_max == pytest.approx(
        _top(_module_matrix(conv, (6, 6))), rel=RTOL)
    assert folded.chain and not plain.chain
    with pytest.raises(ValueError, match="eval"):
        cb.model_spectra(net.train(), (1, 3, 6, 6), fold_batchnorm=True)


def test_report_tables(tmp_path):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.ReLU(),
                              torch.nn.Conv2d(3, 2, 3, stride=2))
    report = cb.model_spectra(net, (1, 2, 9, 9))
    frame = report.to_pandas()
    assert list(frame["name"]) == ["0", "2"]
    assert list(frame.columns) == list(cb.models.COLUMNS)
    csv_path = report.to_csv(tmp_path / "t.csv")
    assert csv_path.read_text().splitlines()[1].startswith("0,Conv2d,3x2x3x3,1x1,")
    report.to_json(tmp_path / "t.json")
    with pytest.raises(FileExistsError):
        report.to_json(tmp_path / "t.json")
    import json

    data = json.loads((tmp_path / "t.json").read_text())
    assert data["layers"][1]["input_size"] == [7, 7]
    assert data["lipschitz_bound"] == pytest.approx(report.lipschitz_bound)


# -- bad input -------------------------------------------------------------------------


class _Trap:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_bad_files_get_clear_errors_and_pickles_are_never_run(tmp_path):
    marker = tmp_path / "executed"
    bad = tmp_path / "model.onnx"
    bad.write_bytes(pickle.dumps(_Trap(marker)))
    with pytest.raises(ValueError, match="ONNX"):
        cb.model_spectra(bad, (1, 3, 8, 8))
    assert not marker.exists()
    with pytest.raises(OSError):
        cb.model_spectra(tmp_path / "missing.onnx", (1, 3, 8, 8))
    model, shape = _single("Conv", (4, 2, 3, 3), 2, (8, 8))
    data = model.SerializeToString()
    trunc = tmp_path / "trunc.onnx"
    trunc.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError):
        cb.model_spectra(trunc, shape)
    png = tmp_path / "image.onnx"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    with pytest.raises(ValueError):
        cb.model_spectra(png, shape)
    with pytest.raises(TypeError):
        cb.model_spectra(object(), shape)
    good = tmp_path / "good.onnx"
    good.write_bytes(data)
    with pytest.raises(ValueError, match="dimensions"):
        cb.model_spectra(good, (1, 2, 8))
    with pytest.raises(ValueError):
        cb.model_spectra(good, (1, 2, 8, 8, 8))
    valid, _ = _single("Conv", (4, 2, 3, 3), 2, (8, 8), auto_pad="VALID")
    with pytest.raises(ValueError, match="small"):
        cb.model_spectra(valid, (1, 2, 2, 2))
    with pytest.raises(ValueError, match="boundary"):
        cb.model_spectra(good, shape, boundary="circular")


def test_a_layer_without_an_inferable_size_is_reported_with_the_reason():
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("Mystery", ["x"], ["h"], domain="custom"),
        helper.make_node("Conv", ["h", "w"], ["y"], name="after"),
    ]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.DOUBLE, ["N", 2, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.DOUBLE, None)],
        [numpy_helper.from_array(rng.standard_normal((2, 2, 3, 3)), "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                    helper.make_opsetid("custom", 1)])
    report = cb.model_spectra(model, (1, 2, 8, 8))
    (rec,) = report.layers
    assert rec.name == "after" and "input size" in rec.reason
    assert math.isnan(rec.sigma_max)
    assert not report.chain


# -- command line ----------------------------------------------------------------------


def test_command_line_table_files_and_refusals(tmp_path, capsys):
    from convbench.cli import main

    model, _ = _single("Conv", (4, 2, 3, 3), 2, (8, 8), pads=[1, 1, 1, 1], strides=[2, 2])
    path = tmp_path / "net.onnx"
    path.write_bytes(model.SerializeToString())
    out_csv, out_json = tmp_path / "t.csv", tmp_path / "t.json"
    argv = [str(path), "--input", "1x2x8x8", "--csv", str(out_csv), "--json", str(out_json)]
    assert main(["model", *argv]) == 0
    out = capsys.readouterr().out
    header, row = out.splitlines()[:2]
    assert header.split()[:3] == ["layer", "op", "weight"]
    (rec,) = cb.model_spectra(model, (1, 2, 8, 8)).layers
    assert row.split()[:7] == ["conv", "Conv", "4x2x3x3", "2x2", "1", "8x8", "4x4"]
    assert f"{rec.sigma_max:.10g}" in row and f"{rec.bound:.10g}" in row
    assert f"{rec.certificate:.1e}" in row
    assert f"certified  each sigma_max within {rec.certificate:.1e} (relative)" in out
    assert "network    Lipschitz constant <=" in out
    assert out_csv.exists() and out_json.exists()
    assert main(["model", *argv]) == 2  # never over existing files without --force
    assert "exists" in capsys.readouterr().err
    assert main(["model", *argv, "--force"]) == 0
    capsys.readouterr()
    trap = tmp_path / "model.pt"
    marker = tmp_path / "executed"
    trap.write_bytes(pickle.dumps(_Trap(marker)))
    assert main(["model", str(trap), "--input", "1x2x8x8"]) == 2
    assert "never loaded" in capsys.readouterr().err and not marker.exists()
    assert main(["model", str(path), "--input", "2x8x8x8x8x8"]) == 2
    assert main(["model", str(tmp_path / "none.onnx"), "--input", "1x2x8x8"]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("opset", [11, 18])
def test_onnx_opsets_and_initializers_listed_as_inputs(opset):
    # older exporters list initializers among the graph inputs too
    weight = np.random.default_rng(3).standard_normal((3, 2, 3, 3))
    conv = helper.make_node("Conv", ["x", "w"], ["h"], pads=[1, 1, 1, 1], strides=[2, 2])
    flat = helper.make_node("Flatten", ["r"], ["y"])
    relu = helper.make_node("Relu", ["h"], ["r"])
    graph = helper.make_graph(
        [conv, relu, flat], "g",
        [helper.make_tensor_value_info("x", TensorProto.DOUBLE, ["N", 2, "H", "W"]),
         helper.make_tensor_value_info("w", TensorProto.DOUBLE, [3, 2, 3, 3])],
        [helper.make_tensor_value_info("y", TensorProto.DOUBLE, None)],
        [numpy_helper.from_array(weight, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    report = cb.model_spectra(model, (1, 2, 6, 6))
    (rec,) = report.layers
    single, shape = _graph_model([helper.make_node("Conv", ["x", "w"], ["y"],
                                                   pads=[1, 1, 1, 1], strides=[2, 2])],
                                 ["N", 2, 6, 6], {"w": weight}), (1, 2, 6, 6)
    assert rec.sigma_max == pytest.approx(_top(_onnx_matrix(single, shape)), rel=RTOL)
    assert report.chain and report.lipschitz_bound == pytest.approx(rec.sigma_max)


# ConvTranspose whose pads follow from output_shape or auto_pad (ONNX's rule):
# input 4x5, stride 2, kernel 3: full output 9x11
IMPLIED_CASES = {
    "output_shape": ({"output_shape": [8, 9]}, ((1, 0), (1, 1))),
    "same_upper": ({"auto_pad": "SAME_UPPER"}, ((0, 1), (0, 1))),
    "same_lower": ({"auto_pad": "SAME_LOWER"}, ((1, 0), (1, 0))),
}


@pytest.mark.parametrize("case", sorted(IMPLIED_CASES))
def test_onnx_conv_transpose_pads_implied_by_output_shape_or_auto_pad(case):
    attrs, pads = IMPLIED_CASES[case]
    model, shape = _single("ConvTranspose", (3, 2, 3, 3), 3, (4, 5), strides=[2, 2], **attrs)
    (rec,) = cb.model_spectra(model, shape).layers
    assert rec.reason == ""
    # PyTorch's full transposed output (no padding), cropped (before, after) per dimension
    weight = numpy_helper.to_array(model.graph.initializer[0]).copy()
    size = math.prod(shape[1:])
    eye = torch.eye(size, dtype=torch.float64).reshape(size, *shape[1:])
    full = torch.nn.functional.conv_transpose2d(eye, torch.from_numpy(weight), stride=2)
    (b0, a0), (b1, a1) = pads
    out = full[:, :, b0 : full.shape[2] - a0, b1 : full.shape[3] - a1]
    assert rec.output_size == tuple(out.shape[2:])
    assert rec.sigma_max == pytest.approx(_top(out.reshape(size, -1).numpy()), rel=RTOL)
    assert rec.bound >= rec.sigma_max * (1 - 1e-12)


def _blas_threads_now() -> int:
    from threadpoolctl import threadpool_info

    return max(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")


def _small_specs(count: int) -> list:
    from convbench.models.spec import LayerSpec

    return [
        LayerSpec(name=f"conv{i}", op="Conv",
                  weight=cb.pytorch_default(3, 2, 3, seed=i), stride=(1, 1),
                  dilation=(1, 1), groups=1, padding=((1, 1), (1, 1)),
                  output_padding=(0, 0), transposed=False, input_size=(6, 6))
        for i in range(count)
    ]


@pytest.mark.parametrize(("threads", "cores"), [(None, 2), (2, 1), (1, 2), (None, 1)])
def test_layer_records_never_start_blas_threads_beyond_their_count(monkeypatch, threads,
                                                                   cores):
    # Beside other busy processes, BLAS threads that spin while a pool's threads also run
    # turned a 20 s model into 173 s; the count a caller gives (default: every core) is
    # the total: a pool of that many layers runs each on one BLAS thread, one thread runs
    # BLAS on one.
    from threadpoolctl import threadpool_limits

    from convbench.models import compute

    seen = []
    real = compute.layer_record

    def spy(spec, **kwargs):
        seen.append((_blas_threads_now(), kwargs["threads"]))
        return real(spec, **kwargs)

    monkeypatch.setattr(compute, "layer_record", spy)
    monkeypatch.setattr(compute, "default_threads", lambda: cores)
    specs = _small_specs(3)
    with threadpool_limits(limits=2, user_api="blas"):  # BLAS as left by default
        records = compute.layer_records(specs, threads=threads)
        assert _blas_threads_now() == 2  # restored after the call
    count = cores if threads is None else threads
    assert seen == [(1, 1)] * 3 if count > 1 else [(count, count)] * 3
    expected = [real(s, threads=1).sigma_max for s in specs]
    assert [r.sigma_max for r in records] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("threads", [0, -1, 2.5, True, "2"])
def test_layer_records_refuse_a_bad_thread_count(threads):
    from convbench.models import compute

    with pytest.raises(ValueError, match="threads must be a positive integer"):
        compute.layer_records(_small_specs(2), threads=threads)


def test_a_pool_of_layers_raises_the_first_failing_layer_in_order(monkeypatch):
    """Layers that fail on a pool raise what a run in order raises: the first failing
    layer's error, whichever thread finishes first (the pool starts the costliest)."""
    from convbench.models import compute

    specs = _small_specs(4)
    bad = {1, 3}
    real = compute.layer_record

    def record(spec, **kwargs):
        index = int(spec.name[4:])
        if index in bad:
            raise ValueError(f"{spec.name} failed")
        return real(spec, **kwargs)

    monkeypatch.setattr(compute, "layer_record", record)
    monkeypatch.setattr(compute, "_cost", lambda spec: float(spec.name[4:]))  # last first
    for threads in (1, 2, 4):
        with pytest.raises(ValueError, match=r"^conv1 failed$"):
            compute.layer_records(specs, threads=threads)


# -- the field's estimates beside the exact values -------------------------------------


def test_estimates_add_one_column_per_method_and_their_products(tmp_path):
    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.Conv2d(4, 3, 3, stride=2, padding=1)).double()
    methods = ["singla", "gram_zero", "power", "reshaped"]
    report = cb.model_spectra(net, (1, 2, 8, 8), estimates=methods)
    methods = [m for m in cb.ESTIMATE_METHODS if m in methods]  # the registry's order
    assert methods == ["gram_zero", "singla", "power", "reshaped"]
    frame = report.to_pandas()
    assert list(frame.columns) == [*cb.models.COLUMNS, *(f"estimate_{m}" for m in methods)]
    mods = [net[0], net[2]]
    for rec, mod in zip(report.layers, mods, strict=True):
        exact = _top(_module_matrix(mod, rec.input_size))  # PyTorch's own operator
        assert rec.sigma_max == pytest.approx(exact, rel=RTOL)
        assert rec.estimates["singla"] >= exact * (1 - 1e-12)  # certified bounds
        assert rec.estimates["gram_zero"] >= exact * (1 - 1e-12)
        assert rec.estimates["power"] <= exact * (1 + 1e-12)  # from below
        reshaped = np.linalg.norm(mod.weight.detach().double().reshape(
            mod.weight.shape[0], -1).numpy(), 2)
        assert rec.estimates["reshaped"] == pytest.approx(reshaped, rel=1e-12)
    products = report.estimate_products()
    values = np.array([[r.estimates[m] for m in methods] for r in report.layers])
    expected = values.prod(axis=0) / np.prod([r.sigma_max for r in report.layers])
    assert [products[m] for m in methods] == pytest.approx(list(expected), rel=1e-12)
    data = report.to_dict()
    assert data["estimate_methods"] == methods
    assert data["layers"][1]["estimate_singla"] == pytest.approx(values[1, 1])
    assert report.to_csv(tmp_path / "t.csv").read_text().splitlines()[0].endswith(
        "estimate_power,estimate_reshaped")


def test_estimates_refuse_unknown_methods_and_exact_before_reading_the_model(tmp_path):
    missing = tmp_path / "none.onnx"
    with pytest.raises(ValueError, match="known: exact"):
        cb.model_spectra(missing, (1, 2, 8, 8), estimates=["gram"])
    with pytest.raises(ValueError, match="sigma_max column"):
        cb.model_spectra(missing, (1, 2, 8, 8), estimates=["exact"])
    report = cb.model_spectra(torch.nn.Conv2d(2, 2, 3), (1, 2, 6, 6))
    assert report.estimate_methods == () and report.estimate_products() == {}
    assert list(report.to_pandas().columns) == list(cb.models.COLUMNS)


def test_command_line_estimates_columns(tmp_path, capsys):
    from convbench.cli import main
    from convbench.cli.model import DEFAULT_ESTIMATES

    model, _ = _single("Conv", (4, 2, 3, 3), 2, (8, 8), pads=[1, 1, 1, 1])
    path = tmp_path / "net.onnx"
    path.write_bytes(model.SerializeToString())
    assert main(["model", str(path), "--input", "1x2x8x8", "--estimates"]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0].split()
    assert header[-len(DEFAULT_ESTIMATES) - 1:-1] == list(DEFAULT_ESTIMATES)
    assert "spectral_norm_bound" not in header and header[-1] == "seconds"
    (rec,) = cb.model_spectra(model, (1, 2, 8, 8), estimates=["singla"]).layers
    assert f"{rec.estimates['singla']:.7g}" in out.splitlines()[1]
    assert "estimates  product of layer values / product of sigma_max: periodic" in out
    assert main(["model", str(path), "--input", "1x2x8x8", "--estimates", "nope"]) == 2
    assert "known: exact" in capsys.readouterr().err
