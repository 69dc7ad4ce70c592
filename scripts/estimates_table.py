"""The field's sigma_max bounds and estimates on every convolution of real networks.

For each convolution of ResNet-18 and MobileNetV2 at 224 x 224 (the conv tables of
:mod:`benchmarks.networks`, seeded PyTorch-style weights, one seed per layer as the
suite's network benchmarks use), :func:`convbench.sigma_max_estimates` gives one row
per method: its value, its kind (exact, upper bound, estimate), its seconds and its
gap to the exact zero-padded ``sigma_max``. One thread for BLAS; the BLAS kernel
(threadpoolctl), the commit and the load are recorded. Every row goes to
``measurements/estimates/estimates-<commit>.json`` (a new name if taken: nothing is
overwritten); ``notebooks/estimates.py`` draws the leaderboard and the whole-model
table from the newest file. Progress is printed per layer::

    python scripts/estimates_table.py                         # both networks
    python scripts/estimates_table.py --networks mobilenet_v2 --layers 5
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
for _p in (ROOT, Path(__file__).resolve().parent):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from provenance import commit, new_path  # noqa: E402

import convbench as cb  # noqa: E402
from benchmarks.common import SEED, limit_threads  # noqa: E402
from benchmarks.networks import ARCHITECTURES, table  # noqa: E402

OUT = ROOT / "measurements" / "estimates"
NETWORKS = ("resnet18", "mobilenet_v2")
#: Rows left out of the network run, and why (the library's CLI and API give them).
SKIPPED = {
    "spectral_norm_bound": "its branch and bound took 415 s on one 512-channel 3x3 layer "
    "(ResNet-18 has four); size_bound certifies the same layers at their own size",
}


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # numpy and pandas scalars
        return _plain(value.item())
    return value


def layer_rows(network: str, index: int, layer: Any) -> list[dict[str, Any]]:
    """Every method's row for one layer of a network's table, as plain dicts."""
    conv = cb.as_layer(layer.weight(SEED + index), layer.size, boundary="zero",
                       **layer.options())
    frame = cb.sigma_max_estimates(
        conv, methods=[m for m in cb.ESTIMATE_METHODS if m not in SKIPPED]
    )
    rows = []
    for record in frame.to_dict("records"):
        rows.append({"network": network, "layer": index,
                     "weight_shape": list(conv.weight.shape), "input_size": layer.size,
                     "stride": layer.stride, "groups": layer.groups,
                     **{k: _plain(v) for k, v in record.items()}})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=list(ARCHITECTURES))
    ap.add_argument("--layers", type=int, default=None,
                    help="only the first LAYERS convolutions of each network (a smoke run)")
    ap.add_argument("--out-dir", type=Path, default=OUT)
    args = ap.parse_args(argv)
    if args.layers is not None and args.layers < 1:
        ap.error(f"--layers must be positive; got {args.layers}")
    from threadpoolctl import threadpool_info

    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    load = [list(os.getloadavg())]
    limiter = limit_threads(1)
    try:
        for network in args.networks:
            layers = table(network)[: args.layers]
            for i, layer in enumerate(layers):
                t0 = time.perf_counter()
                rows += layer_rows(network, i, layer)
                exact = next(r for r in rows[::-1] if r["method"] == "exact")
                print(f"{network} {i + 1}/{len(layers)}: sigma_max {exact['value']:.6g} "
                      f"in {time.perf_counter() - t0:.1f} s", flush=True)
                load.append(list(os.getloadavg()))
    finally:
        limiter.restore_original_limits()
    record = {"commit": commit(ROOT), "node": platform.node(), "cpu_count": os.cpu_count(),
              "threads": 1, "threadpoolctl": threadpool_info(), "seed": SEED,
              "weights": "benchmarks.networks tables, pytorch_default(seed=SEED + index)",
              "convbench": cb.__version__, "seconds": time.perf_counter() - start,
              "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "load": load, "skipped_methods": SKIPPED, "rows": rows}
    path = new_path(args.out_dir, f"estimates-{record['commit']}")
    path.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} "
          f"({len(rows)} rows, {record['seconds'] / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
