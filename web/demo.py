"""Demo data for ``make run``: users of every role in one basic court, and cases at several stages.

Idempotent: users are upserted, and a case number that already exists is left alone.
"""
from __future__ import annotations

from pathlib import Path

from werkzeug.security import generate_password_hash

DEMO_PASSWORD = "zhixing-demo"
COURT = "川0104"
USERS = [
    ("lian", "立案庭 王书记员", ["filing_clerk"]),
    ("zhihui", "指挥中心 刘", ["command_centre"]),
    ("chengban", "执行法官 李", ["implementation_officer", "judge_assistant"]),
    ("heyi", "合议庭 张法官", ["panel_member"]),
    ("yuanzhang", "院长 陈", ["president"]),
    ("shencha", "执行审查 赵法官", ["review_judge"]),
    ("jiandu", "执行局 监督 孙", ["supervisor"]),
    ("sheji", "流程设计 周", ["designer"]),
    ("admin", "系统管理员", ["admin"]),
]
CASES = [
    # case number, debtor, amount, how far to take it
    ("（2026）川0104执1号", "成都某贸易有限公司", 350000, "filed"),
    ("（2026）川0104执2号", "张某", 80000, "accepted"),
    ("（2026）川0104执3号", "李某", 120000, "notified"),
    ("（2026）川0104执4号", "四川某建设有限公司", 2400000, "paid"),
]


def load_demo(engine) -> list[str]:
    from engine.errors import NotFound
    out = []
    password_hash = generate_password_hash(DEMO_PASSWORD)
    for username, name, roles in USERS:
        engine.add_user(username, name, [(COURT, r) for r in roles], password_hash)
    out.append(f"{len(USERS)} demo users in court {COURT}, password '{DEMO_PASSWORD}'")
    try:
        engine.definitions()
        engine.deploy([Path(__file__).resolve().parents[1] / "bpmn"], actor="demo")
    except NotFound:
        pass
    for case_no, debtor, amount, stage in CASES:
        if engine.instances_of_case(case_no):
            out.append(f"{case_no}: exists")
            continue
        view = engine.start("enforcement_start", case_no, COURT, {"applicant": "申请执行人 某银行"}, actor="lian")
        if stage != "filed":
            _complete(engine, view.id, "check_filing", "lian",
                      {"conditions_met": True, "debtor": debtor, "amount": amount, "debtor_kind": "enterprise"})
        if stage in ("notified", "paid"):
            _complete(engine, view.id, "assign_owner", "zhihui", {"owner": "chengban", "track": "standard"})
            engine.run_until_idle()
        if stage == "paid":
            engine.correlate("voluntary_payment", case_no, {"amount": amount}, actor="finance")
        out.append(f"{case_no}: {stage}")
    return out


def _complete(engine, instance_id: int, bpmn_id: str, user: str, data: dict) -> None:
    [task] = [t for t in engine.tasks(instance_id=instance_id) if t.bpmn_id == bpmn_id]
    engine.complete_task(task.task_id, user, data)
