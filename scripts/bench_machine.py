"""Describe this machine to asv with values that stay the same from one boot to the next.

asv draws one line per benchmark, parameter combination and *machine description*: every
field of the description (``os``, ``ram``, ...) is part of the line's identity. asv's own
defaults are not stable on every machine: ``os`` is ``uname -sr``, whose kernel build
string changes between boots of the same virtual machine, and ``ram`` is ``MemTotal``,
which moves by a few hundred kB when the kernel reserves a little more or less. Each boot
would start new lines, and the regressions page could not compare across them.

This script registers the machine (in ``~/.asv-machine.json``, where ``asv run`` looks it
up) with stable values:

``os``
    the system and the kernel's major.minor version: ``Linux 6.18``, not
    ``Linux 6.18.44-fc-v657``;
``ram``
    the physical memory rounded to a whole GiB, in bytes as asv records it
    (``25769803776`` for 24 GiB, not ``25276510208``);
``arch``, ``cpu``, ``num_cpu``
    asv's own values (``platform.machine()``, the CPU's model name, the core count).

Any of them can be given instead (``--cpu``, ``--os``, ...). The machine's *name* is
derived from the hardware by :mod:`machine_id` (CPU model and flags, cores, memory, BLAS
kernel, checked by a one-second calibration: two hosts of different speed never share a
name); ``--machine`` asks for one by hand, refused when its stored calibration does not
match this machine. The description is also registered under the host name, the key a
plain ``asv run`` looks up, so plain runs land on the same lines. The same functions
relabel results taken before this rule existed (``scripts/relabel_results.py``).

Usage::

    python scripts/bench_machine.py                    # make bench-machine
    python scripts/bench_machine.py --machine laptop --cpu "Intel i7-1185G7"
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

#: The fields of an asv machine description, in asv's order.
FIELDS = ("machine", "os", "arch", "cpu", "num_cpu", "ram")
_GIB = 2**30
_OS = re.compile(r"^(?P<system>\S+) (?P<major>\d+)\.(?P<minor>\d+)(?:[.\-+_~].*)?$")


def stable_os(value: str) -> str:
    """``"Linux 6.18.44-fc-v657"`` -> ``"Linux 6.18"``: drop the patch level and build.

    Anything that is not ``<system> <major>.<minor>...`` (a description given by hand,
    such as ``"Debian 12"``) is returned unchanged, so the function is idempotent.

    Parameters
    ----------
    value : str
        An ``os`` field, as asv writes it (``"<system> <release>"``) or as given.

    Returns
    -------
    str
        The stable form.
    """
    match = _OS.match(value.strip())
    if match is None:
        return value
    return f"{match['system']} {match['major']}.{match['minor']}"


def stable_ram(value: str | int) -> str:
    """Physical memory rounded to a whole GiB, as a decimal string of bytes.

    ``"25276510208"`` (23.54 GiB) and ``"25276502016"`` both give ``"25769803776"``
    (24 GiB). A value that is not a plain number (``"24GB"`` typed by hand, or ``""``
    where asv could not tell) is returned unchanged; rounded values stay as they are.

    Parameters
    ----------
    value : str or int
        The ``ram`` field in bytes.

    Returns
    -------
    str
        The rounded number of bytes.
    """
    text = str(value).strip()
    if not text.isdigit():
        return str(value)
    gib = max(1, round(int(text) / _GIB))
    return str(gib * _GIB)


def stable_params(params: dict[str, Any]) -> dict[str, Any]:
    """A copy of a machine description (or a results file's params) with ``os`` and
    ``ram`` in their stable form; every other key is kept as it is."""
    out = dict(params)
    if isinstance(out.get("os"), str):
        out["os"] = stable_os(out["os"])
    if out.get("ram") is not None:
        out["ram"] = stable_ram(out["ram"])
    return out


def asv_defaults() -> dict[str, str]:
    """asv's own description of this machine (host name, ``uname``, ``MemTotal``, ...)."""
    from asv.machine import Machine

    return {key: str(value) for key, value in Machine.get_defaults().items()}


def describe(defaults: dict[str, str] | None = None, **given: str | None) -> dict[str, str]:
    """The stable description of this machine.

    Parameters
    ----------
    defaults : dict, optional
        asv's raw values (default: :func:`asv_defaults` of this machine).
    **given : str
        Fields given by the user (``machine``, ``os``, ``arch``, ``cpu``, ``num_cpu``,
        ``ram``); ``None`` or ``""`` means "take the default". A given value is kept as
        given, except that a number of bytes for ``ram`` is rounded like the default.

    Returns
    -------
    dict
        One string per field of :data:`FIELDS`.
    """
    unknown = set(given) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown machine fields {sorted(unknown)}; known: {list(FIELDS)}")
    raw = dict(asv_defaults() if defaults is None else defaults)
    info = stable_params({key: str(raw.get(key, "")) for key in FIELDS})
    for key, value in given.items():
        if value:
            info[key] = stable_ram(value) if key == "ram" else value
    if not info["machine"]:
        raise ValueError("the machine needs a name (--machine)")
    return info


def register(
    info: dict[str, str], path: str | Path | None = None, key: str | None = None
) -> Path:
    """Store ``info`` as asv's description of the machine ``info["machine"]``.

    Parameters
    ----------
    info : dict
        A description from :func:`describe`.
    path : str or Path, optional
        asv's machine file (default ``~/.asv-machine.json``, where ``asv run`` reads it).
    key : str, optional
        The entry's key (default the machine's name; plain ``asv run`` looks up the host
        name).

    Returns
    -------
    Path
        The machine file written.
    """
    from asv.machine import MachineCollection

    target = Path(path) if path is not None else Path(MachineCollection.get_machine_file_path())
    MachineCollection.save(key or info["machine"], dict(info), _path=str(target))
    return target


def main(argv: list[str] | None = None) -> int:
    """Name this machine, register it with asv and print its description."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for field in FIELDS:
        parser.add_argument(
            f"--{field.replace('_', '-')}", dest=field, default=None,
            help=f"the machine's {field} (default: derived as described above)",
        )
    parser.add_argument("--machine-file", default=None,
                        help="asv's machine file (default ~/.asv-machine.json)")
    parser.add_argument("--results", default="results",
                        help="the suite's results folder (default results/)")
    parser.add_argument("--calibrations", default="measurements/machines",
                        help="the stored calibrations (default measurements/machines/)")
    parser.add_argument("--name-file", default=None,
                        help="also write the chosen name to this file (make reads it)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import machine_id

    finger = machine_id.fingerprint()
    cal, legacy = machine_id.calibrate(both=True)
    try:
        name, how = machine_id.choose(Path(args.results), Path(args.calibrations), finger, cal,
                                      given=args.machine, legacy=legacy)
        args.machine = name
        info = describe(**{field: getattr(args, field) for field in FIELDS})
    except ValueError as exc:
        print(f"bench_machine: {exc}", file=sys.stderr)
        return 2
    stored = machine_id.record(Path(args.calibrations), name, finger, cal)
    path = register(info, args.machine_file)
    host = asv_defaults().get("machine", "")
    if host and host != name:
        # a plain `asv run` looks its machine up by host name: the same description under
        # that key files its results under `name` too
        register({**info, "machine": name}, args.machine_file, key=host)
    if args.name_file:
        Path(args.name_file).parent.mkdir(parents=True, exist_ok=True)
        Path(args.name_file).write_text(name + "\n")
    print(f"asv machine {name!r} ({path}): {how}")
    for field in FIELDS[1:]:
        print(f"  {field:8s} {info[field]}")
    timing = ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in cal.items())
    print(f"  calibration (1 thread, the thread's CPU time, best of {machine_id.REPEATS}): {timing}"
          + (f"; stored in {stored}" if stored else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
