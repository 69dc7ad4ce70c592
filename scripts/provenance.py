"""What the measurement scripts record of where a number came from, and where it goes.

- :func:`commit`: the short commit of a checkout, ``+dirty`` when its ``convbench/``
  has uncommitted changes (the library measured is then not the commit's);
- :func:`new_path`: a file name under a folder of ``measurements/`` that no earlier
  measurement holds (``<stem>.json``, else ``<stem>-2.json``, ...): nothing measured
  before is overwritten.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

__all__ = ["commit", "new_path"]


def commit(checkout: Path) -> str:
    """``git rev-parse --short=8 HEAD`` of ``checkout``, ``+dirty`` if its library is."""
    head = subprocess.run(["git", "rev-parse", "--short=8", "HEAD"], cwd=checkout,
                          capture_output=True, text=True, check=False).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "convbench"], cwd=checkout,
                           capture_output=True, text=True, check=False).stdout.strip()
    return (head or "unknown") + ("+dirty" if dirty else "")


def new_path(folder: Path, stem: str) -> Path:
    """``folder/<stem>.json``, or the first ``folder/<stem>-<k>.json`` not taken."""
    folder.mkdir(parents=True, exist_ok=True)
    path, k = folder / f"{stem}.json", 1
    while path.exists():
        k += 1
        path = folder / f"{stem}-{k}.json"
    return path


def write_record(folder: Path, stem: str, record: dict, root: Path | None = None) -> Path:
    """Write ``record`` as JSON to :func:`new_path` ``(folder, stem)`` (never over another
    file), say where (relative to ``root`` when inside it), and return the path."""
    path = new_path(folder, stem)
    path.write_text(json.dumps(record, indent=1) + "\n")
    shown = path.relative_to(root) if root is not None and path.is_relative_to(root) else path
    print(f"wrote {shown}")
    return path
