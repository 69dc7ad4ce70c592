"""The whole-model speed targets on ResNet-50 at 224x224 (53 convolutions).

* zero boundary: the exact ``sigma_max`` (to 1e-9 relative) and the certified bound of
  every layer, in under 60 s in total;
* periodic: every singular value of every layer, in under 30 s in total.

ResNet-50 is built as a plain PyTorch module (``architectures.py``, torchvision's layers,
PyTorch's default initialisation from seed 0). Each layer's parts are timed apart
(the certified bound at the layer's input size, :func:`convbench.size_bound` at the
records' tolerance, the zero-padded ``sigma_max`` started at its maximiser, the
``fast`` periodic spectrum) on one thread; then every layer's bound and ``sigma_max``
again with two layers at once (one BLAS thread each), and
:func:`convbench.model_spectra` runs the whole model once, end to end, with
``threads=2`` (two layers at once). One BLAS thread (set before numpy loads),
``threads=2`` for the one-thread pass's ``fast`` path. A few layers' exact
``sigma_max`` is checked against ARPACK (:func:`scipy.sparse.linalg.svds`) on a
``LinearOperator`` built from ``torch.nn.functional.conv2d`` and its autograd adjoint,
which shares no code with the library.

Writes ``measurements/targets/models-<commit>.json`` (a new name if it exists, never
overwritten) with the load average before and after: others may use the machine.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse.linalg  # noqa: E402
import torch  # noqa: E402

import convbench  # noqa: E402
from convbench.blas import single_blas_thread  # noqa: E402
from convbench.models.compute import BOUND_RTOL, zero_sigma_max  # noqa: E402
from convbench.models.torch_module import torch_layers  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from architectures import build  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
INPUT = (1, 3, 224, 224)
THREADS = 2
TARGET_ZERO_S, TARGET_PERIODIC_S = 60.0, 30.0


def _free_name(path: Path) -> Path:
    k = 2
    out = path
    while out.exists():
        out = path.with_name(f"{path.stem}-{k}{path.suffix}")
        k += 1
    return out


def torch_sigma_max(spec) -> float:
    """ARPACK on the layer as PyTorch computes it: conv2d forward, autograd adjoint."""
    w = torch.from_numpy(spec.weight)
    cin = spec.weight.shape[1] * spec.groups
    shape = (1, cin, *spec.input_size)
    (pb, pa), (qb, qa) = spec.padding

    def forward(x: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64)).reshape(shape)
        t = torch.nn.functional.pad(t, (qb, qa, pb, pa))
        return torch.nn.functional.conv2d(
            t, w, stride=spec.stride, dilation=spec.dilation, groups=spec.groups
        )

    out = forward(np.zeros(int(np.prod(shape))))
    rows, cols = out.numel(), int(np.prod(shape))

    def matvec(x: np.ndarray) -> np.ndarray:
        return forward(x).reshape(-1).numpy()

    def rmatvec(y: np.ndarray) -> np.ndarray:
        x = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
        t = torch.nn.functional.pad(x, (qb, qa, pb, pa))
        res = torch.nn.functional.conv2d(
            t, w, stride=spec.stride, dilation=spec.dilation, groups=spec.groups
        )
        (grad,) = torch.autograd.grad(res, x, torch.from_numpy(np.asarray(y)).reshape(res.shape))
        return grad.reshape(-1).numpy()

    op = scipy.sparse.linalg.LinearOperator(
        (rows, cols), matvec=matvec, rmatvec=rmatvec, dtype=np.float64
    )
    v0 = np.random.default_rng(0).standard_normal(min(rows, cols))
    values = scipy.sparse.linalg.svds(
        op, k=1, ncv=40, tol=1e-13, v0=v0, maxiter=20000, return_singular_vectors=False
    )
    return float(values[0])


def zero_on_threads(specs, layers) -> tuple[float, bool]:
    """Wall time of every layer's bound and exact ``sigma_max`` with ``THREADS`` layers
    at once (one BLAS thread each, as ``model_spectra(threads=THREADS)`` runs them),
    costliest first, and whether the values equal the one-thread ones."""

    def one(i: int) -> tuple[int, float, float]:
        spec = specs[i]
        zero = convbench.as_layer(spec.weight, spec.input_size, boundary="zero",
                                  **spec.options)
        bound = convbench.size_bound(zero, rtol=BOUND_RTOL)
        return i, bound.upper, zero_sigma_max(zero, bound.theta)

    order = sorted(range(len(specs)), key=lambda i: -specs[i].weight.size
                   * int(np.prod(specs[i].input_size)))
    t0 = time.perf_counter()
    with single_blas_thread(), ThreadPoolExecutor(max_workers=THREADS) as pool:
        found = list(pool.map(one, order))
    wall = time.perf_counter() - t0
    same = all(
        abs(b - layers[i]["bound"]) <= 1e-12 * b
        and abs(v - layers[i]["sigma_max"]) <= 1e-12 * v
        for i, b, v in found
    )
    return wall, same


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="JSON path (default: "
                        "measurements/targets/models-<commit>.json, a new name if taken)")
    parser.add_argument("--check", default="0,10,30,49",
                        help="layer indices checked against ARPACK on torch ('' for none)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    commit = subprocess.run(["git", "rev-parse", "--short=8", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "--", "convbench"], cwd=ROOT,
                                capture_output=True, text=True, check=True).stdout.strip())
    out = args.out or ROOT / "measurements" / "targets" / f"models-{commit}.json"
    out = _free_name(out)
    load_before = os.getloadavg()
    model = build("resnet50", seed=0)
    specs, _reason = torch_layers(model, INPUT)
    layers = []
    for i, spec in enumerate(specs):
        zero = convbench.as_layer(spec.weight, spec.input_size, boundary="zero", **spec.options)
        t0 = time.perf_counter()
        bound = convbench.size_bound(zero, rtol=BOUND_RTOL)
        t1 = time.perf_counter()
        sigma = zero_sigma_max(zero, bound.theta)
        t2 = time.perf_counter()
        torus = zero.with_boundary("periodic")
        values = convbench.singular_values(torus, method="fast", threads=THREADS)
        t3 = time.perf_counter()
        row = {
            "index": i, "name": spec.name, "layer": zero.describe(),
            "bound": bound.upper, "bound_lower": bound.lower,
            "bound_torus": bound.torus, "bound_blocks": bound.evaluations,
            "bound_refined": bound.refined, "sigma_max": sigma,
            "sigma_max_periodic": float(values[0]), "n_periodic_values": int(values.size),
            "seconds_bound": t1 - t0, "seconds_sigma_max": t2 - t1, "seconds_periodic": t3 - t2,
        }
        layers.append(row)
        print(f"{i:2d} {zero.describe():70s} bound {row['seconds_bound']:6.2f}s "
              f"sigma {row['seconds_sigma_max']:6.2f}s periodic {row['seconds_periodic']:6.2f}s",
              flush=True)
    zero_total = sum(r["seconds_bound"] + r["seconds_sigma_max"] for r in layers)
    zero_threads, same_threads = zero_on_threads(specs, layers)
    print(f"zero (sigma_max + bound) on {THREADS} threads, layers in parallel: "
          f"{zero_threads:.1f} s; same values: {same_threads}", flush=True)
    periodic_total = sum(r["seconds_periodic"] for r in layers)
    t0 = time.perf_counter()
    report = convbench.model_spectra(model, INPUT, boundary="zero", threads=THREADS)
    end_to_end = time.perf_counter() - t0
    same = all(
        abs(rec.sigma_max - row["sigma_max"]) <= 1e-12 * row["sigma_max"]
        for rec, row in zip(report.layers, layers, strict=True)
    )
    checks = []
    for i in [int(v) for v in args.check.split(",") if v.strip()]:
        t0 = time.perf_counter()
        ref = torch_sigma_max(specs[i])
        rel = abs(layers[i]["sigma_max"] - ref) / ref
        checks.append({"index": i, "layer": layers[i]["layer"], "arpack_torch": ref,
                       "convbench": layers[i]["sigma_max"], "relative_difference": rel,
                       "within_1e-9": rel <= 1e-9, "seconds": time.perf_counter() - t0})
        print(f"check layer {i}: convbench {layers[i]['sigma_max']:.15f} "
              f"ARPACK/torch {ref:.15f} rel {rel:.1e}", flush=True)
    load_after = os.getloadavg()
    result = {
        "commit": commit, "convbench_dirty": dirty, "machine": platform.node(),
        "cpus": os.cpu_count(), "blas_threads": 1, "fast_threads": THREADS,
        "load_before": load_before, "load_after": load_after,
        "model": "ResNet-50, torchvision layers, PyTorch default init (seed 0)",
        "input": INPUT, "bound_rtol": BOUND_RTOL,
        "zero_seconds": zero_total, "zero_target_seconds": TARGET_ZERO_S,
        "zero_seconds_threads": zero_threads, "zero_threads_match": same_threads,
        "periodic_seconds": periodic_total, "periodic_target_seconds": TARGET_PERIODIC_S,
        "model_spectra_seconds": end_to_end, "model_spectra_matches": same,
        "checks": checks, "layers": layers,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"zero (sigma_max + bound): {zero_total:.1f} s one thread, {zero_threads:.1f} s on "
          f"{THREADS} (target {TARGET_ZERO_S:.0f} s); "
          f"periodic spectra: {periodic_total:.1f} s (target {TARGET_PERIODIC_S:.0f} s); "
          f"model_spectra end to end {end_to_end:.1f} s; load {load_before} -> {load_after}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
