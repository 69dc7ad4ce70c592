"""Execute the paired notebooks headless and write their executed ``.ipynb``.

The percent-format ``notebooks/*.py`` files are the source; each is executed top to
bottom in a fresh ``python3`` kernel (working directory ``notebooks/``) and saved as
the paired ``.ipynb`` with its outputs, so readers see the figures without running
anything. The notebooks write their figures to ``notebooks/figures/`` (or to
``$CONVBENCH_FIGURES_DIR``).

Usage::

    python scripts/run_notebooks.py [NOTEBOOK.py ...] [--no-write] [--timeout SECONDS]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def notebook_sources() -> list[Path]:
    """Every percent-format notebook source in ``notebooks/``."""
    return sorted(p for p in NOTEBOOKS.glob("*.py") if p.read_text().startswith("# ---"))


def execute(source: Path, *, write: bool = True, timeout: int = 600):
    """Execute one notebook source; write the paired ``.ipynb`` unless ``write`` is false.

    Returns
    -------
    nbformat.NotebookNode
        The executed notebook.
    """
    os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")
    import jupytext
    from nbclient import NotebookClient

    source = Path(source).resolve()
    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    # stable cell ids (nbformat draws random ones), so a re-run changes only outputs
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:03d}"
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=KERNELSPEC["name"],
        record_timing=False,
        resources={"metadata": {"path": str(source.parent)}},
    )
    client.execute()
    if write:
        jupytext.write(nb, source.with_suffix(".ipynb"))
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.py")
    parser.add_argument("--no-write", action="store_true", help="do not write the .ipynb")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = parser.parse_args(argv)
    sources = args.notebooks or notebook_sources()
    for source in sources:
        start = time.perf_counter()
        execute(source, write=not args.no_write, timeout=args.timeout)
        print(f"executed {source.name} in {time.perf_counter() - start:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
