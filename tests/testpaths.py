"""Paths to test fixtures, importable from any test (a plain module: several conftest.py files share one name)."""
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ENGINE_BPMN = TESTS / "bpmn" / "engine"
