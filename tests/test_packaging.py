"""The wheel holds the whole package: every module of every subpackage.

The test environment installs convbench editable, which finds every module in the source
tree whatever the package list says; asv, pip and users install the wheel, which holds
only the packages pyproject.toml names. A subpackage left out of that list imports here
and fails everywhere else (``ModuleNotFoundError: No module named 'convbench.fast'``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_holds_every_module(tmp_path):
    # a copy of what the build reads: a build folder left in the checkout by an earlier
    # build would hand the wheel modules the package list does not name
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "convbench", tree / "convbench",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, tree / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--quiet", "--wheel-dir", str(tmp_path / "dist"), str(tree)],
        check=True, capture_output=True, text=True, timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("convbench-*.whl")
    packed = {name for name in zipfile.ZipFile(wheel).namelist() if name.endswith(".py")}
    source = {p.relative_to(ROOT).as_posix() for p in (ROOT / "convbench").rglob("*.py")}
    assert "convbench/fast/driver.py" in source
    assert sorted(source - packed) == []
