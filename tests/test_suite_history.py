"""The suite's histories survive edits: pinned versions, a current benchmarks.json, and a
tracking tier that covers every class.

asv files a result under the benchmark's ``version``; without one it hashes the
benchmark's source, so an edit of any helper the source shows starts a new line and cuts
the graph off from its committed points. Every class pins its version instead.
``results/benchmarks.json`` is what the site and ``asv compare`` read the suite from: it
must be what a fresh discovery of the default grid finds. Both are checked in a fresh
interpreter with the suite's environment variables removed, as ``make bench`` sees it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import common, plan

ROOT = Path(__file__).resolve().parent.parent

DISCOVER = """
import json, sys
from asv_runner.discovery import disc_benchmarks
out = {}
for b in disc_benchmarks("benchmarks"):
    out[b.name] = {"version": b.version, "params": b.params, "param_names": b.param_names}
json.dump(out, sys.stdout)
"""

TRACK_PLAN = """
import json, sys
from benchmarks import plan
report = plan.plan()
json.dump({k: sum(r is None for _, r, _ in v["cells"]) for k, v in report.items()}, sys.stdout)
"""


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVBENCH_BENCH_")}
    env.update(extra)
    return env


def _run(code: str, **extra: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=_clean_env(**extra),
        capture_output=True, text=True, check=False, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def discovered() -> dict:
    return _run(DISCOVER)


@pytest.mark.parametrize(("qualname", "cls"), plan.benchmark_classes(),
                         ids=[name for name, _ in plan.benchmark_classes()])
def test_every_class_pins_its_own_version(qualname, cls):
    # in the class's own namespace: a subclass that inherits its parent's version would
    # share its line even when it measures something else
    assert "version" in vars(cls), f"{qualname} does not pin `version`"
    assert isinstance(cls.version, str) and cls.version


def test_no_benchmark_falls_back_to_a_source_hash(discovered):
    hashed = [name for name, b in discovered.items()
              if len(b["version"]) == 64 and all(ch in "0123456789abcdef" for ch in b["version"])]
    assert not hashed, f"versions taken from the source hash: {hashed}"


def test_committed_benchmarks_json_is_the_suite(discovered):
    committed = json.loads((ROOT / "results" / "benchmarks.json").read_text())
    committed.pop("version", None)
    stale = "; regenerate it with `make benchmarks-json`"
    assert set(committed) == set(discovered), (
        f"results/benchmarks.json lists {sorted(set(committed) - set(discovered))} that the "
        f"suite no longer has and lacks {sorted(set(discovered) - set(committed))}" + stale
    )
    for name, fresh in discovered.items():
        entry = committed[name]
        for field in ("version", "params", "param_names"):
            assert entry[field] == fresh[field], f"{name}: {field} differs" + stale


def test_the_tracking_tier_runs_every_class():
    runs = _run(TRACK_PLAN, CONVBENCH_BENCH_TIER="track")
    assert set(runs) == {name for name, _ in plan.benchmark_classes()}
    empty = sorted(name for name, count in runs.items() if count == 0)
    # a class left out of the tier says why, and at most 10% of the classes are
    untracked = {name for name, cls in plan.benchmark_classes() if getattr(cls, "untracked", "")}
    assert set(empty) == untracked, f"the tracking tier runs no cell of {empty}"
    assert len(untracked) <= 0.1 * len(runs)


def test_tier_reason_names_the_parameter_and_the_tracked_values(monkeypatch):
    class Bench:
        tracked = common.tier_cells(n=(64,))

    monkeypatch.setattr(common, "TIER", "track")
    assert common.tier_reason(Bench, n=64, channels=4) is None
    reason = common.tier_reason(Bench, n=128, channels=4)
    assert "n=128" in reason and "64" in reason
    assert "channels=1" in common.tier_reason(Bench, n=64, channels=1)
    monkeypatch.setattr(common, "TIER", "full")
    assert common.tier_reason(Bench, n=128, channels=1) is None


def test_an_unknown_tier_is_refused():
    done = subprocess.run(
        [sys.executable, "-c", "import benchmarks.common"], cwd=ROOT,
        env=_clean_env(CONVBENCH_BENCH_TIER="fast"), capture_output=True, text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "CONVBENCH_BENCH_TIER must be 'full' or 'track'; got 'fast'" in done.stderr
