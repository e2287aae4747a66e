"""The execution log for process mining (执行日志导出): XES and OCEL 2.0 from the engine, the command line and the
supervisors' page, read back with pm4py and counted against the store. Real SQLite and PostgreSQL, virtual clock."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import types
import warnings
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from engine.store.tables import events, instances
from engine.workspaces import log_export
from web import create_app

COURT, OTHER = "J0104", "J0105"
PASSWORD = "pw-log"
ZHIXING = Path(sys.executable).with_name("zhixing")

# 立案审查 (the clerk) → 执行实施 (the officer, who claims it first) → end; a second procedure 执行异议
DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
<bpmn:process id="{pid}" name="{name}" isExecutable="true">
<bpmn:laneSet id="ls"><bpmn:lane id="l1" name="filing_clerk"><bpmn:flowNodeRef>check</bpmn:flowNodeRef></bpmn:lane>
<bpmn:lane id="l2" name="implementation_officer"><bpmn:flowNodeRef>act</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
<bpmn:startEvent id="start"/>
<bpmn:userTask id="check" name="立案审查"/>
<bpmn:userTask id="act" name="执行实施"/>
<bpmn:endEvent id="end"/>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="check"/>
<bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="act"/>
<bpmn:sequenceFlow id="f3" sourceRef="act" targetRef="end"/>
</bpmn:process>
</bpmn:definitions>
"""


def pm4py():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pm4py as module
    return module


def read_back(path: Path, fmt: str):
    """pm4py's reading of a file: the XES as its event table, the OCEL as its object-centric log."""
    module = pm4py()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")        # pm4py warns about optional accelerators
        if fmt == "xes":
            return module.read_xes(str(path), return_legacy_log_object=False)
        return module.read_ocel2_json(str(path))


def task(engine, instance_id, bpmn_id):
    [t] = [t for t in engine.tasks(instance_id=instance_id) if t.bpmn_id == bpmn_id]
    return t


@pytest.fixture
def world(engine, clock):
    """Cases of two procedures in a court over three weeks, and one in another court."""
    engine.deploy({"main.bpmn": DIAGRAM.format(pid="log_case", name="执行实施案件").encode(),
                   "objection.bpmn": DIAGRAM.format(pid="log_objection", name="执行异议").encode()})
    pw = generate_password_hash(PASSWORD)
    engine.add_user("boss", "监督 孙", [(COURT, "supervisor")], pw)
    engine.add_user("stranger", "外院 监督", [(OTHER, "supervisor")], pw)
    engine.add_user("clerk2", "立案 周", [(COURT, "filing_clerk"), (OTHER, "filing_clerk")], pw)
    engine.add_user("officer2", "执行 吴", [(COURT, "implementation_officer"), (OTHER, "implementation_officer")], pw)
    for week in range(3):
        for n in range(4):
            view = engine.start("log_case", f"（2026）{COURT}执{week * 10 + n + 1}号", COURT, {}, actor="clerk2")
            engine.complete_task(task(engine, view.id, "check").task_id, "clerk2", {})
            if n % 2 == 0:
                act = task(engine, view.id, "act")
                engine.claim_task(act.task_id, "officer2")
                engine.complete_task(act.task_id, "officer2", {})
        engine.start("log_objection", f"（2026）{COURT}执异{week + 1}号", COURT, {}, actor="clerk2")
        engine.start("log_case", f"（2026）{OTHER}执{week + 1}号", OTHER, {}, actor="clerk2")
        clock.advance(timedelta(days=7))
    return engine


def first_day(engine) -> date:
    from engine.legaltime.periods import COURT_TZ
    with engine.db.connect() as conn:
        return conn.execute(sa.select(sa.func.min(events.c.at))).scalar().astimezone(COURT_TZ).date()


def store_counts(engine, court, process_id, start, end):
    """What the store holds for the export, counted independently of the exporter."""
    low, high = log_export._bounds(start, end)
    where = [instances.c.court == court, events.c.at >= low, events.c.at < high]
    if process_id:
        where.append(instances.c.process_id == process_id)
    with engine.db.connect() as conn:
        rows = conn.execute(sa.select(events.c.instance_id, instances.c.case_no)
                            .join(instances, instances.c.id == events.c.instance_id).where(*where)).all()
    return len(rows), len({r.instance_id for r in rows}), len({r.case_no for r in rows})


def write(export, path: Path) -> int:
    chunks = 0
    with path.open("w", encoding="utf-8") as out:
        for chunk in export.chunks:
            out.write(chunk)
            chunks += 1
    return chunks


@pytest.mark.parametrize("process_id", ["log_case", None])
def test_xes_reads_back_in_pm4py_with_the_stores_counts(world, tmp_path, process_id, monkeypatch):
    monkeypatch.setattr(log_export, "BATCH", 7)              # several chunks: written while read
    start = first_day(world) + timedelta(days=7)              # the second and third weeks only
    end = start + timedelta(days=13)
    export = world.export_log("xes", COURT, process_id, start, end)
    assert isinstance(export.chunks, types.GeneratorType)
    n_events, n_instances, _cases = store_counts(world, COURT, process_id, start, end)
    assert (export.events, export.instances) == (n_events, n_instances) and n_events > 20
    assert write(export, tmp_path / "log.xes") > 3
    df = read_back(tmp_path / "log.xes", "xes")
    assert len(df) == n_events
    assert df["case:concept:name"].nunique() == n_instances
    assert {"立案 / 启动流程", "立案审查", "执行实施"} <= set(df["concept:name"])          # the diagrams' names
    assert {"立案 周", "执行 吴"} <= set(df["org:resource"])                             # people by name
    claims = df[df["action"] == "task_claimed"]
    assert len(claims) and set(claims["lifecycle:transition"]) == {"assign"}
    assert not any(name.startswith(f"（2026）{OTHER}") for name in df["case:concept:name"])
    assert df["time:timestamp"].min().date() >= start - timedelta(days=1)           # UTC of a Beijing day


def test_ocel_reads_back_in_pm4py_with_cases_instances_tasks_and_people(world, tmp_path):
    start, end = first_day(world), first_day(world) + timedelta(days=30)
    export = world.export_log("ocel", COURT, None, start, end)
    write(export, tmp_path / "log.jsonocel")
    ocel = read_back(tmp_path / "log.jsonocel", "ocel")
    n_events, n_instances, n_cases = store_counts(world, COURT, None, start, end)
    assert len(ocel.events) == n_events == export.events
    kinds = ocel.objects["ocel:type"].value_counts().to_dict()
    assert kinds["案件"] == n_cases and kinds["流程实例"] == n_instances == 15
    assert kinds["人员"] == 3                             # clerk2, officer2 and the system
    with world.db.connect() as conn:
        task_ids = conn.execute(sa.select(sa.func.count(sa.distinct(events.c.task_id))).select_from(events).join(
            instances, instances.c.id == events.c.instance_id).where(instances.c.court == COURT,
                                                                     events.c.task_id.is_not(None))).scalar()
    assert kinds["任务"] == task_ids
    assert {"立案审查", "执行实施"} <= set(ocel.events["ocel:activity"])
    related = ocel.relations
    assert set(related["ocel:qualifier"]) == {"流程实例", "案件", "任务", "办理人"}
    assert (related["ocel:qualifier"] == "流程实例").sum() == n_events


def test_an_unknown_procedure_or_a_reversed_period_is_refused_before_any_byte(world):
    from engine.errors import InvalidInput
    with pytest.raises(InvalidInput, match="no procedure 'nothing'"):
        world.export_log("xes", COURT, "nothing", date(2026, 1, 1), date(2026, 12, 31))
    with pytest.raises(InvalidInput, match="comes before"):
        world.export_log("ocel", COURT, None, date(2026, 2, 1), date(2026, 1, 1))
    with pytest.raises(InvalidInput, match="format"):
        world.export_log("csv", COURT, None, date(2026, 1, 1), date(2026, 2, 1))


def test_the_command_line_writes_the_file(world, db_url, tmp_path):
    if not db_url.startswith("sqlite"):
        pytest.skip("one store is enough for the command line")
    start, end = first_day(world), first_day(world) + timedelta(days=30)
    out = tmp_path / "cli.xes"
    env = dict(os.environ, DATABASE_URL=db_url)
    done = subprocess.run([str(ZHIXING), "export-log", "--format", "xes", "--court", COURT, "--procedure",
                           "log_case", "--from", start.isoformat(), "--to", end.isoformat(), "-o", str(out)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    n_events, n_instances, _ = store_counts(world, COURT, "log_case", start, end)
    assert f"{n_instances} procedure instance(s), {n_events} event(s)" in done.stderr
    df = read_back(out, "xes")
    assert (len(df), df["case:concept:name"].nunique()) == (n_events, n_instances)
    bad = subprocess.run([str(ZHIXING), "export-log", "--format", "ocel", "--court", COURT, "--procedure", "nothing",
                          "--from", start.isoformat(), "--to", end.isoformat()], env=env, capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 1 and bad.stderr.strip() == "error: no procedure 'nothing' is deployed"


def login(engine, username):
    app = create_app({"ENGINE": engine, "TESTING": True, "SECRET_KEY": "test"})
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"username": username, "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    return client


def test_the_supervisors_download_it_for_their_courts_only(world, tmp_path):
    start, end = first_day(world), first_day(world) + timedelta(days=30)
    boss = login(world, "boss")
    dashboard = boss.get("/supervise/").get_data(as_text=True)
    assert 'data-testid="log-export"' in dashboard and 'action="/supervise/log"' in dashboard
    response = boss.get("/supervise/log", query_string={"court": COURT, "process": "log_case", "format": "ocel",
                                                         "from": start.isoformat(), "to": end.isoformat()})
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    (tmp_path / "web.jsonocel").write_bytes(response.get_data())
    n_events, n_instances, _ = store_counts(world, COURT, "log_case", start, end)
    ocel = read_back(tmp_path / "web.jsonocel", "ocel")
    assert len(ocel.events) == n_events and (ocel.objects["ocel:type"] == "流程实例").sum() == n_instances
    # another court's log does not exist for this supervisor; bad input is a 400 with a message, not a 500
    assert boss.get("/supervise/log", query_string={"court": OTHER}).status_code == 404
    bad = boss.get("/supervise/log", query_string={"court": COURT, "from": "2026-13-01"})
    assert bad.status_code == 400 and "2026-05-04" in bad.get_data(as_text=True)
    assert boss.get("/supervise/log", query_string={"court": COURT, "process": "nothing"}).status_code == 400
    # officers without a supervisor role may not, and nobody logged out
    clerk = login(world, "clerk2")
    assert clerk.get("/supervise/log", query_string={"court": COURT}).status_code == 403
    anonymous = create_app({"ENGINE": world, "TESTING": True, "SECRET_KEY": "test"}).test_client()
    assert anonymous.get("/supervise/log", query_string={"court": COURT}).status_code in (302, 401)
