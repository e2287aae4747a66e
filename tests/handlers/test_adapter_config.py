"""handlers.config: the adapter for each system comes from ZHIXING_ADAPTER_<SYSTEM>, default sandbox; foreign
errors are translated at the boundary."""
from __future__ import annotations

import pytest

from handlers import config
from handlers.base import BusinessRejection, Retryable
from handlers.config import ADAPTERS, AdapterNotConfigured, adapter_for, check, register_adapter
from handlers.ledger.sandbox import SandboxLedger


def test_default_is_the_sandbox():
    assert isinstance(adapter_for("ledger"), SandboxLedger)
    assert check() == {system: "sandbox" for system in ADAPTERS}


def test_unknown_adapter_name_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("ZHIXING_ADAPTER_LEDGER", "icbc")
    with pytest.raises(AdapterNotConfigured) as info:
        adapter_for("ledger")
    assert "ZHIXING_ADAPTER_LEDGER='icbc'" in str(info.value) and "sandbox" in str(info.value)
    assert info.value.details == {"field": "ZHIXING_ADAPTER_LEDGER", "value": "icbc", "allowed": ["sandbox"]}
    with pytest.raises(AdapterNotConfigured):
        check()


def test_a_handler_with_a_misconfigured_adapter_is_rejected_not_retried(monkeypatch, call):
    monkeypatch.setenv("ZHIXING_ADAPTER_CREDIT", "nope")
    e = call.rejects("credit.restrict_consumption", debtor_id="510104197803150014", debtor_name="王建国")
    assert isinstance(e, BusinessRejection) and e.details["field"] == "ZHIXING_ADAPTER_CREDIT"


def test_a_registered_adapter_is_selected_by_the_environment(monkeypatch, call):
    class Recording(SandboxLedger):
        calls = 0

        def balance(self, ctx, case_no):
            Recording.calls += 1
            return super().balance(ctx, case_no)

    monkeypatch.setitem(ADAPTERS, "ledger", dict(ADAPTERS["ledger"]))
    register_adapter("ledger", "recording", Recording)
    monkeypatch.setenv("ZHIXING_ADAPTER_LEDGER", "recording")
    assert call("ledger.balance")["balance"] == "0.00" and Recording.calls == 1


def test_a_factory_that_cannot_be_loaded(monkeypatch):
    monkeypatch.setitem(ADAPTERS, "auction", {**ADAPTERS["auction"], "broken": "handlers.nowhere:Client"})
    monkeypatch.setenv("ZHIXING_ADAPTER_AUCTION", "broken")
    with pytest.raises(AdapterNotConfigured, match="cannot be loaded"):
        adapter_for("auction")


def test_unknown_system_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown external system"):
        adapter_for("weather")


@pytest.mark.parametrize("error", [TimeoutError("read timed out"), ConnectionRefusedError("refused"),
                                   OSError("network unreachable")])
def test_transient_foreign_errors_become_retryable(monkeypatch, call, error):
    class Flaky:
        def balance(self, ctx, case_no):
            raise error

    monkeypatch.setitem(ADAPTERS, "ledger", {**ADAPTERS["ledger"], "flaky": Flaky})
    monkeypatch.setenv("ZHIXING_ADAPTER_LEDGER", "flaky")
    with pytest.raises(Retryable) as info:
        call("ledger.balance")
    assert info.value.details == {"system": "ledger", "type": type(error).__name__}
    assert info.value.__cause__ is error


def test_handler_errors_pass_through_untouched(monkeypatch, call):
    class Refusing:
        def balance(self, ctx, case_no):
            raise BusinessRejection("account closed", {"field": "case_no"})

    monkeypatch.setitem(ADAPTERS, "ledger", {**ADAPTERS["ledger"], "refusing": Refusing})
    monkeypatch.setenv("ZHIXING_ADAPTER_LEDGER", "refusing")
    assert str(call.rejects("ledger.balance")) == "account closed"


def test_env_names():
    assert [config.env_name(s) for s in ADAPTERS] == [
        "ZHIXING_ADAPTER_ASSETS", "ZHIXING_ADAPTER_VALUATION", "ZHIXING_ADAPTER_AUCTION", "ZHIXING_ADAPTER_CREDIT",
        "ZHIXING_ADAPTER_DELIVERY", "ZHIXING_ADAPTER_LEDGER"]


def test_the_sandbox_keeps_its_state_in_the_sandbox_dir(sandbox_env, call):
    call("ledger.receive", amount=1, payer="x")
    assert (sandbox_env / "sandbox" / "sandbox.sqlite3").is_file()
