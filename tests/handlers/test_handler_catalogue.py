"""The enforcement operators are registered, and each declaration matches its function's signature, so
deploy-time validation and the call agree on the parameters."""
from __future__ import annotations

import inspect

import pytest

from handlers import REGISTRY

OPERATORS = {
    "asset.search", "asset.control", "asset.release", "asset.renew",
    "valuation.online_inquiry", "valuation.targeted_inquiry", "valuation.appraisal",
    "auction.publish", "auction.result",
    "credit.restrict_consumption", "credit.lift_restriction", "credit.blacklist", "credit.delist",
    "party.notify", "ledger.receive", "ledger.payout", "ledger.balance", "document.generate",
}


def test_all_operators_are_registered():
    assert OPERATORS <= {spec.name for spec in REGISTRY}


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_declaration_matches_signature(name):
    spec = REGISTRY.get(name)
    params = list(inspect.signature(spec.func).parameters.values())
    assert params[0].name == "ctx"
    required = tuple(p.name for p in params[1:] if p.default is inspect.Parameter.empty)
    optional = tuple(p.name for p in params[1:] if p.default is not inspect.Parameter.empty)
    assert (spec.inputs, spec.optional) == (required, optional)
    assert spec.description and name.count(".") == 1 and name == name.lower()
    assert spec.parameter_problems(set(spec.inputs)) == []
