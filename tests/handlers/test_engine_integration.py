"""The handlers inside the real engine: deploy-time validation accepts their declarations, the worker calls
them with evaluated parameters, results land in the case data, and a refusal becomes an incident with its
structured details."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine import DefinitionInvalid, Engine, VirtualClock
from handlers import REGISTRY

from handler_testdata import NOW, WANG

DIAGRAM = Path(__file__).parent / "bpmn" / "money_flow.bpmn"


@pytest.fixture
def engine(tmp_path):
    eng = Engine(f"sqlite:///{tmp_path / 'zhixing.db'}", clock=VirtualClock(NOW), registry=REGISTRY)
    eng.init_schema()
    eng.deploy([DIAGRAM])
    yield eng
    eng.close()


def start(engine, case_no, name=WANG[1]):
    view = engine.start("money_flow", case_no, "J0104", {"debtor_id": WANG[0], "debtor_name": name, "claim": 50000})
    engine.run_until_idle()
    return view


def test_search_freeze_receive_and_document(engine, sandbox_env):
    view = start(engine, "（2026）J0104执7号")
    assert engine.instance(view.id).status == "completed"
    data = engine.variables(view.id)
    assert (data["freeze"]["status"], data["freeze"]["amount"]) == ("in_force", "50000.00")
    assert data["receipt"]["balance"] == "50000.00" and data["receipt"]["case_no"] == "（2026）J0104执7号"
    assert (sandbox_env / "documents" / data["closing"]["path"]).is_file()


def test_a_refusal_is_an_incident_with_details(engine):
    start(engine, "（2026）J0104执8号", name="王建")
    [incident] = engine.incidents()
    assert incident.operator == "asset.search" and incident.error_details == {"field": "debtor_name", "value": "王建"}


def test_deploy_checks_parameters_against_the_declarations(tmp_path):
    eng = Engine(f"sqlite:///{tmp_path / 'zhixing.db'}", clock=VirtualClock(NOW), registry=REGISTRY)
    eng.init_schema()
    broken = DIAGRAM.read_text(encoding="utf-8").replace('id="category"', 'id="kind"')
    with pytest.raises(DefinitionInvalid, match="'asset.control' needs parameter"):
        eng.deploy({"money_flow.bpmn": broken.encode()})
    eng.close()
