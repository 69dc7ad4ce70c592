"""``make compare``: what changed between two stored runs, without calling noise a change.

``asv compare`` decides "better" by ``new < old / factor``. For a negative value that is
true of an unchanged one (``-0.1 < -0.1 / 1.1``), so unchanged signed errors are listed
as improvements; and for the suite's accuracy tracks, a relative ratio calls a move from
9.4e-15 to 1.4e-14 of ``sigma_max`` a 1.45x change. This wrapper reads the same results
through asv's own loaders and judges each cell by its unit:

times and memory (``seconds``, ``bytes``)
    worse when ``new > old * factor``, better when ``new < old / factor``, where both
    runs kept their samples only when asv's own test says the two differ; a move past
    the factor that the test cannot tell from noise (2 to 5 samples a cell) is
    ``unsure``, listed with the changes, never ``same``;
errors relative to ``sigma_max`` (the ``track_`` accuracy benchmarks)
    a change only when ``|new - old|`` exceeds :data:`ACCURACY_FLOOR` (1e-12); then
    worse when ``|new| > |old|`` (a signed error moving away from zero), else better;
counts (threads, the sort choice) and any other unit
    changed when the values differ, neither better nor worse.

Equal values are never a change, whatever their sign. Cells missing or skipped in either
run, or whose benchmark changed its pinned ``version`` between the runs, are not
comparable (``n/a``) and are listed only with ``--all``.

Usage::

    python scripts/compare.py --machine NAME OLD NEW [--factor 1.1] [--all]
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: Smallest move of an error relative to ``sigma_max`` that counts as a change.
ACCURACY_FLOOR = 1e-12
#: The unit of the suite's accuracy tracks (:class:`benchmarks.common.Tracked`).
ACCURACY_UNIT = "relative to sigma_max"
#: Units compared as ratios.
RATIO_UNITS = ("seconds", "bytes")


@dataclass(frozen=True)
class Cell:
    """One benchmark cell of one run: its value and, for timings, asv's statistics."""

    value: float | None
    stats: Any = None
    samples: Any = None
    version: str | None = None


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def classify(old: Cell, new: Cell, unit: str | None, factor: float = 1.1) -> str:
    """``"better"``, ``"worse"``, ``"unsure"``, ``"changed"``, ``"same"`` or ``"n/a"``.

    Parameters
    ----------
    old, new : Cell
        The cell in the two runs.
    unit : str or None
        The benchmark's unit (``results/benchmarks.json``).
    factor : float
        Ratio that counts as a change of a time or a memory.

    Returns
    -------
    str
        The verdict (see the module docstring).
    """
    if _missing(old.value) or _missing(new.value):
        return "n/a"
    if old.version != new.version:
        return "n/a"  # the benchmark measures something else now: not comparable
    a, b = float(old.value), float(new.value)
    if a == b:
        return "same"
    if unit == ACCURACY_UNIT:
        if abs(b - a) <= ACCURACY_FLOOR:
            return "same"
        return "worse" if abs(b) > abs(a) else "better"
    if unit in RATIO_UNITS:
        if a <= 0 or b <= 0:
            return "changed"
        if b <= a * factor and b >= a / factor:
            return "same"
        if not _significant(old, new):
            return "unsure"  # past the factor, within what the samples cannot separate
        return "worse" if b > a else "better"
    return "changed"


def _significant(old: Cell, new: Cell) -> bool:
    """asv's own test that two timings differ, where both runs kept what it needs."""
    if not (old.stats and new.stats):
        return True
    if old.stats.get("repeat", 0) == 1 or new.stats.get("repeat", 0) == 1:
        return True  # one sample: nothing to test, the factor decides (as in asv)
    from asv import _stats

    return bool(_stats.is_different(old.samples, new.samples, old.stats, new.stats))


def load_run(results: Path, machine: str, commit: str) -> dict[str, Cell]:
    """Every cell of the runs of ``commit`` on ``machine``, keyed ``name(params)``."""
    from asv.commands.compare import unroll_result
    from asv.results import iter_results_for_machine_and_hash

    cells: dict[str, Cell] = {}
    for result in iter_results_for_machine_and_hash(str(results), machine, commit):
        for key in result.get_all_result_keys():
            params = result.get_result_params(key)
            rows = unroll_result(
                key, params, result.get_result_value(key, params),
                result.get_result_stats(key, params), result.get_result_samples(key, params),
            )
            version = result.benchmark_version.get(key)
            for name, value, stats, samples in rows:
                cells[name] = Cell(value, stats, samples, version)
    if not cells:
        raise ValueError(f"no results of commit {commit!r} on machine {machine!r} in {results}")
    return cells


def units(results: Path) -> dict[str, str]:
    """Each benchmark's unit, from ``results/benchmarks.json``."""
    import json

    data = json.loads((results / "benchmarks.json").read_text())
    return {k: v.get("unit") for k, v in data.items() if isinstance(v, dict)}


def compare(
    old: dict[str, Cell], new: dict[str, Cell], unit_of: dict[str, str], factor: float
) -> list[tuple[str, str, Cell, Cell]]:
    """``(verdict, cell name, old, new)`` for every cell of either run, sorted by name."""
    rows = []
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name, Cell(None)), new.get(name, Cell(None))
        unit = unit_of.get(name.split("(")[0])
        rows.append((classify(a, b, unit, factor), name, a, b))
    return rows


def _show(value: float | None) -> str:
    return "n/a" if _missing(value) else f"{value:.4g}"


def main(argv: list[str] | None = None) -> int:
    """Print the cells that changed between two runs (all cells with ``--all``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--machine", required=True)
    parser.add_argument("--results", type=Path, default=ROOT / "results")
    parser.add_argument("--factor", type=float, default=1.1)
    parser.add_argument("--all", action="store_true", help="every cell, unchanged included")
    args = parser.parse_args(argv)
    if not args.factor > 1:
        print(f"compare: --factor must be above 1; got {args.factor}", file=sys.stderr)
        return 2
    try:
        old = load_run(args.results, args.machine, args.old)
        new = load_run(args.results, args.machine, args.new)
    except ValueError as exc:
        print(f"compare: {exc}", file=sys.stderr)
        return 1
    rows = compare(old, new, units(args.results), args.factor)
    order = {"worse": 0, "better": 1, "unsure": 2, "changed": 3, "same": 4, "n/a": 5}
    shown = [r for r in rows if args.all or r[0] in ("worse", "better", "unsure", "changed")]
    shown.sort(key=lambda r: (order[r[0]], r[1]))
    counts = {k: sum(r[0] == k for r in rows) for k in order}
    print(f"{args.old} -> {args.new} on {args.machine}: " + ", ".join(
        f"{counts[k]} {k}" for k in order) + f" (factor {args.factor}, accuracy floor "
        f"{ACCURACY_FLOOR:g} of sigma_max)")
    if shown:
        print(f"{'change':8s} {'before':>11s} {'after':>11s} {'ratio':>8s}  benchmark")
        for verdict, name, a, b in shown:
            ratio = ("" if _missing(a.value) or _missing(b.value) or not a.value
                     else f"{b.value / a.value:.2f}x")
            print(f"{verdict:8s} {_show(a.value):>11s} {_show(b.value):>11s} {ratio:>8s}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
