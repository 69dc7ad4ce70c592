"""Run the toy asv suite for real, twice (two commits), into a results directory.

Usage: ``python make_results.py OUT_DIR`` (default: ``results`` beside this file).
Used by tests/test_results.py for a live run and to regenerate the committed copy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def make_results(out_dir: Path, commits: int = 2, quick: bool = False) -> Path:
    """Run the toy suite on ``commits`` commits of a scratch repository into ``out_dir``.

    asv's machine file goes to a scratch home directory, so the user's
    ``~/.asv-machine.json`` is left alone.
    """
    out_dir = Path(out_dir).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        shutil.copytree(HERE / "benchmarks", repo / "benchmarks")
        conf = json.loads((HERE / "asv.conf.json").read_text())
        conf["results_dir"] = str(out_dir)
        conf["html_dir"] = str(Path(tmp) / "html")
        (repo / "asv.conf.json").write_text(json.dumps(conf))
        env = {
            **os.environ,
            "HOME": tmp,
            "GIT_AUTHOR_NAME": "toy",
            "GIT_AUTHOR_EMAIL": "toy@example.invalid",
            "GIT_COMMITTER_NAME": "toy",
            "GIT_COMMITTER_EMAIL": "toy@example.invalid",
        }

        def run(*args: str) -> str:
            done = subprocess.run(
                args, cwd=repo, env=env, check=True, capture_output=True, text=True
            )
            return done.stdout.strip()

        asv = [sys.executable, "-m", "asv"]
        run("git", "init", "-q", ".")
        run("git", "add", ".")
        for i in range(1, commits + 1):
            run("git", "commit", "-q", "--allow-empty", "-m", f"toy commit {i}")
            commit = run("git", "rev-parse", "HEAD")
            run(*asv, "machine", "--yes")
            args = ["run", "--python=same", f"--set-commit-hash={commit}"]
            if quick:
                args.append("--quick")
            subprocess.run(
                [*asv, *args], cwd=repo, env=env, check=False, capture_output=True, text=True
            )
    return out_dir


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "results"
    print(make_results(target))
