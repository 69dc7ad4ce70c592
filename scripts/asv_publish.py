"""``asv publish`` with an absolute floor on the accuracy tracks' regressions.

asv's ``regressions_thresholds`` are relative only: a ``track_`` error relative to
``sigma_max`` that moves from 9.4e-15 to 1.4e-14 (rounding, a different BLAS kernel) is
a "45%" regression on the regressions page and in its feed. This runs asv's own
``publish`` with one change: for the benchmarks whose unit is
:data:`ACCURACY_UNIT`, a jump of at most :data:`ACCURACY_FLOOR` is not a regression,
and a benchmark whose latest value is within the floor of its best lists none. Every
other benchmark, and the graphs, are asv's as they are. ``make compare`` applies the
same floor (``scripts/compare.py``).

Usage (as ``python -m asv``)::

    python scripts/asv_publish.py --config asv.conf.json publish --no-pull
"""

from __future__ import annotations

import contextvars
import sys
from typing import Any

#: Smallest move of an error relative to ``sigma_max`` that is a regression.
ACCURACY_FLOOR = 1e-12
#: The unit of the suite's accuracy tracks (:class:`benchmarks.common.Tracked`).
ACCURACY_UNIT = "relative to sigma_max"

_unit: contextvars.ContextVar[str | None] = contextvars.ContextVar("unit", default=None)


def floored(last: Any, best: Any, jumps: Any, unit: str | None) -> tuple[Any, Any, Any]:
    """asv's ``(last, best, jumps)`` with the accuracy floor applied for ``unit``.

    ``jumps`` are ``(revision_a, revision_b, value_a, value_b)``; ``(None, None, None)``
    means "no regression", as asv's ``detect_regressions`` says it.
    """
    if unit != ACCURACY_UNIT or last is None:
        return last, best, jumps
    if abs(last - best) <= ACCURACY_FLOOR:
        return None, None, None
    kept = [j for j in jumps if abs(j[3] - j[2]) > ACCURACY_FLOOR]
    if not kept:
        return None, None, None
    return last, best, kept


def install() -> None:
    """Patch asv's regressions publisher in this process (see the module docstring)."""
    from asv.plugins import regressions

    detect = regressions.detect_regressions
    process = regressions.Regressions._process_regression.__func__
    publish = regressions.Regressions.publish.__func__

    def detect_with_floor(steps: Any, threshold: Any = None, **kwargs: Any) -> Any:
        return floored(*detect(steps, threshold, **kwargs), _unit.get())

    def publish_with_units(cls: Any, conf: Any, repo: Any, benchmarks: Any, graphs: Any,
                           revisions: Any) -> Any:
        cls._units = {name: b.get("unit") for name, b in benchmarks.items()}
        return publish(cls, conf, repo, benchmarks, graphs, revisions)

    def process_with_unit(cls: Any, regressions_: Any, revision_to_hash: Any, repo: Any,
                          all_params: Any, graph_data: Any, graph: Any) -> Any:
        name = graph_data[1].split("(")[0]
        token = _unit.set(getattr(cls, "_units", {}).get(name))
        try:
            return process(cls, regressions_, revision_to_hash, repo, all_params, graph_data,
                           graph)
        finally:
            _unit.reset(token)

    regressions.detect_regressions = detect_with_floor
    regressions.Regressions.publish = classmethod(publish_with_units)
    regressions.Regressions._process_regression = classmethod(process_with_unit)


def main() -> None:
    """Run asv's command line with the floor installed."""
    install()
    from asv.main import main as asv_main

    asv_main()


if __name__ == "__main__":
    sys.argv[0] = "asv"
    main()
