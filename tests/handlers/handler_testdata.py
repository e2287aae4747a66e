"""Shared data for the handler tests (not in conftest.py: see its ``pytest_plugin_registered``)."""
from __future__ import annotations

from datetime import UTC, datetime

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)        # Monday 2 March 2026, 09:00 in Beijing
CASE = "（2026）川0104执1号"
WANG = ("510104197803150014", "王建国")                       # deposit + flat + housing fund
RONGHUI = ("91510104MA6CRH8K49", "成都蓉辉商贸有限公司")        # equity + queued car + small deposit
CHEN = ("510107198511203317", "陈大明")                       # nothing, unreachable
ZHOU = ("510104201006010026", "周子涵")                       # a minor
