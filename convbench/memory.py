"""The memory budget: how many bytes a call may use, and a clear refusal beyond it.

The budget is, in order of precedence:

1. the ``memory_budget`` argument of the call (bytes, or a string such as ``"8G"``);
2. the environment variable ``CONVBENCH_MEMORY_BUDGET`` (same forms);
3. :data:`DEFAULT_FRACTION` of the memory available when the call is made.

Every path compares its predicted bytes (:func:`convbench.budget.estimate`) with the
budget through :func:`check_memory` before it allocates anything large.
"""

from __future__ import annotations

import math
import os
import re

__all__ = [
    "DEFAULT_FRACTION",
    "ENV_VAR",
    "BudgetError",
    "available_memory",
    "check_memory",
    "format_bytes",
    "memory_budget",
    "parse_bytes",
]

#: Fraction of currently available memory used as the default budget.
DEFAULT_FRACTION = 0.5
#: Environment variable that overrides the default budget.
ENV_VAR = "CONVBENCH_MEMORY_BUDGET"

_UNITS = {"": 1, "B": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


class BudgetError(MemoryError):
    """A computation would need more memory than the budget allows."""


def parse_bytes(value: int | float | str) -> int:
    """Parse a byte count such as ``1073741824``, ``"512M"``, ``"8G"`` or ``"1.5GiB"``."""
    if isinstance(value, bool):
        raise TypeError("memory budget must be a number of bytes or a string like '8G'")
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"memory budget must be a positive number of bytes; got {value}")
        return int(value)
    if not isinstance(value, str):
        raise TypeError(
            f"memory budget must be a number of bytes or a string like '8G'; got {value!r}"
        )
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?)(?:I?B)?\s*", value.upper())
    if not match:
        raise ValueError(f"cannot parse memory budget {value!r}; use e.g. 8G, 512M or 1e9")
    number = float(match.group(1)) * _UNITS[match.group(2)]
    if number <= 0:
        raise ValueError(f"memory budget must be positive; got {value!r}")
    return int(number)


def format_bytes(nbytes: float) -> str:
    """Human-readable byte count (binary units)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(nbytes) < 1024 or unit == "TiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    raise AssertionError("unreachable")


def available_memory() -> int:
    """Bytes of memory available now (``MemAvailable`` on Linux, else physical memory)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - exotic platforms
        return 8 * 2**30


def memory_budget(budget: int | float | str | None = None) -> int:
    """Resolve the memory budget in bytes (argument, then environment, then default)."""
    if budget is not None:
        return parse_bytes(budget)
    env = os.environ.get(ENV_VAR)
    if env:
        try:
            return parse_bytes(env)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"environment variable {ENV_VAR}: {exc}") from None
    return int(DEFAULT_FRACTION * available_memory())


# alias for functions whose ``memory_budget`` argument shadows the function's name
_memory_budget = memory_budget


def check_memory(
    needed: int, budget: int | float | str | None, what: str, advice: str
) -> None:
    """Raise :class:`BudgetError` if ``needed`` bytes exceed the budget.

    Parameters
    ----------
    needed : int
        Estimated bytes.
    budget : int, float, str or None
        Budget as accepted by :func:`memory_budget`.
    what : str
        What was asked for, e.g. ``"method='lfa' at 16384x16384 with 64x64 channels"``.
    advice : str
        What the user can do instead.
    """
    allowed = memory_budget(budget)
    if needed > allowed:
        raise BudgetError(
            f"{what} needs about {format_bytes(needed)} but the memory budget is "
            f"{format_bytes(allowed)}. {advice} (Raise the budget with memory_budget=... "
            f"or the {ENV_VAR} environment variable if you know it fits.)"
        )
