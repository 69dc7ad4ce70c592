"""The documentation site builds with warnings as errors, and documents the public API.

The same build as ``make docs`` (Sphinx, numpydoc, the PyData theme, MyST pages), into a
scratch folder, nothing executed: a docstring that numpydoc or docutils cannot read, a
broken cross-reference or a page outside the toctree fails ``make test``.
"""

from __future__ import annotations

import html
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import convbench

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
GUIDE = (
    "index", "suite", "layers", "models", "zero_padding", "vectors", "fast", "claims",
    "distributed", "threads", "figures",
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built once for this module's tests."""
    for module in ("sphinx", "numpydoc", "myst_nb", "pydata_sphinx_theme"):
        try:
            __import__(module)
        except ImportError:  # pragma: no cover - the docs extra is part of `dev`
            pytest.fail(f"{module} is missing: install the docs extra (make venv)")
    out = tmp_path_factory.mktemp("docs")
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONWARNINGS": "",
           "CONVBENCH_DOCS_EXECUTE": "off"}
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(out / "doctrees"), str(DOCS), str(out / "html")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, f"sphinx-build failed:\n{proc.stdout}\n{proc.stderr}"
    return out / "html"


def _text(page: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf-8")))


def test_singular_values_page_documents_every_parameter(site: Path) -> None:
    page = site / "generated" / "convbench.singular_values.html"
    assert page.is_file()
    raw = page.read_text(encoding="utf-8")
    text = _text(page)
    assert "Parameters" in text and "Returns" in text
    # numpydoc writes each "name : type" (or "a, b : type") as a bold definition term
    terms = re.findall(r"<dt><strong>([^<]+)</strong>", raw)
    documented = {name.strip() for term in terms for name in term.split(",")}
    signature = set(inspect.signature(convbench.singular_values).parameters)
    assert signature <= documented, f"undocumented: {sorted(signature - documented)}"


def test_every_public_name_has_a_page(site: Path) -> None:
    names = [n for n in convbench.__all__ if not n.startswith("__")]
    missing = [n for n in names if not (site / "generated" / f"convbench.{n}.html").is_file()]
    assert not missing, f"no API page for {missing}: add them to docs/api.rst"


def test_user_guide_pages(site: Path) -> None:
    for page in [f"guide/{name}.html" for name in GUIDE] + ["index.html", "measured.html"]:
        assert (site / page).is_file(), page


def test_examples_page_is_built_unexecuted_here(site: Path) -> None:
    """``make test`` builds the examples without running them (``make docs`` runs them):
    the code is on the page, no output is."""
    page = site / "examples.html"
    assert page.is_file(), "docs/examples.md is missing from the toctree"
    raw = page.read_text(encoding="utf-8")
    code = html.unescape(re.sub(r"<[^>]+>", "", raw))  # highlighted code, tags dropped
    assert "registry.register(registry.Method(" in code
    assert "cell_output" not in raw


def test_examples_run_only_when_asked() -> None:
    conf = (DOCS / "conf.py").read_text(encoding="utf-8")
    assert 'os.environ.get("CONVBENCH_DOCS_EXECUTE", "off")' in conf
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    docs_rule = makefile.split("\ndocs:", 1)[1].split("\n\n", 1)[0]
    assert "CONVBENCH_DOCS_EXECUTE=force" in docs_rule
