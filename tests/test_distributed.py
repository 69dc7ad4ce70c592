"""More than one machine: summarize, model_spectra and sweep on a dask LocalCluster.

One cluster of two single-threaded worker processes serves the module. Every result on
the cluster is compared with the same call on this process, bit for bit (``seconds``
aside). The fault tests kill a worker process in the middle of a run, and put a memory
budget on the workers that a layer exceeds.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import os
import signal
import subprocess
import sys
import time
import traceback

import numpy as np
import pytest

import convbench as cb
from convbench import passes, stream
from convbench.blas import single_blas_thread

distributed = pytest.importorskip("distributed")
cloudpickle = pytest.importorskip("cloudpickle")
from distributed import Client, LocalCluster  # noqa: E402
from distributed.diagnostics.plugin import WorkerPlugin  # noqa: E402

FIELDS = ("count", "sigma_max", "sigma_min", "frobenius", "histogram", "bin_edges",
          "quantiles", "quantile_values", "exact", "quantile_error", "upper_bound", "passes",
          "shape")

# the worker plugin below travels by value: the workers cannot import this file
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def client():
    import psutil

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                     dashboard_address=None, silence_logs=logging.ERROR,
                     # no dashboard; the HTTP routes on a free port (8787 may be taken)
                     scheduler_kwargs={"dashboard": False,
                                       "dashboard_address": "127.0.0.1:0"}) as cluster,
        Client(cluster) as c,
    ):
        c.wait_for_workers(2)
        yield c
    # nothing of the cluster outlives the module (multiprocessing's resource tracker
    # is this interpreter's, kept until it exits)
    def left():
        return [p for p in psutil.Process().children(recursive=True)
                if "resource_tracker" not in " ".join(p.cmdline())]

    deadline = time.monotonic() + 20
    while left() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left(), [p.cmdline() for p in left()]


@pytest.fixture
def many_tasks(monkeypatch):
    """Split even small runs into as many tasks as the cluster run allows."""
    monkeypatch.setattr(passes, "TASK_SECONDS", 1e-9)


def _same(a, b):
    for f in FIELDS:
        x, y = getattr(a, f), getattr(b, f)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y), f
        else:
            assert type(x) is type(y) and x == y, f


def _weight(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


CASES = {
    # plain, on the compiled 2-D path's row chunks (17 chunks at n = 512)
    "plain": (_weight((4, 4, 3, 3)), (512, 384), {}),
    "strided": (_weight((6, 3, 3, 3), 1), (256, 192), {"stride": 2}),
    "grouped": (_weight((8, 2, 3, 3), 2), (96, 80), {"groups": 4}),
    "depthwise": (_weight((6, 1, 5, 5), 3), (128, 128), {"groups": 6}),
    "1-D": (_weight((5, 3, 5), 4), (8192,), {}),
    "3-D": (_weight((3, 2, 3, 3, 3), 5), (16, 16, 12), {}),
    "transposed": (_weight((3, 4, 4, 4), 6), (64, 64), {"stride": 2, "transposed": True}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_summarize_on_the_cluster_is_the_local_result_bit_for_bit(client, many_tasks, case):
    weight, shape, options = CASES[case]
    local = cb.summarize(weight, shape, progress=False, **options)
    remote = cb.summarize(weight, shape, progress=False, client=client, **options)
    _same(local, remote)
    assert remote.passes >= 2


def test_summarize_one_pass_given_edges_and_few_chunks(client, many_tasks):
    weight = _weight((3, 5, 3, 3), 7)
    for kwargs in ({"exact": False}, {"bins": np.linspace(0, 9, 31)},
                   {"hist_range": (1.0, 4.0), "quantiles": [0.3, 0.5]}):
        _same(cb.summarize(weight, (200, 130), progress=False, **kwargs),
              cb.summarize(weight, (200, 130), progress=False, client=client, **kwargs))
    # one chunk: one task
    _same(cb.summarize(weight, (12, 10), progress=False),
          cb.summarize(weight, (12, 10), progress=False, client=client))


def test_partials_merge_in_any_order_to_the_one_tally():
    """The tasks' partial results, merged in a scrambled order, are pass 1 bit for bit."""
    layer = cb.as_layer(_weight((4, 4, 3, 3)), (1024, 256), boundary="periodic")
    top = stream.upper_bound(layer) * (1 + 1e-9) + 1e-300
    edges = np.linspace(0, 5, 17)
    with single_blas_thread():  # as in summarize: BLAS threads would change the dot's rounding
        whole = passes.Local(layer, 2, False).tally(stream.FINE_BINS / top, edges)
    n = passes.chunk_count(layer)
    assert n > 10
    cuts = [0, 1, 5, n // 2, n - 1, n]
    parts = [passes.tally_task(layer, (a, b, stream.FINE_BINS / top, edges))
             for a, b in itertools.pairwise(cuts)]
    parts = [cloudpickle.loads(cloudpickle.dumps(p)) for p in parts]  # as they travel
    merged = parts[3]
    for i in (0, 4, 2, 1):
        merged.merge(parts[i])
    merged.replay([p.terms for p in parts])
    assert (merged.smax, merged.smin, merged.count, merged.sq) == (
        whole.smax, whole.smin, whole.count, whole.sq)
    assert np.array_equal(merged.fine, whole.fine) and np.array_equal(merged.hist, whole.hist)
    # a partial sends its fine histogram's nonzero span, narrowed: far below 8 MiB
    assert len(cloudpickle.dumps(parts[0])) < stream.FINE_BINS


class KillOnce(WorkerPlugin):
    """Kill the worker process when it starts the first task whose key has ``prefix``;
    the marker file makes it once per cluster (the restarted worker gets the plugin
    again)."""

    def __init__(self, marker, prefix):
        self.marker, self.prefix = str(marker), prefix

    def transition(self, key, start, finish, **kwargs):
        if finish == "executing" and str(key).startswith(self.prefix):
            try:
                fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return
            os.close(fd)
            os.kill(os.getpid(), signal.SIGKILL)


def test_a_worker_killed_mid_run_changes_nothing(client, many_tasks, tmp_path):
    weight, shape = _weight((4, 4, 3, 3), 8), (512, 512)
    local = cb.summarize(weight, shape, progress=False)
    before = set(client.run(os.getpid).values())
    marker = tmp_path / "killed"
    client.register_plugin(KillOnce(marker, "convbench-summarize-pass2"), name="kill-once")
    try:
        remote = cb.summarize(weight, shape, progress=False, client=client)
    finally:
        client.unregister_worker_plugin("kill-once")
    assert marker.exists(), "no worker was killed"
    client.wait_for_workers(2, timeout=60)
    assert set(client.run(os.getpid).values()) != before  # one process is new
    _same(local, remote)


def _conv_net(seed, cin=3):
    torch = pytest.importorskip("torch")
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Conv2d(cin, 6, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(6, 6, 3, stride=2, padding=1, groups=2), torch.nn.ReLU(),
        torch.nn.Conv2d(6, 4, 1),
    ).double()


def _onnx_net():
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    w1, w2 = _weight((4, 3, 3, 3), 9), _weight((5, 4, 3, 3), 10)
    nodes = [helper.make_node("Conv", ["x", "w1"], ["h"], name="first", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Conv", ["r", "w2"], ["y"], name="second", strides=[2, 2])]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("x", TensorProto.DOUBLE, [1, 3, 12, 12])],
        [helper.make_tensor_value_info("y", TensorProto.DOUBLE, None)],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")])
    return onnx, helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def _records_equal(a, b):
    """Every field but ``seconds`` equal. The zero-padded ``sigma_max`` (Lanczos on
    GEMMs) is bit for bit the same where BLAS runs on as many threads as dask's workers
    run it (one), so the local side runs under :func:`single_blas_thread`."""
    for x, y in zip(a, b, strict=True):
        dx, dy = dataclasses.asdict(x), dataclasses.asdict(y)
        dx.pop("seconds"), dy.pop("seconds")
        sx, sy = dx.pop("spectrum"), dy.pop("spectrum")
        assert (sx is None) == (sy is None) and (sx is None or np.array_equal(sx, sy))
        assert dx.keys() == dy.keys()
        for k in dx:
            v, w = dx[k], dy[k]
            assert v == w or (isinstance(v, float) and math.isnan(v) and math.isnan(w)), k


def test_model_spectra_with_a_client_is_the_same_report(client):
    net = _conv_net(0)
    seen = []
    with single_blas_thread():  # as dask's workers run BLAS
        local = cb.model_spectra(net, (1, 3, 16, 12), spectra=True)
    remote = cb.model_spectra(net, (1, 3, 16, 12), spectra=True, client=client,
                              progress=lambda done, total, name: seen.append((done, total)))
    _records_equal(local.layers, remote.layers)
    assert [r.name for r in remote.layers] == ["0", "2", "4"]
    assert sorted(seen) == [(1, 3), (2, 3), (3, 3)]
    assert remote.lipschitz_bound == local.lipschitz_bound


def test_sweep_is_one_table_with_a_model_column(client, tmp_path):
    _onnx, proto = _onnx_net()
    models = [_conv_net(1), _conv_net(2), proto]
    shape = (1, 3, 12, 12)
    with single_blas_thread():
        local = cb.sweep(models, shape, names=["epoch1", "epoch2", "exported"])
        single = cb.model_spectra(models[1], shape)
    remote = cb.sweep(models, shape, names=["epoch1", "epoch2", "exported"], client=client)
    rows = remote.rows()
    assert [r["model"] for r in rows] == ["epoch1"] * 3 + ["epoch2"] * 3 + ["exported"] * 2
    for a, b in zip(local.reports, remote.reports, strict=True):
        _records_equal(a.layers, b.layers)
    # each model's rows are its own report's, in graph order
    assert [r["sigma_max"] for r in rows[3:6]] == [r.sigma_max for r in single.layers]
    frame = remote.to_pandas()
    assert list(frame.columns[:2]) == ["model", "name"] and len(frame) == 8
    path = remote.to_csv(tmp_path / "sweep.csv")
    assert path.read_text().splitlines()[0].startswith("model,name,op")
    with pytest.raises(FileExistsError):
        remote.to_csv(tmp_path / "sweep.csv")
    assert remote.to_json(tmp_path / "sweep.json").exists()
    # default names: class names made unique by position
    assert cb.sweep(models[:2], shape).names == ["Sequential[0]", "Sequential[1]"]
    with pytest.raises(ValueError, match="unique"):
        cb.sweep(models[:2], shape, names=["a", "a"])
    with pytest.raises(TypeError, match="unknown options"):
        cb.sweep(models[:2], shape, budget=3)


def _setenv(name, value):
    """Set (or with ``None`` remove) an environment variable of the process it runs in."""
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def test_a_budget_error_on_a_worker_is_the_library_error(client, monkeypatch):
    net = _conv_net(3)
    shape = (1, 3, 16, 16)
    monkeypatch.setenv("CONVBENCH_MEMORY_BUDGET", "1K")
    with pytest.raises(cb.BudgetError) as here:
        cb.model_spectra(net, shape)
    client.run(_setenv, "CONVBENCH_MEMORY_BUDGET", "1K")
    try:
        with pytest.raises(cb.BudgetError) as there:
            cb.model_spectra(net, shape, client=client)
    finally:
        client.run(_setenv, "CONVBENCH_MEMORY_BUDGET", None)
    assert type(there.value) is type(here.value) and str(there.value) == str(here.value)
    frames = traceback.extract_tb(there.value.__traceback__)
    assert not [f for f in frames if f"{os.sep}distributed{os.sep}" in f.filename]
    # the cluster still works
    monkeypatch.delenv("CONVBENCH_MEMORY_BUDGET")
    with single_blas_thread():
        local = cb.model_spectra(net, shape)
    _records_equal(local.layers, cb.model_spectra(net, shape, client=client).layers)


def test_threads_and_client_together_are_refused(client):
    with pytest.raises(ValueError, match="threads"):
        cb.summarize(_weight((2, 2, 3, 3)), (8, 8), threads=2, client=client)
    with pytest.raises(TypeError, match="client"):
        cb.summarize(_weight((2, 2, 3, 3)), (8, 8), client="tcp://nowhere:1")


def _lines(text):
    return [line for line in text.splitlines() if not line.startswith("time")]


def test_command_line_scheduler(client, capsys, tmp_path):
    from convbench.cli import main

    address = client.scheduler.address
    argv = ["summarize", "--cin", "3", "--cout", "5", "--kernel", "3", "--n", "96",
            "--stride", "2", "--progress", "no"]
    assert main(argv) == 0
    here = capsys.readouterr().out
    assert main([*argv, "--scheduler", address]) == 0
    assert _lines(capsys.readouterr().out) == _lines(here)
    assert main([*argv, "--scheduler", address, "--threads", "2"]) == 2
    assert "--threads" in capsys.readouterr().err

    onnx, proto = _onnx_net()
    path = tmp_path / "tiny.onnx"
    onnx.save(proto, str(path))
    model = ["model", str(path), "--input", "1x3x12x12", "--progress", "no"]
    with single_blas_thread():
        assert main(model) == 0
    here = capsys.readouterr().out
    assert main([*model, "--scheduler", address]) == 0
    there = capsys.readouterr().out

    def numbers(text):  # the table without the seconds column
        return [line.split()[:-1] for line in text.splitlines() if line.startswith(("first",
                                                                                   "second"))]

    assert numbers(there) == numbers(here) and len(numbers(here)) == 2
    assert main([*model, "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert "no dask scheduler" in capsys.readouterr().err


def test_the_command_line_without_scheduler_imports_no_dask():
    code = ("import sys; from convbench.cli import main; "
            "main(['summarize', '--cin', '2', '--kernel', '3', '--n', '16', "
            "'--progress', 'no']); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('dask', 'distributed')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.splitlines()[-1] == "[]"
