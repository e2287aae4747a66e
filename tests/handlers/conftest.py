"""Fixtures for the enforcement handlers: every test gets its own sandbox and document directories (through the
environment, as in production) and the default adapters; ``call`` runs an operator through the registry the way
the engine's worker does, with a fresh idempotency key unless one is given."""
from __future__ import annotations

import itertools
import json
from datetime import timedelta

import pytest

import handlers.enforcement  # noqa: F401  (registers the enforcement handlers)
from handlers import REGISTRY
from handlers.base import BusinessRejection, HandlerContext
from handlers.config import ADAPTERS, env_name

from handler_testdata import CASE, NOW


@pytest.fixture(autouse=True)
def sandbox_env(tmp_path, monkeypatch):
    monkeypatch.setenv("ZHIXING_SANDBOX_DIR", str(tmp_path / "sandbox"))
    monkeypatch.setenv("ZHIXING_DOCUMENT_DIR", str(tmp_path / "documents"))
    for system in ADAPTERS:
        monkeypatch.delenv(env_name(system), raising=False)
    return tmp_path


class Caller:
    """``call("ledger.payout", amount=..., payee=...)``; ``key=``, ``ctx_case=``, ``days=`` (after NOW) set the
    context's idempotency key, case number and time. Results must survive the engine's JSON round trip."""

    def __init__(self) -> None:
        self._keys = itertools.count(1)

    def ctx(self, key: str | None = None, case_no: str | None = CASE, days: float = 0) -> HandlerContext:
        return HandlerContext(key or f"svc:1:task-{next(self._keys)}", 1, case_no, "J0104", NOW + timedelta(days=days))

    def __call__(self, operator: str, *, key: str | None = None, ctx_case: str | None = CASE, days: float = 0,
                 **params) -> dict:
        spec = REGISTRY.get(operator)
        assert spec is not None, f"{operator} is not registered"
        result = spec.func(self.ctx(key, ctx_case, days), **params)
        assert isinstance(result, dict)
        assert json.loads(json.dumps(result)) == result, "results must be plain JSON"
        return result

    def rejects(self, operator: str, **params) -> BusinessRejection:
        """Call and expect a structured refusal; returns it for checks on message and details."""
        with pytest.raises(BusinessRejection) as info:
            self(operator, **params)
        assert "field" in info.value.details, info.value.details
        return info.value

    def field(self, operator: str, **params) -> str:
        """The field a refusal blames."""
        return self.rejects(operator, **params).details["field"]


@pytest.fixture
def call() -> Caller:
    return Caller()
