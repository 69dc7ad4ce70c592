"""Bring asv results files onto the suite's stable environment and machine labels.

asv draws one line per benchmark, parameter combination and set of *labels*: the
machine description (``os``, ``ram``, ...) and the environment (``python``, the
requirements of ``asv.conf.json``'s matrix). Runs made before the labels were stable
carry labels that split one machine's history:

* the environment of ``asv run --python=same``, named after the absolute path of the
  interpreter (``existing-py_work_main_.venv_bin_python``, ``python`` = that path), so
  every clone path had a history of its own;
* the kernel build string in ``os`` and the exact ``MemTotal`` in ``ram``, which change
  between boots of the same machine.

This script rewrites those labels, and nothing else, to what the suite records now:

* ``env_name``: the name of ``asv.conf.json``'s environment (``virtualenv-py3.11-...``,
  the one ``make bench`` and a plain ``asv run`` use) for the file's Python version and
  requirements; ``python`` and ``params.python``: that version (``3.11``);
* ``params.os`` and ``params.ram``: their stable forms (``scripts/bench_machine.py``).

The file is renamed to match (``<commit>-<env_name>.json``, asv's rule) and gets a
``convbench_relabel`` entry listing every label it changed, from what, to what, and when.
Timings, samples, statistics, commit, date, requirements and benchmark versions are
left exactly as they were; the script checks that before it writes. The requirements
must already be those of ``asv.conf.json``'s matrix: a run with other packages was
another environment, and is refused rather than relabelled.

A results file records an interpreter's path, not its version, so the version is given
(``--python 3.11``) and noted as given. An existing file of the new name is never
replaced unless ``--force`` is given; ``--dry-run`` prints what would change.

Usage::

    python scripts/relabel_results.py --python 3.11 --dry-run
    python scripts/relabel_results.py --python 3.11        # then git add the renames
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_machine import stable_os, stable_ram

ROOT = Path(__file__).resolve().parent.parent
#: The key of the note each relabelled file carries (asv ignores keys it does not know).
NOTE_KEY = "convbench_relabel"
#: Keys a relabel may change, besides adding the note.
LABEL_KEYS = ("env_name", "python", "params")
#: Keys of ``params`` a relabel may change.
PARAM_LABELS = ("python", "os", "ram")
_VERSION = re.compile(r"^\d+\.\d+$")


class RelabelError(ValueError):
    """A results file that cannot be relabelled honestly."""


def suite_environment(conf_path: str | Path = ROOT / "asv.conf.json") -> tuple[str, dict]:
    """The environment type and matrix requirements of ``asv.conf.json``."""
    from asv import config, environment

    conf = config.Config.load(str(conf_path))
    requirements: dict[str, str] = {}
    for entries in environment.iter_matrix(conf.environment_type, conf.pythons, conf):
        _python, reqs, _tagged = environment._parse_matrix_entries(entries)
        requirements = dict(reqs)
        break
    return conf.environment_type, requirements


def env_name(tool: str, python: str, requirements: dict[str, str]) -> str:
    """asv's name of the environment ``tool`` with ``python`` and ``requirements``."""
    from asv.environment import get_env_name

    return get_env_name(tool, python, requirements, {})


def relabel(
    data: dict[str, Any],
    tool: str,
    requirements: dict[str, str],
    python: str | None = None,
    when: str | None = None,
) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """The relabelled copy of one results file's content, and what changed.

    Parameters
    ----------
    data : dict
        The results file, as loaded from JSON.
    tool, requirements : str, dict
        The suite's environment type and matrix (:func:`suite_environment`).
    python : str, optional
        The Python version (``"3.11"``) where the file records an interpreter's path.
    when : str, optional
        The time noted (default: now, UTC).

    Returns
    -------
    relabelled : dict
        The new content (``data`` itself is not modified). Equal to ``data`` when no
        label changes.
    changes : dict
        ``{label: [old, new]}`` for every label changed (``params.os`` etc.).

    Raises
    ------
    RelabelError
        If the file's requirements are not the suite's, or its Python version is unknown.
    """
    if data.get("requirements") != requirements:
        raise RelabelError(
            f"requirements {data.get('requirements')!r} are not asv.conf.json's matrix "
            f"{requirements!r}: that run used another environment; relabel refused"
        )
    old_python = str(data.get("python", ""))
    if _VERSION.match(old_python):
        version = old_python
    elif python is not None and _VERSION.match(python):
        version = python
    else:
        raise RelabelError(
            f"python is recorded as {old_python!r}, not a version; give the version of "
            "that interpreter with --python X.Y"
        )
    params = dict(data["params"])
    new_params = dict(params)
    new_params["python"] = version
    if isinstance(params.get("os"), str):
        new_params["os"] = stable_os(params["os"])
    if params.get("ram") is not None:
        new_params["ram"] = stable_ram(params["ram"])
    new = {
        "env_name": env_name(tool, version, requirements),
        "python": version,
        "params": new_params,
    }
    changes: dict[str, list[Any]] = {}
    for key in ("env_name", "python"):
        if data.get(key) != new[key]:
            changes[key] = [data.get(key), new[key]]
    for key in PARAM_LABELS:
        if params.get(key) != new_params.get(key):
            changes[f"params.{key}"] = [params.get(key), new_params.get(key)]
    if not changes:
        return data, {}
    out = {key: (new[key] if key in new else value) for key, value in data.items()}
    stamp = when or dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    note = {
        "by": "scripts/relabel_results.py",
        "date": stamp,
        "why": "one history per machine: environment named without a path, machine "
        "labels that do not change between boots; timings untouched",
        "changed": changes,
    }
    if "python" in changes and not _VERSION.match(old_python):
        note["python_version"] = "given to the relabel (the file recorded the path only)"
    out[NOTE_KEY] = [*data.get(NOTE_KEY, []), note]
    check_only_labels(data, out)
    return out, changes


def check_only_labels(before: dict[str, Any], after: dict[str, Any]) -> None:
    """Raise :class:`RelabelError` unless ``after`` differs from ``before`` in labels only."""
    for key in set(before) | set(after):
        if key in (*LABEL_KEYS, NOTE_KEY):
            continue
        if before.get(key) != after.get(key):
            raise RelabelError(f"relabel would change {key!r}; only labels may change")
    old, new = before.get("params", {}), after.get("params", {})
    for key in set(old) | set(new):
        if key not in PARAM_LABELS and old.get(key) != new.get(key):
            raise RelabelError(f"relabel would change params[{key!r}]; only labels may change")


def results_files(results_dir: Path) -> list[Path]:
    """Every asv results file under ``results_dir`` (``<machine>/<commit>-<env>.json``)."""
    return sorted(
        p for p in results_dir.glob("*/*.json")
        if p.name != "machine.json" and p.parent.name != "spectra"
    )


def target_path(path: Path, data: dict[str, Any]) -> Path:
    """Where asv expects the file: ``<machine dir>/<commit[:8]>-<env_name>.json``."""
    from asv.results import get_filename

    return path.parent.parent / get_filename(path.parent.name, data["commit_hash"],
                                             data["env_name"])


def relabel_machine_file(path: Path, dry_run: bool) -> list[str]:
    """Stable ``os`` and ``ram`` in a machine folder's ``machine.json``; what changed."""
    data = json.loads(path.read_text())
    new = {**data, "os": stable_os(data.get("os", "")), "ram": stable_ram(data.get("ram", ""))}
    changed = [f"{key}: {data.get(key)!r} -> {new[key]!r}"
               for key in ("os", "ram") if data.get(key) != new[key]]
    if changed and not dry_run:
        path.write_text(json.dumps(new, indent=4, sort_keys=True))
    return changed


def main(argv: list[str] | None = None) -> int:
    """Relabel every results file under ``--results``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=ROOT / "results",
                        help="asv's results_dir (default: results/)")
    parser.add_argument("--python", help="Python version X.Y of runs that recorded a path")
    parser.add_argument("--config", type=Path, default=ROOT / "asv.conf.json")
    parser.add_argument("--dry-run", action="store_true", help="print, write nothing")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing file of the new name")
    args = parser.parse_args(argv)

    tool, requirements = suite_environment(args.config)
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    planned = []
    for path in results_files(args.results):
        data = json.loads(path.read_text())
        try:
            new, changes = relabel(data, tool, requirements, args.python, when)
        except RelabelError as exc:
            print(f"{path}: {exc}", file=sys.stderr)
            return 1
        if not changes:
            print(f"{path}: labels already stable")
            continue
        target = target_path(path, new)
        if target != path and target.exists() and not args.force:
            print(f"{path}: {target} exists; not replaced (use --force)", file=sys.stderr)
            return 1
        planned.append((path, target, new, changes))
    for path, target, new, changes in planned:
        print(f"{path} -> {target.name}")
        for key, (old, value) in changes.items():
            print(f"    {key}: {old!r} -> {value!r}")
        if args.dry_run:
            continue
        target.write_text(json.dumps(new))
        if target != path:
            path.unlink()
    for machine_file in sorted(args.results.glob("*/machine.json")):
        for line in relabel_machine_file(machine_file, args.dry_run):
            print(f"{machine_file}: {line}")
    if args.dry_run:
        print("dry run: nothing written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
