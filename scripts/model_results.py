"""Per-layer spectra of ResNet-18 and MobileNetV2, stored for the whole-model figure.

Each architecture is built as a plain PyTorch module (``architectures.py``: torchvision's
layers, PyTorch's default initialisation from a fixed seed; no pretrained weights are
downloaded) and handed to :func:`convbench.model_spectra` with ``boundary="zero"``: per
convolution, the exact zero-padded ``sigma_max``, the certified bound and the periodic
``sigma_max`` where the stride divides the input size. The table goes to
``results/models/<arch>-<input>.csv`` and its provenance (commit, versions, seed, input
shape, threads, date, load average, seconds, and the network view: whether the model is a
chain and why not) to ``results/models/provenance/<arch>-<input>.json`` (one level down:
the suite's tools read ``results/<dir>/*.json`` as asv runs). Existing files are never
overwritten without ``--force``. ``notebooks/models.py`` draws the figure from them.

Usage::

    python scripts/model_results.py [--arch resnet18 mobilenet_v2] [--size 224] [--force]
"""

from __future__ import annotations

import os

THREADS = 2
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import torch  # noqa: E402

import convbench  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from architectures import ARCHITECTURES, build  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "results" / "models"
DEFAULT_ARCHS = ("resnet18", "mobilenet_v2")

#: The stored columns, in order (a subset of :data:`convbench.models.COLUMNS`).
STORED = (
    "name", "op", "weight_shape", "stride", "groups", "input_size", "sigma_max", "bound",
    "sigma_max_periodic", "seconds",
)


def paths(arch: str, size: int, out: Path = OUT) -> tuple[Path, Path]:
    """The CSV and the provenance JSON of one architecture at one input size."""
    stem = f"{arch}-{size}"
    # the JSON one level down: results/<dir>/*.json are asv runs to the suite's tools
    return out / f"{stem}.csv", out / "provenance" / f"{stem}.json"


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()


def _library_changes() -> list[str]:
    """The files of the imported ``convbench`` that differ from HEAD's (empty: the
    numbers are those of the recorded commit). It may be imported from an export of HEAD
    (``PYTHONPATH``) while the working tree has changes in progress."""
    package = Path(convbench.__file__).resolve().parent
    changed = []
    for path in sorted(package.rglob("*.py")):
        rel = f"convbench/{path.relative_to(package).as_posix()}"
        committed = subprocess.run(["git", "show", f"HEAD:{rel}"], cwd=ROOT,
                                   capture_output=True, check=False)
        if committed.returncode != 0 or committed.stdout != path.read_bytes():
            changed.append(rel)
    return changed


def _progress(arch: str, start: float):
    def report(done: int, total: int, name: str) -> None:
        print(f"  {arch} {done:3d}/{total} {name:40s} {time.perf_counter() - start:7.1f} s",
              flush=True)
    return report


def run(arch: str, size: int, seed: int, out: Path, force: bool,
        library: tuple[str, list[str]]) -> dict:
    """Compute one architecture's table, write its CSV and JSON; the provenance.

    ``library`` is the commit and the imported library's files that differ from it,
    taken once at the start (the tree may move while this runs).
    """
    commit, changes = library
    csv_path, json_path = paths(arch, size, out)
    load_before = os.getloadavg()
    module = build(arch, seed=seed)
    shape = (1, 3, size, size)
    start = time.perf_counter()
    report = convbench.model_spectra(module, shape, boundary="zero", threads=THREADS,
                                     progress=_progress(arch, start))
    seconds = time.perf_counter() - start
    frame = report.to_pandas()
    failed = frame[frame["reason"] != ""]
    if len(failed):
        raise RuntimeError(f"{arch}: layers without numbers: {failed[['name', 'reason']]}")
    table = frame[list(STORED)].copy()
    for column in ("weight_shape", "stride", "input_size"):
        table[column] = table[column].map(lambda v: "x".join(str(k) for k in v))
    provenance = {
        "architecture": arch,
        "weights": f"PyTorch default initialisation, torch.manual_seed({seed}); "
                   "not trained (no pretrained weights downloaded)",
        "seed": seed,
        "input_shape": list(shape),
        "boundary": "zero",
        "layers": len(table),
        "chain": report.chain,
        "chain_reason": report.chain_reason,
        "lipschitz_bound": report.lipschitz_bound,
        "lipschitz_certified": report.lipschitz_certified,
        "commit": commit,
        "convbench_path": str(Path(convbench.__file__).resolve().parent),
        # files of the library the numbers were computed with that differ from the commit
        "convbench_changes": changes,
        "versions": {
            "python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "torch": torch.__version__,
            "convbench": getattr(convbench, "__version__", "unknown"),
        },
        "threads": {"fast": THREADS, **{v: os.environ[v] for v in (
            "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
            "NUMBA_NUM_THREADS")}, "torch": torch.get_num_threads()},
        "machine": {"node": platform.node(), "cpus": os.cpu_count(),
                    "processor": platform.machine()},
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds_total": seconds,
        "loadavg_before": list(load_before),
        "loadavg_after": list(os.getloadavg()),
    }
    # both checked before either is written
    for path in (csv_path, json_path):
        if path.exists() and not force:
            raise FileExistsError(f"{path} exists; pass --force to overwrite it")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(csv_path, index=False, float_format="%.17g")
    json_path.write_text(json.dumps(provenance, indent=1) + "\n")
    print(f"{arch} at {size}x{size}: {len(table)} layers in {seconds:.1f} s "
          f"(load {load_before[0]:.2f} -> {provenance['loadavg_after'][0]:.2f}); "
          f"wrote {csv_path}", flush=True)
    return provenance


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", nargs="+", default=list(DEFAULT_ARCHS),
                        choices=sorted(ARCHITECTURES), help="default: resnet18 mobilenet_v2")
    parser.add_argument("--size", type=int, default=224, help="input height = width")
    parser.add_argument("--seed", type=int, default=0, help="torch.manual_seed")
    parser.add_argument("--out", type=Path, default=OUT, help="default: results/models/")
    parser.add_argument("--force", action="store_true", help="overwrite existing files")
    args = parser.parse_args(argv)
    if args.size < 32:
        parser.error(f"--size must be at least 32 (five stride-2 stages); got {args.size}")
    if not args.force:
        # refuse before any computation
        for arch in args.arch:
            for path in paths(arch, args.size, args.out):
                if path.exists():
                    parser.error(f"{path} exists; pass --force to overwrite it")
    torch.set_num_threads(1)
    library = (_git("rev-parse", "HEAD"), _library_changes())
    if library[1]:
        print(f"note: the library differs from {library[0][:8]} in {library[1]}", flush=True)
    for arch in args.arch:
        run(arch, args.size, args.seed, args.out, args.force, library)
    return 0


if __name__ == "__main__":
    sys.exit(main())
