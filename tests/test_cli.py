"""The command line as a user runs it: exit codes and one line per problem, never a traceback."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]


def zhixing(*args, db: Path | None = None):
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{db}" if db else "sqlite:///:memory:")
    return subprocess.run([sys.executable, "-c", "from web.cli import main; main()", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_validate_good_and_bad(tmp_path):
    assert zhixing("validate", "bpmn").returncode == 0
    bad = tmp_path / "bad.bpmn"
    bad.write_text("<bpmn:definitions xmlns:bpmn='http://www.omg.org/spec/BPMN/20100524/MODEL'><oops></bpmn:definitions>")
    result = zhixing("validate", str(bad))
    assert result.returncode == 1
    assert result.stderr.startswith(f"{bad}:1: ") and "Traceback" not in result.stderr


def test_init_deploy_demo_and_audit_verify(tmp_path):
    db = tmp_path / "zx.db"
    assert zhixing("init", db=db).returncode == 0
    first = zhixing("deploy", db=db)
    assert "enforcement_case@1" in first.stdout and "deployed" in first.stdout
    assert "unchanged" in zhixing("deploy", db=db).stdout
    assert zhixing("demo", db=db).returncode == 0
    assert zhixing("audit", "verify", db=db).returncode == 0
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE events SET actor = 'intruder' WHERE seq = 1 AND instance_id = 2")
    engine.dispose()
    result = zhixing("audit", "verify", db=db)
    assert result.returncode == 1 and "instance 2" in result.stdout and "altered" in result.stdout


def test_database_errors_are_one_line(tmp_path):
    result = zhixing("incidents", db=tmp_path / "missing" / "nothing.db")
    assert "Traceback" not in result.stderr
