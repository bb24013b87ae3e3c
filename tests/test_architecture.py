"""The import contract: layers point one way, and each client library stays in its package.

The imports are read from the code (every `import`, at module level, in functions and under
TYPE_CHECKING), so a lazy import cannot hide a cycle or a layer broken on purpose.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import pytest

from tests.paths import ROOT

PACKAGES = ("reviewer", "webhook")

# Lowest first: a module may import its own layer and the layers before it, never after.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("shared", ("reviewer.errors", "reviewer.settings", "reviewer.redact")),
    ("core", ("reviewer.core",)),
    ("config", ("reviewer.config",)),
    ("model", ("reviewer.model",)),
    ("adapters", ("reviewer.spend", "reviewer.claude", "reviewer.github")),
    ("use cases", ("reviewer.review",)),
    ("composition", ("reviewer.services",)),
    ("entry points", ("reviewer.cli", "reviewer.action", "webhook", "reviewer")),
)

# Each client library lives in one package.
OWNERS = {
    "anthropic": "reviewer.claude",
    "github": "reviewer.github",
    "sqlalchemy": "reviewer.spend",
    "flask": "webhook",
}
# Imports that do I/O (network, database, web, environment, subprocess) or read the clock.
IO_MODULES = frozenset(
    {
        "anthropic", "asyncio", "datetime", "flask", "ftplib", "github", "http", "httpx",
        "huey", "os", "psycopg", "redis", "requests", "shutil", "signal", "smtplib", "socket",
        "sqlalchemy", "sqlite3", "ssl", "subprocess", "tempfile", "time", "urllib",
        "werkzeug",
    }
)  # fmt: skip
# What makes a module an adapter: a use case may import none of these, even indirectly.
CLIENT_LIBRARIES = frozenset(
    {"anthropic", "github", "sqlalchemy", "psycopg", "requests", "redis", "huey", "flask"}
)


@dataclass(frozen=True)
class Import:
    importer: str
    target: str  # a project module, or a top-level third-party/stdlib name
    names: tuple[str, ...]
    line: int


@cache
def project_modules() -> dict[str, ast.Module]:
    modules: dict[str, ast.Module] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return modules


def _resolve(name: str) -> str:
    """The project module `name` refers to, or the top-level name of an outside module."""
    modules = project_modules()
    while name and name not in modules:
        if name.split(".")[0] not in PACKAGES:
            return name.split(".")[0]
        name = name.rpartition(".")[0]
    return name


@cache
def imports() -> tuple[Import, ...]:
    found: list[Import] = []
    modules = project_modules()
    for importer, tree in modules.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    found.append(Import(importer, _resolve(alias.name), (), node.lineno))
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{importer}:{node.lineno}: use absolute imports"
                module = node.module or ""
                for alias in node.names:
                    submodule = f"{module}.{alias.name}"
                    if submodule in modules:  # `from package import module`
                        found.append(Import(importer, submodule, (), node.lineno))
                    else:
                        found.append(Import(importer, _resolve(module), (alias.name,), node.lineno))
    return tuple(found)


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {name: set() for name in project_modules()}
    for imp in imports():
        if imp.target in edges and imp.target != imp.importer:
            edges[imp.importer].add(imp.target)
    return edges


def layer_of(module: str) -> int:
    for rank, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS")


def cycles(edges: dict[str, set[str]]) -> Iterator[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))

    def visit(node: str) -> Iterator[list[str]]:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                yield from visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                yield sorted(component)

    for node in sorted(edges):
        if node not in index:
            yield from visit(node)


def closure(module: str, edges: dict[str, set[str]]) -> set[str]:
    seen, todo = set(), [module]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(edges[current])
    return seen


def outside_imports(modules: set[str]) -> set[str]:
    return {i.target for i in imports() if i.importer in modules and i.target not in graph()}


def test_no_import_cycles() -> None:
    assert list(cycles(graph())) == []


def test_layers_point_one_way() -> None:
    wrong = [
        f"{i.importer}:{i.line} imports {i.target}"
        for i in imports()
        if i.target in project_modules() and layer_of(i.target) > layer_of(i.importer)
    ]
    assert wrong == []


def test_no_private_name_is_imported_across_modules() -> None:
    wrong = [
        f"{i.importer}:{i.line} imports {name} from {i.target}"
        for i in imports()
        for name in i.names
        if name.startswith("_") and not name.startswith("__") and i.target != i.importer
    ]
    assert wrong == []


def test_the_core_does_no_io() -> None:
    wrong = [
        f"{i.importer}:{i.line} imports {i.target}"
        for i in imports()
        if i.importer.startswith("reviewer.core") and i.target in IO_MODULES
    ]
    assert wrong == []


@pytest.mark.parametrize(("library", "owner"), sorted(OWNERS.items()))
def test_each_client_library_is_used_by_one_package(library: str, owner: str) -> None:
    users = {i.importer for i in imports() if i.target == library}
    assert users, f"nothing imports {library}: drop it from OWNERS"
    assert {u for u in users if not (u == owner or u.startswith(owner + "."))} == set()


def test_use_cases_reach_no_adapter_even_indirectly() -> None:
    edges = graph()
    wrong = {}
    for module in edges:
        if module.startswith("reviewer.review"):
            reached = outside_imports(closure(module, edges)) & CLIENT_LIBRARIES
            if reached:
                wrong[module] = sorted(reached)
    assert wrong == {}


def test_the_contract_sees_a_broken_rule() -> None:
    # The checks above read real imports: a planted cycle and a planted layer break are found.
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert list(cycles(edges)) == [["a", "b", "c"]]
    assert layer_of("reviewer.review.pipeline") > layer_of("reviewer.github.client")
    assert layer_of("reviewer.core.diff") < layer_of("reviewer.model")
