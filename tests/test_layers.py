"""The package's layers (CONTRIBUTING.md, "Layers"): imports go down only, no cycles, small modules, lab apart.

Imports inside functions count: a lazy import still ties two modules together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "plugin"
MAX_MODULE_LINES = 400

#: The layers of CONTRIBUTING.md, lowest first: a module may import its own layer or lower ones, never higher.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("settings", "quotes", "manifest_rules", "strict_json", "rendered", "openapi", "telemetry", "spec_refs"),
    (
        "errors",
        "manifest",
        "symbols",
        "sources",
        "base_url",
        "budget",
        "action_rules",
        "redis_link",
        "shared_budget",
    ),
    ("yahoo",),
    ("source_choice", "cache"),
    ("shared_cache",),
    ("deadline",),
    ("pipeline",),
    ("http_edges", "middleware", "metrics", "plugin_files", "price_routes", "mcp", "mcp_http"),
    ("app",),
    ("service",),
    ("workers",),
    ("serve",),
    ("check.findings", "check.fetch"),
    ("check.spec", "check.mcp"),
    ("check.site",),
    ("check.command",),
    ("cli", "__main__"),
    ("lab.functions", "lab.prompt", "lab.server", "lab.client", "lab.local_redis", "lab.fleet"),
    ("lab.arguments",),
    ("lab.executor",),
    ("lab.router",),
)
RANK = {f"plugin.{name}": rank for rank, names in enumerate(LAYERS) for name in names}


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def imports_of(path: Path) -> set[str]:
    """Every `plugin` module that `path` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "plugin")
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "plugin":
            found.add(node.module)
            found.update(
                f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES
            )
    return {name for name in found if name in MODULES and name != "plugin"}


GRAPH = {name: imports_of(path) for name, path in MODULES.items()}


def _cycles() -> list[list[str]]:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(GRAPH[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(GRAPH):
        if name not in state:
            visit(name)
    return cycles


def test_no_import_cycles() -> None:
    assert _cycles() == [], "import cycles (imports inside functions count)"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_are_small(name: str) -> None:
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{name}: {lines} lines; split it into modules with one job each"


def test_the_service_never_imports_the_workbench() -> None:
    offenders = {
        name: sorted(n for n in deps if n.startswith("plugin.lab"))
        for name, deps in GRAPH.items()
        if not name.startswith("plugin.lab")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


@pytest.mark.parametrize("name", ["plugin.settings", "plugin.quotes"])
def test_the_lowest_layer_imports_nothing_of_the_package(name: str) -> None:
    assert GRAPH[name] == set()


def test_every_module_has_a_layer() -> None:
    unplaced = sorted(set(MODULES) - set(RANK) - {"plugin", "plugin.lab"})
    assert not unplaced, f"add these to LAYERS here and to the layer list in CONTRIBUTING.md: {unplaced}"


def test_imports_go_down_the_layers_only() -> None:
    upward = [
        f"{name} (layer {RANK[name]}) imports {dep} (layer {RANK[dep]})"
        for name, deps in GRAPH.items()
        if name in RANK
        for dep in sorted(deps)
        if dep in RANK and RANK[dep] > RANK[name]
    ]
    assert not upward, upward


def test_the_http_api_and_mcp_stand_side_by_side() -> None:
    api = {
        "plugin.app",
        "plugin.http_edges",
        "plugin.middleware",
        "plugin.plugin_files",
        "plugin.price_routes",
    }
    mcp = {"plugin.mcp", "plugin.mcp_http"}
    assert not {(a, d) for a in api for d in GRAPH[a] if d in mcp}
    assert not {(m, d) for m in mcp for d in GRAPH[m] if d in api}
