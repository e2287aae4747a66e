"""The bounded load test: officers working through tasks for 20 s against gunicorn (4 workers) and one
``zhixing worker`` on PostgreSQL, on loopback: no request may fail (timings are measured by ``make bench``)."""
from __future__ import annotations

import os

import pytest

from tools.bench_load import run_load

PG_URL = os.environ.get("ZHIXING_TEST_POSTGRES")


@pytest.mark.skipif(not PG_URL, reason="ZHIXING_TEST_POSTGRES is not set (make test starts a PostgreSQL server)")
def test_officers_work_through_tasks_without_errors():
    lines: list[str] = []
    figures = run_load(PG_URL, officers=10, duration=20, cases_each=20, think=0, echo=lines.append)   # saturated
    assert figures["load_errors"] == 0, "\n".join(lines)
    assert figures["load_completed"] > 0 and figures["load_requests"] > figures["load_completed"] * 3
