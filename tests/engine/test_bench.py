"""Smoke test of ``zhixing bench --quick``: every figure comes back as a positive number (no timing asserted)."""
from __future__ import annotations

import math

from tools import bench
from tools.bench_rest import measure_rest_start


def test_quick_bench_returns_every_figure():
    lines: list[str] = []
    figures = bench.run_all(quick=True, echo=lines.append, rest=measure_rest_start)   # as zhixing bench runs it
    on_sqlite = set(bench.TARGETS) - {"load_errors", "load_p95_ms"}     # the load test needs PostgreSQL
    assert on_sqlite <= set(figures)
    for name, value in figures.items():
        assert isinstance(value, float) and math.isfinite(value) and value > 0, (name, value)
    printed = "\n".join(lines)
    for name in on_sqlite:
        assert name in printed


def test_pass_fail_follows_the_target_direction():
    assert bench.passes("start_per_s", 250) and not bench.passes("start_per_s", 150)
    assert bench.passes("complete_p50_ms_10", 7.9) and not bench.passes("complete_p50_ms_10", 8.1)
    assert bench.passes("stored_bytes", 1234) is None
    [_header, _rule, row] = bench.table({"timer_latency_s": 1.5})
    assert row.split()[-1] == "FAIL"


def test_the_scale_bench_deploys_the_shipped_procedures_from_any_directory(tmp_path, monkeypatch):
    """``zhixing bench`` used to deploy ``bpmn/`` relative to the current directory: from elsewhere it failed."""
    from engine import Engine
    from engine.store.database import ROOT
    from tools import bench_scale
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)                        # no bpmn/ here
    monkeypatch.setenv("ZHIXING_SANDBOX_DIR", str(tmp_path / "sandbox"))
    monkeypatch.setenv("ZHIXING_DOCUMENT_DIR", str(tmp_path / "documents"))
    engine = Engine(f"sqlite:///{tmp_path / 'bench.db'}")
    try:
        engine.init_schema()
        templates = bench_scale.prepare(engine)
        deployed = {d.process_id for d in engine.definitions()}
    finally:
        engine.close()
    assert len(templates) == 2
    shipped = {p.stem for p in (ROOT / "bpmn").glob("*.bpmn")}
    assert shipped <= deployed
    assert list(elsewhere.iterdir()) == []               # nothing written into the current directory
