"""The layering rules, read from the source: no import cycle between packages, pure cores stay pure.

Every import counts, at module level or inside a function: a deferred import still couples the
two packages, it only hides the cycle from the interpreter.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[1] / "app"

#: Modules under app/screening that talk to HTTP or the database; everything else there is the engine.
SCREENING_SHELL = {"router", "service", "models", "dependencies", "schemas", "sealing"}
FORBIDDEN_LIBRARIES = ("fastapi", "starlette", "sqlalchemy", "sqlmodel")


def _module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[str]:
    """Yield every module `path` imports (absolute names, relative imports resolved)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            yield target
            # `from app.x import service` imports the module app.x.service.
            yield from (f"{target}.{alias.name}" for alias in node.names)


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted(APP.rglob("*.py")):
        graph[_module_name(path)] = set(_imports(path))
    return graph


GRAPH = _graph()


def _top(module: str) -> str:
    """Return the package (or top-level module) directly under app/ that `module` belongs to."""
    return ".".join(module.split(".")[:2])


def _package_edges(graph: dict[str, set[str]]) -> dict[str, dict[str, list[str]]]:
    """Map package -> imported package -> the importing modules (for the failure message)."""
    known = {_top(m) for m in graph}
    edges: dict[str, dict[str, list[str]]] = {}
    for module, targets in graph.items():
        for target in targets:
            src, dst = _top(module), _top(target)
            if target.startswith("app.") and dst in known and dst != src:
                edges.setdefault(src, {}).setdefault(dst, []).append(f"{module} -> {target}")
    return edges


def _cycles(edges: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """Return the strongly connected components with more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_module_and_function_level_imports() -> None:
    # The checks below are only as good as the graph: both kinds of import must be in it.
    assert "app.db" in GRAPH["app.screening.models"]
    assert "app.screening.models" in GRAPH["app.incidents.service"]  # imported inside a function


def test_cycle_finder_names_a_cycle() -> None:
    edges = {"a": {"b": ["a.x -> b.y"]}, "b": {"c": ["b.y -> c"]}, "c": {"a": ["c -> a"]}, "d": {"a": ["d -> a"]}}
    assert _cycles(edges) == [["a", "b", "c"]]
    assert _cycles({"a": {"b": []}, "b": {}}) == []


def test_no_import_cycle_between_packages() -> None:
    edges = _package_edges(GRAPH)
    cycles = _cycles(edges)
    report = []
    for component in cycles:
        for src in component:
            for dst in component:
                report.extend(edges.get(src, {}).get(dst, []))
    assert not cycles, f"import cycles between {cycles}:\n" + "\n".join(sorted(report))


def _pure_cores() -> list[str]:
    screening = [m for m in GRAPH if m.startswith("app.screening.") and m.split(".")[2] not in SCREENING_SHELL]
    return sorted([*screening, "app.escalation.ladder"])


def _reachable(module: str) -> dict[str, str]:
    """Return every app module `module` loads, directly or through others, with one importer each."""
    seen: dict[str, str] = {}
    todo = [module]
    while todo:
        current = todo.pop()
        for target in GRAPH.get(current, ()):
            if target in GRAPH and target not in seen:
                seen[target] = current
                todo.append(target)
    return seen


def _forbidden(target: str) -> bool:
    root = target.split(".")[0]
    last = target.rsplit(".", 1)[-1]
    return (
        root in FORBIDDEN_LIBRARIES
        or target == "app.db"
        or (target.startswith("app.") and last in {"router", "service"})
    )


def test_pure_core_list_is_the_engine() -> None:
    cores = _pure_cores()
    assert {"app.screening.engine", "app.screening.rules", "app.escalation.ladder"} <= set(cores)
    assert not {"app.screening.router", "app.screening.service"} & set(cores)


@pytest.mark.parametrize("core", _pure_cores())
def test_pure_core_imports_no_web_or_database_code(core: str) -> None:
    loaded = {core, *_reachable(core)}
    offences = sorted(
        f"{module} imports {target}" for module in loaded for target in GRAPH.get(module, ()) if _forbidden(target)
    )
    assert not offences, f"{core} pulls in web or database code:\n" + "\n".join(offences)


def test_forbidden_targets():
    for target in ("fastapi", "starlette.requests", "sqlalchemy.orm", "sqlmodel", "app.db", "app.incidents.service"):
        assert _forbidden(target), target
    for target in ("pydantic", "app.policy.pack", "app.screening.types", "regex"):
        assert not _forbidden(target), target
