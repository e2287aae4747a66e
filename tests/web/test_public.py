"""Public case progress (执行公开): the verification code, what a party sees and does not see, the downloads, and
the rate limit shared through the store."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from engine import Engine
from engine.errors import NotFound
from engine.store.tables import public_codes
from engine.workspaces.public import LOOKUPS_PER_MINUTE, TooManyLookups
from web import create_app

from testpaths import TESTS

CASE = "（2026）川0104执9号"
PRIVATE = ("王建国", "某银行", "86000", "民初", "工商银行", "协助冻结", "决定强制措施", "chengban", "李法官")


@pytest.fixture
def engine(db_url, clock, tmp_path, monkeypatch):
    """An engine with the real handlers (documents, service on parties) in sandboxes of this test."""
    monkeypatch.setenv("ZHIXING_SANDBOX_DIR", str(tmp_path / "sandbox"))
    monkeypatch.setenv("ZHIXING_DOCUMENT_DIR", str(tmp_path / "documents"))
    monkeypatch.setenv("ZHIXING_PUBLIC_CODE_KEY", "test-key")
    eng = Engine(db_url, clock=clock)
    if db_url.startswith("postgresql"):
        eng.init_schema()
    eng.add_user("chengban", "执行法官 李法官", [("川0104", "implementation_officer")])
    eng.deploy([TESTS / "bpmn" / "public"])
    eng.start("served_notice", CASE, "川0104", {"debtor_name": "王建国", "applicant_name": "某银行",
                                                 "basis": "（2025）川0104民初1号", "amount": 86000}, actor="chengban")
    eng.run_until_idle()
    yield eng
    eng.close()


@pytest.fixture
def client(engine):
    return create_app({"ENGINE": engine, "TESTING": True, "SECRET_KEY": "test"}).test_client()


def look_up(client, case_no: str, code: str, address: str = "10.0.0.1"):
    page = client.get("/public").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/public", data={"case_no": case_no, "code": code, "csrf_token": csrf},
                       environ_base={"REMOTE_ADDR": address})


def test_the_code_is_stable_printable_and_stored_only_as_a_slow_hash(engine):
    code = engine.public_code(CASE)
    assert re.fullmatch(r"[A-HJ-KM-NP-Z2-9]{4}-[A-HJ-KM-NP-Z2-9]{4}", code)
    assert engine.public_code(CASE) == code
    stored = engine.executor.read(lambda conn: conn.execute(sa.select(public_codes)).one())
    assert code.replace("-", "") not in str(tuple(stored))
    with pytest.raises(NotFound):
        engine.public_code("（2026）川0104执999号")
    renewed = engine.public.code(CASE, renew=True)
    assert renewed != code and engine.public.lookup(CASE, code, "a") is None
    assert engine.public.lookup(CASE, renewed.lower().replace("-", " "), "a") is not None


def test_a_wrong_code_and_an_unknown_case_get_the_same_answer(client, engine):
    engine.public_code(CASE)
    wrong = look_up(client, CASE, "AAAA-AAAA")
    unknown = look_up(client, "（2026）川0104执999号", "AAAA-AAAA")
    never_issued = look_up(client, "（2026）川0104执1号", "AAAA-AAAA")

    def message(response):
        return re.search(r'role="alert"[^>]*>([^<]+)<', response.get_data(as_text=True)).group(1)
    assert wrong.status_code == unknown.status_code == never_issued.status_code == 404
    assert message(wrong) == message(unknown) == message(never_issued)
    assert client.get("/public/case").status_code == 302


def test_the_right_code_shows_stage_dates_and_served_documents_and_nothing_else(client, engine):
    code = engine.public_code(CASE)
    response = look_up(client, CASE, code)
    assert response.status_code == 302 and response.headers["Location"].endswith("/public/case")
    page = client.get("/public/case").get_data(as_text=True)
    assert CASE in page and "办理中" in page
    assert re.search(r'data-testid="public-notice">2026-03-02<', page)     # served on the day it was filed
    assert re.search(r'data-testid="public-filed">2026-03-02<', page)
    assert "执行通知书" in page and "尚未结案" in page
    for private in PRIVATE:
        assert private not in page, private
    download = client.get("/public/case/documents/0")
    assert download.status_code == 200 and download.data[:2] == b"PK"      # a .docx
    assert "attachment" in download.headers["Content-Disposition"]
    download.close()
    assert client.get("/public/case/documents/1").status_code == 404
    client.post("/public/leave", data={"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)})
    assert client.get("/public/case").status_code == 302
    assert client.get("/public/case/documents/0").status_code == 302


def test_the_public_view_of_the_engine(engine):
    view = engine.public.lookup(CASE, engine.public_code(CASE), "10.0.0.9")
    assert view.stage == "in_progress" and view.closed_on is None
    assert [d.name for d in view.documents] == ["执行通知书"]          # the bank's order is not a party's
    assert view.documents[0].path and view.notice_served_on == view.filed_on


def test_the_procedure_with_a_stage_speaks_for_the_case(engine):
    """A companion instance under the same number (the case clock) does not hide the main procedure's stage."""
    engine.start("served_notice", "（2026）川0104执10号", "川0104", {"stage": "control", "debtor_name": "甲"})
    engine.start("served_notice", "（2026）川0104执10号", "川0104", {"debtor_name": "甲"}, of_case=True)
    assert engine.public.case("（2026）川0104执10号").stage == "control"


def test_lookups_are_limited_per_address_in_the_store(engine, client, db_url, clock):
    code = engine.public_code(CASE)
    other_process = Engine(db_url, clock=clock)      # another web process on the same database
    try:
        for n in range(LOOKUPS_PER_MINUTE):
            (engine if n % 2 else other_process).public.lookup(CASE, "AAAA-AAAA", "10.0.0.2")
        with pytest.raises(TooManyLookups):
            other_process.public.lookup(CASE, code, "10.0.0.2")
    finally:
        other_process.close()
    refused = look_up(client, CASE, code, address="10.0.0.2")
    assert refused.status_code == 429 and "一分钟" in refused.get_data(as_text=True)
    assert look_up(client, CASE, code, address="10.0.0.3").status_code == 302
    clock.advance(timedelta(seconds=61))
    assert look_up(client, CASE, code, address="10.0.0.2").status_code == 302


def test_the_pages_speak_english_too(client, engine):
    page = client.get("/public").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/language/en", data={"csrf_token": csrf, "next": "/public"})
    english = client.get("/public").get_data(as_text=True)
    assert "Case progress" in english and "Verification code" in english
