"""The runs stored for one machine, in the order of the branch's history.

``make compare`` uses it to find the last two runs; on its own it lists every run of a
machine with its commit, the commit's date and the environment it ran in.

Usage::

    python scripts/history.py --machine vm            # every run, oldest first
    python scripts/history.py --machine vm --last 2   # "<older> <newer>" commit hashes
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
        print(f"{run.commit[:8]}  {date}  {run.env}  {run.path.relative_to(args.results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
