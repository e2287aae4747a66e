"""Keep the architecture visible: the public surface of the engine, and who may import SpiffWorkflow."""
from __future__ import annotations

import ast
from pathlib import Path

import engine

ROOT = Path(__file__).resolve().parents[1]
SPIFF_ALLOWED = {"engine/runtime.py", "engine/migration.py", "engine/clock.py", "engine/workflow.py", "engine/definitions.py", "engine/serialization.py", "engine/timers.py",
                 "engine/expressions.py", "engine/validation/report.py", "engine/validation/texts.py",
                 "engine/commands/tasks.py", "engine/commands/jobs.py", "engine/bench.py"}


def imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def python_files(*folders):
    for folder in folders:
        yield from sorted((ROOT / folder).rglob("*.py"))


def test_engine_public_surface():
    assert engine.__all__ == sorted(engine.__all__)
    assert {"Engine", "ConcurrentModification", "DefinitionInvalid", "VirtualClock"} <= set(engine.__all__)


def test_only_engine_internals_import_spiffworkflow():
    offenders = [str(p.relative_to(ROOT)) for p in python_files("engine", "web", "handlers")
                 if any(n.startswith("SpiffWorkflow") for n in imports(p))
                 and str(p.relative_to(ROOT)) not in SPIFF_ALLOWED]
    assert offenders == []


def test_data_flows_one_way():
    """handlers never import the engine or the web; the engine never imports the web."""
    back = [str(p.relative_to(ROOT)) for p in python_files("handlers") if any(n.split(".")[0] in ("engine", "web")
                                                                           for n in imports(p))]
    back += [str(p.relative_to(ROOT)) for p in python_files("engine") if any(n.split(".")[0] == "web"
                                                                          for n in imports(p))]
    assert back == []
