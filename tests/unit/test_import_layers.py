"""The import layers: `shared` below the services, the services beside each other, the desk above;
and no module that imports itself back through others (a type-only import counts: it is a cycle
in the design even when it is not one at run time).

Read from the source (every import statement, also inside functions and TYPE_CHECKING blocks), so
a lazy or type-only import across a layer fails here as well.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "__init__.py").exists())


def _module(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, root: Path = ROOT) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of every module ``path`` imports; ``from a import b`` yields ``a.b``."""
    package = _module(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            for alias in node.names:
                yield node.lineno, f"{module}.{alias.name}"


def crossings(folder: str, forbidden: tuple[str, ...], root: Path = ROOT) -> list[str]:
    """``file:line name`` for each import under ``folder`` of a module in ``forbidden``."""
    found = []
    for path in sorted((root / folder).rglob("*.py")):
        for line, name in sorted(imports(path, root)):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                found.append(f"{path.relative_to(root)}:{line} {name}")
    return found


def test_shared_imports_no_service_and_not_the_desk() -> None:
    assert crossings("shared", ("services", "desk")) == []


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_no_other_service_and_not_the_desk(service: str) -> None:
    others = tuple(f"services.{s}" for s in SERVICES if s != service)
    assert crossings(f"services/{service}", (*others, "desk")) == []


def _project_graph() -> dict[str, set[str]]:
    """Each module of shared, services and desk -> the project modules it imports."""
    paths = {
        _module(p, ROOT): p
        for d in ("shared", "services", "desk")
        for p in (ROOT / d).rglob("*.py")
    }
    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        graph[module] = set()
        for _, name in imports(path):
            while name and name not in paths:  # `from a.b import C` depends on module a.b
                name = name.rpartition(".")[0]
            if name and name != module:
                graph[module].add(name)
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle (first module repeated at the end), or [] when there is none."""
    done: set[str] = set()
    path: list[str] = []

    def visit(module: str) -> list[str]:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return []
        path.append(module)
        for dep in sorted(graph.get(module, ())):
            if found := visit(dep):
                return found
        path.pop()
        done.add(module)
        return []

    for module in sorted(graph):
        if found := visit(module):
            return found
    return []


def test_no_module_imports_itself_back() -> None:
    assert cycle(_project_graph()) == []


def test_cycle_names_the_loop_it_finds() -> None:
    graph = {"sim.server": {"sim.control", "sim.market"}, "sim.control": {"sim.server"}}
    assert cycle(graph) == ["sim.control", "sim.server", "sim.control"]
    assert cycle({"sim.server": {"sim.control"}, "sim.control": set()}) == []


def test_the_walk_finds_lazy_relative_and_type_only_imports(tmp_path: Path) -> None:
    # the rules above pass on an empty result: this shows the walk would report a crossing
    (tmp_path / "shared" / "domain").mkdir(parents=True)
    (tmp_path / "shared" / "domain" / "probe.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from services.monitor.tables import POSITIONS\n"
        "def f():\n    import desk.cli.status\n"
        "from ...services import entry\n"
        "from .. import clock\n"
    )
    assert crossings("shared", ("services", "desk"), tmp_path) == [
        "shared/domain/probe.py:3 services.monitor.tables.POSITIONS",
        "shared/domain/probe.py:5 desk.cli.status",
        "shared/domain/probe.py:6 services.entry",
    ]
