"""The runs stored for one machine, in the order of the branch's history.

``make compare`` uses it to find the last two runs; on its own it lists every run of a
machine with its commit, the commit's date and the environment it ran in.

Usage::

    python scripts/history.py --machine vm            # every run, oldest first
    python scripts/history.py --machine vm --last 2   # "<older> <newer>" commit hashes
    python scripts/history.py --machine vm --durations  # each run's wall time and cells

``--durations`` reads each run's own timestamps (asv records when each benchmark started
and ended): the wall time from the first start to the last end, which leaves out asv's
environment build before it, and the cells measured, skipped and failed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Run:
    """One stored asv run: its commit, environment and file."""

    commit: str
    env: str
    path: Path


def stored_runs(results_dir: Path, machine: str) -> list[Run]:
    """Every asv results file of ``machine`` (``results/<machine>/*.json``)."""
    folder = results_dir / machine
    if not folder.is_dir():
        raise FileNotFoundError(f"no results for machine {machine!r} ({folder} missing)")
    runs = []
    for path in sorted(folder.glob("*.json")):
        if path.name == "machine.json":
            continue
        data = json.loads(path.read_text())
        runs.append(Run(data["commit_hash"], data.get("env_name", ""), path))
    return runs


def duration(path: Path) -> dict[str, float | int]:
    """Wall seconds of one run (first benchmark start to last end) and its cell counts."""
    data = json.loads(path.read_text())
    starts, ends = [], []
    counts = {"ok": 0, "skipped": 0, "failed": 0}
    columns = data.get("result_columns", [])
    for entry in data.get("results", {}).values():
        record = dict(zip(columns, entry, strict=False))
        if record.get("started_at") is not None and record.get("duration") is not None:
            starts.append(record["started_at"] / 1000)
            ends.append(record["started_at"] / 1000 + record["duration"])
        values = record.get("result") or []
        for value in values if isinstance(values, list) else [values]:
            if value is None:
                counts["failed"] += 1
            elif isinstance(value, float) and value != value:
                counts["skipped"] += 1
            else:
                counts["ok"] += 1
    seconds = max(ends) - min(starts) if starts else float("nan")
    return {"seconds": seconds, **counts}


def branch_order(branch: str, repo: Path = ROOT) -> list[str]:
    """Full hashes of ``branch``'s commits, oldest first."""
    out = subprocess.run(
        ["git", "rev-list", "--reverse", "--topo-order", branch],
        cwd=repo, capture_output=True, text=True, check=True,
    ).stdout
    return out.split()


def in_history_order(runs: list[Run], order: list[str]) -> list[Run]:
    """``runs`` sorted by their commit's place in ``order``.

    Raises
    ------
    ValueError
        If a run's commit is not in ``order`` (not on the branch).
    """
    place = {commit: i for i, commit in enumerate(order)}
    missing = sorted({r.commit[:8] for r in runs if r.commit not in place})
    if missing:
        raise ValueError(f"runs of commits not on the branch: {', '.join(missing)}")
    return sorted(runs, key=lambda r: (place[r.commit], r.env))


def main(argv: list[str] | None = None) -> int:
    """Print the runs of a machine, or the last ``--last`` commits with runs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machine", required=True)
    parser.add_argument("--results", type=Path, default=ROOT / "results")
    parser.add_argument("--branch", default="main")
    parser.add_argument("--last", type=int, default=0,
                        help="print only the last N commits with runs, on one line")
    parser.add_argument("--durations", action="store_true",
                        help="each run's wall time and its measured, skipped, failed cells")
    args = parser.parse_args(argv)
    try:
        runs = in_history_order(stored_runs(args.results, args.machine),
                                branch_order(args.branch))
    except (FileNotFoundError, ValueError, subprocess.CalledProcessError) as exc:
        print(f"history: {exc}", file=sys.stderr)
        return 1
    commits = list(dict.fromkeys(r.commit for r in runs))
    if args.last:
        if len(commits) < args.last:
            print(f"history: {len(commits)} run(s) of {args.machine} on {args.branch}; "
                  f"{args.last} needed", file=sys.stderr)
            return 1
        print(" ".join(c[:8] for c in commits[-args.last:]))
        return 0
    for run in runs:
        date = subprocess.run(["git", "show", "-s", "--format=%cs", run.commit], cwd=ROOT,
                              capture_output=True, text=True).stdout.strip()
        if args.durations:
            d = duration(run.path)
            print(f"{run.commit[:8]}  {date}  {d['seconds'] / 60:6.1f} min  {d['ok']:5d} ok "
                  f"{d['skipped']:5d} skipped {d['failed']:3d} failed")
            continue
        print(f"{run.commit[:8]}  {date}  {run.env}  {run.path.relative_to(args.results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
