"""The package's modules import each other along a DAG: no cycle, nothing running back up."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "convbench"

#: The layers of the library, lowest first: a module may import only from lower ranks.
RANKS = {
    "weights": 0,
    "layer": 1,
    "symbols": 2,
    "bounds": 3,
    "explicit": 3,
    "fast": 3,
    "operators": 4,
    "boundary": 5,
    "spectrum": 6,
}


def import_graph(package: Path) -> dict[str, set[str]]:
    """Module -> the package modules it imports with ``from .x import`` or
    ``from . import x``, wherever the statement is (function-level imports included).

    A subpackage (``fast/``, ``models/``) is one node: the imports of its modules that
    leave it (``from ..x import``) are its edges, those between its own modules are not.
    """
    packages = {p.parent.name for p in package.glob("*/__init__.py")}
    modules = {p.stem for p in package.glob("*.py")} | packages
    graph: dict[str, set[str]] = {}
    files = sorted(package.glob("*.py")) + sorted(
        path for name in sorted(packages) for path in (package / name).glob("*.py"))
    for path in files:
        inner = path.parent != package
        level = 2 if inner else 1  # the level of an import of a sibling of the node
        deps = graph.setdefault(path.parent.name if inner else path.stem, set())
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, ast.ImportFrom) or node.level != level:
                continue
            if node.module:
                deps.add(node.module.split(".")[0])
            else:
                deps.update(a.name if a.name in modules else "__init__" for a in node.names)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a list of nodes (first repeated last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"a"}}) == ["a", "a"]


def test_the_graph_sees_function_level_imports(tmp_path):
    (tmp_path / "one.py").write_text("from .two import f\n")
    (tmp_path / "two.py").write_text("def f():\n    from . import one\n    return one\n")
    graph = import_graph(tmp_path)
    assert graph == {"one": {"two"}, "two": {"one"}}
    assert find_cycle(graph) == ["one", "two", "one"]


def test_the_graph_takes_a_subpackage_as_one_node(tmp_path):
    (tmp_path / "low.py").write_text("X = 1\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "__init__.py").write_text("from .part import f\n")
    (tmp_path / "sub" / "part.py").write_text("from ..low import X\nfrom . import other\n")
    (tmp_path / "sub" / "other.py").write_text("")
    assert import_graph(tmp_path) == {"low": set(), "sub": {"low"}}


def test_package_imports_have_no_cycle():
    graph = import_graph(PACKAGE)
    assert "bounds" in graph["extremes"], "the parser lost an import it should see"
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph))}"


@pytest.mark.parametrize("module", sorted(RANKS))
def test_imports_run_down_the_layers(module):
    graph = import_graph(PACKAGE)
    upward = sorted(d for d in graph[module] if RANKS.get(d, -1) >= RANKS[module])
    assert not upward, f"{module} imports {upward}, at its own level or above"


def test_importing_the_package_imports_no_dask():
    """dask is the optional extra of convbench.distributed, imported only when a client
    is used."""
    import subprocess
    import sys

    code = ("import sys, convbench, convbench.models, convbench.cli; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.splitlines()[-1] == "[]"
