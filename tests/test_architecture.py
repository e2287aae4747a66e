"""Keep the architecture visible: the engine's face and layers, no import cycles (lazy imports too), who may
import SpiffWorkflow, and who may begin a transaction. docs/architecture.md draws the same picture."""
from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import engine

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "handlers", "web", "tools")

# The engine's layers, lowest first: a module may import its own layer and the ones below it, never above.
LAYERS = [
    ("engine.errors", "engine.views"),
    ("engine.store",),
    ("engine.legaltime",),
    ("engine.court",),
    ("engine.kernel",),
    ("engine.definitions",),
    ("engine.commands",),
    ("engine.background",),
    ("engine.workspaces",),
    ("engine.api", "engine"),
]
FACE = {"engine", "engine.api", "engine.errors", "engine.views"}

# Pinned: the modules that import SpiffWorkflow. The kernel and the definitions hide it; legal time patches its
# timers; the bench compares the engine with SpiffWorkflow alone. This list may shrink, never grow.
SPIFF_IMPORTERS = {
    "engine/definitions/migration.py", "engine/definitions/parser.py", "engine/definitions/validation/report.py",
    "engine/kernel/__init__.py", "engine/kernel/expressions.py",
    "engine/kernel/runtime.py", "engine/kernel/serialization.py", "engine/kernel/workflow.py",
    "engine/legaltime/clock.py", "engine/legaltime/timers.py", "tools/bench.py",
}
SPIFF_PACKAGES = ("engine/kernel/", "engine/definitions/", "engine/legaltime/timers.py",
                  "engine/legaltime/clock.py", "tools/bench.py")


def python_files(*folders):
    for folder in folders:
        yield from sorted((ROOT / folder).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in python_files(*PACKAGES)}


@cache
def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def imported(path: Path) -> set[str]:
    here = module_name(path)
    return imports_of(tree(path), here if path.name == "__init__.py" else here.rpartition(".")[0], modules())


def imports_of(module: ast.Module, package: str, known) -> set[str]:
    """Every module a file imports, at the top or lazily inside a function, resolved to our module names."""
    names: set[str] = set()
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                names.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return names


def external_imports(path: Path) -> set[str]:
    return {n for n in imported(path) if n}


def own_edges() -> dict[str, set[str]]:
    known = modules()
    return {name: {n for n in imported(path) if n in known and n != name} for name, path in known.items()}


def layer_of(module: str) -> int | None:
    for index, prefixes in enumerate(LAYERS):
        if any(module == p or (p != "engine" and module.startswith(p + ".")) for p in prefixes):
            return index
    return None


def test_engine_public_surface():
    assert engine.__all__ == sorted(engine.__all__)
    assert {"Engine", "ConcurrentModification", "DefinitionInvalid", "VirtualClock"} <= set(engine.__all__)


def test_top_level_of_engine_is_its_face_and_its_layers():
    top = {p.name for p in (ROOT / "engine").iterdir() if not p.name.startswith((".", "__pycache__"))}
    assert top == {"__init__.py", "api.py", "errors.py", "views.py", "store", "legaltime", "court", "kernel",
                   "definitions", "commands", "background", "workspaces"}


def find_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:          # Tarjan's strongly connected components, recursive (few hundred nodes)
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in edges[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for name in sorted(edges):
        if name not in index:
            visit(name)
    return cycles


def test_no_import_cycles_lazy_imports_included():
    assert find_cycles(own_edges()) == []


def test_the_cycle_check_sees_a_lazy_import_cycle():
    """api -> design at the top, design -> api inside a function: the shape of the cycle this test was made for."""
    known = {"p.api", "p.design"}
    edges = {"p.api": imports_of(ast.parse("from p import design"), "p", known),
             "p.design": imports_of(ast.parse("def run():\n    from .api import Engine\n"), "p", known)}
    assert edges == {"p.api": {"p.design"}, "p.design": {"p.api"}}
    assert find_cycles(edges) == [["p.api", "p.design"]]


def test_engine_layers_import_downwards_only():
    upward = []
    for name, targets in own_edges().items():
        mine = layer_of(name)
        if mine is None or not name.startswith("engine"):
            continue
        upward += [f"{name} -> {t}" for t in sorted(targets) if (layer_of(t) or 0) > mine]
    assert upward == []


def test_spiffworkflow_stays_behind_the_kernel_and_definitions():
    importers = {str(p.relative_to(ROOT)) for p in python_files(*PACKAGES)
                 if any(n.startswith("SpiffWorkflow") for n in external_imports(p))}
    assert importers == SPIFF_IMPORTERS
    assert all(p.startswith(SPIFF_PACKAGES) for p in importers)


def test_data_flows_one_way():
    """handlers import neither the engine, the web nor the tools; the engine imports neither the web nor the
    tools; the web sees only the engine's face."""
    back = []
    for path in python_files(*PACKAGES):
        rel, tops = str(path.relative_to(ROOT)), {n.split(".")[0] for n in imported(path)}
        if rel.startswith("handlers/") and tops & {"engine", "web", "tools"}:
            back.append(rel)
        if rel.startswith("engine/") and tops & {"web", "tools"}:
            back.append(rel)
        if rel.startswith("web/"):
            back += [f"{rel} -> {n}" for n in imported(path)
                     if n.startswith("engine") and n not in FACE]
    assert back == []


def test_only_the_executor_begins_and_commits():
    """One verb = one command = one transaction: nothing in the engine or the web opens its own (a savepoint,
    ``begin_nested``, inside a command's transaction is fine)."""
    # the store's own upkeep, not writes of rows: migrations (database.py), and backup.py's consistent copies (a
    # read-only snapshot transaction for pg_dump, SQLite's backup and restore of whole files)
    allowed = {"engine/kernel/executor.py", "engine/store/database.py", "engine/store/backup.py"}
    offenders = []
    for path in python_files("engine", "web"):
        rel = str(path.relative_to(ROOT))
        for node in ast.walk(tree(path)):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("begin", "commit", "rollback") and rel not in allowed):
                offenders.append(f"{rel}:{node.lineno} {node.func.attr}()")
    assert offenders == []
