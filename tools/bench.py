"""``zhixing bench``: the engine's performance figures, each measured by one small function.

Every run uses a fresh SQLite file in a temporary directory (never ``DATABASE_URL``), migrated once and copied
for each figure, and the real system clock. The diagrams are generated here:

* ``bench30``: a 31-task case (12 user tasks in four role lanes, 19 script tasks; 2 exclusive gateway blocks with
  conditions and a parallel block: 39 flow nodes); the first user task comes after a script, a gateway block and
  the parallel block (9 elements run at start);
* ``bench_loop``: review (user task) → count (script) → gateway back to review, so an instance can pile up
  history;
* ``bench_timer``: start → a timer at the date given in ``fire_at`` (the start data) → a user task.

``run_all(quick, echo)`` prints a table (figure, value, target, pass/fail) and returns the figures as a dict.
See ``docs/benchmarks.md`` for what each number means.
"""
from __future__ import annotations

import gc
import json
import math
import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.util.task import TaskState

from engine.api import Engine
from engine.court.roles import ROLES
from engine.kernel import runtime
from engine.kernel.audit import GENESIS, event_row
from engine.kernel.serialization import full_serializer, load_state
from engine.store.tables import definitions, events, instances, jobs
from tools import bench_scale
from tools.bench_scale import fresh_database

COURT = "川0104"
USER = "bench"
FIRE_IN_S = 1.0          # the timer instance's timer is due this long after it starts
CASE = {"applicant": "甲公司", "debtor": {"name": "乙公司", "address": "成都市武侯区" * 10},
        "amount": 250000, "documents": [{"id": i, "title": f"文书 {i}", "note": "备注" * 20} for i in range(10)]}

# figure -> (comparison, target, unit); a figure with no target is informational
TARGETS: dict[str, tuple[str, float, str]] = {
    "start_per_s": (">=", 200, "instances/s"),
    "rest_start_ratio": (">=", 0.60, ""),       # POST /api/v1/cases through zhixing serve / start_per_s
    "complete_p50_ms_10": ("<=", 8, "ms"),
    "complete_p99_ms_10": ("<=", 25, "ms"),
    "complete_p50_ms_300": ("<=", 15, "ms"),
    "stored_bytes_ratio": ("<=", 0.30, ""),
    "timer_latency_s": ("<=", 1.0, "s"),
    "overhead_ratio": ("<=", 1.0, ""),
    **bench_scale.TARGETS,
    "load_errors": ("<=", 0, "requests"),
    "load_p95_ms": ("<=", 200, "ms"),
}


@dataclass(frozen=True)
class Sizes:
    """How much work each figure does (``quick`` is for CI and smoke tests: under a minute in all)."""

    start_batches: int
    start_batch: int
    instances_10: int        # instances, each completed once at history 10 (p50/p99 samples)
    instances_300: int       # instances driven to history 300
    samples_300: int         # completions measured on each of them (history 300, 301, ...)
    instances_overhead: int  # instances at history 10, each completed once by the engine and once by Spiff alone
    spiff_rounds_long: int   # SpiffWorkflow-alone steps at history 100 and 300 (informational)
    timer_waiting: int
    timer_rounds: int


FULL = Sizes(start_batches=9, start_batch=100, instances_10=300, instances_300=3, samples_300=10,
             instances_overhead=150, spiff_rounds_long=15, timer_waiting=100_000, timer_rounds=5)
QUICK = Sizes(start_batches=3, start_batch=40, instances_10=40, instances_300=1, samples_300=5,
              instances_overhead=30, spiff_rounds_long=5, timer_waiting=10_000, timer_rounds=2)


# -- diagrams -------------------------------------------------------------------------------------------------
_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
         '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
         'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
         'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="Definitions_{pid}" '
         'targetNamespace="http://bpmn.io/schema/bpmn">\n')


def _document(pid: str, name: str, nodes: list[str], flows: list[tuple], lanes: dict[str, list[str]]) -> bytes:
    lane_xml = "".join(f'<bpmn:lane id="lane_{i}" name="{role}">'
                       + "".join(f"<bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>" for n in refs) + "</bpmn:lane>\n"
                       for i, (role, refs) in enumerate(lanes.items()))
    flow_xml = []
    for source, target, *cond in flows:
        fid = f"f_{source}_{target}"
        if cond:
            flow_xml.append(f'<bpmn:sequenceFlow id="{fid}" sourceRef="{source}" targetRef="{target}">'
                            f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{cond[0]}'
                            f"</bpmn:conditionExpression></bpmn:sequenceFlow>")
        else:
            flow_xml.append(f'<bpmn:sequenceFlow id="{fid}" sourceRef="{source}" targetRef="{target}"/>')
    return (_HEAD.format(pid=pid) + f'<bpmn:process id="{pid}" name="{name}" isExecutable="true">\n'
            f'<bpmn:laneSet id="lanes_{pid}">\n{lane_xml}</bpmn:laneSet>\n' + "\n".join(nodes) + "\n"
            + "\n".join(flow_xml) + "\n</bpmn:process>\n</bpmn:definitions>\n").encode()


def _ids(nodes: list[str]) -> list[str]:
    return [n.split('id="', 1)[1].split('"', 1)[0] for n in nodes]


def _script(sid: str, text: str) -> str:
    return f'<bpmn:scriptTask id="{sid}" name="{sid}"><bpmn:script>{text}</bpmn:script></bpmn:scriptTask>'


def _user(uid: str, name: str) -> str:
    return (f'<bpmn:userTask id="{uid}" name="{name}"><bpmn:extensionElements><spiffworkflow:properties>'
            '<spiffworkflow:property name="formJsonSchemaFilename" value="bench_form.schema.json"/>'
            '</spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>')


# the fields the bench's officers fill in (a completion may carry only the fields its form declares)
BENCH_FORM = {"type": "object", "properties": {"comment": {"type": "string"}, "approved": {"type": "boolean"},
                                               **{f"decision_{i}": {"type": "string"} for i in range(12)}}}


def bench30_bpmn() -> bytes:
    """start → init → gateway block → parallel block → 12 × (user task → script), a gateway block after u6."""
    nodes = ['<bpmn:startEvent id="start"/>', _script("init", 'stage = "filing"\nfee = amount * 0.01')]
    flows: list[tuple] = [("start", "init")]
    roles = ["filing_clerk", "command_centre", "implementation_officer", "judge_assistant"]
    lanes: dict[str, list[str]] = {r: [] for r in roles}

    def gateway_block(g: str, prev: str) -> str:
        nodes.extend([f'<bpmn:exclusiveGateway id="{g}" default="f_{g}_{g}_b"/>',
                      f'<bpmn:exclusiveGateway id="{g}_m"/>', _script(f"{g}_a", 'branch = "big"'),
                      _script(f"{g}_b", 'branch = "small"')])
        flows.extend([(prev, g), (g, f"{g}_a", "amount &gt;= 100000"), (g, f"{g}_b"), (f"{g}_a", f"{g}_m"),
                      (f"{g}_b", f"{g}_m")])
        return f"{g}_m"

    prev = gateway_block("g0", "init")
    nodes.extend(['<bpmn:parallelGateway id="par"/>', '<bpmn:parallelGateway id="par_j"/>',
                  _script("pa", "checked_assets = True"), _script("pb", "checked_parties = True")])
    flows.extend([(prev, "par"), ("par", "pa"), ("par", "pb"), ("pa", "par_j"), ("pb", "par_j")])
    prev = "par_j"
    for i in range(1, 13):
        nodes.extend([_user(f"u{i}", f"步骤 {i}"), _script(f"s{i}", f"step_{i} = {i} * 2\nstage = 'step {i}'")])
        lanes[roles[i % len(roles)]].append(f"u{i}")
        flows.extend([(prev, f"u{i}"), (f"u{i}", f"s{i}")])
        prev = f"s{i}"
        if i == 6:
            prev = gateway_block("g6", prev)
    nodes.append('<bpmn:endEvent id="end"/>')
    flows.append((prev, "end"))
    placed = {n for refs in lanes.values() for n in refs}
    lanes["command_centre"].extend(n for n in _ids(nodes) if n not in placed)
    return _document("bench30", "Benchmark 30-task case", nodes, flows, lanes)


def loop_bpmn() -> bytes:
    """start → review (user) → count (script) → again (gateway) → back to review while ``n < limit``.

    Three tasks per visit: SpiffWorkflow 3.2.0 iterates the task tree only 1000 levels deep, so a loop of k
    tasks per visit silently ends its instance after about 1000/k visits (see docs/benchmarks.md).
    """
    nodes = ['<bpmn:startEvent id="start"/>', _user("review", "审查"), _script("count", "n = n + 1"),
             '<bpmn:exclusiveGateway id="again" default="f_again_end"/>', '<bpmn:endEvent id="end"/>']
    flows = [("start", "review"), ("review", "count"), ("count", "again"), ("again", "review", "n &lt; limit"),
             ("again", "end")]
    lanes = {"review_judge": ["review"], "command_centre": ["start", "count", "again", "end"]}
    return _document("bench_loop", "Benchmark loop", nodes, flows, lanes)


def timer_bpmn() -> bytes:
    nodes = ['<bpmn:startEvent id="start"/>',
             '<bpmn:intermediateCatchEvent id="wait" name="fire_at"><bpmn:timerEventDefinition>'
             '<bpmn:timeDate>fire_at</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>',
             _user("after", "到期后"), '<bpmn:endEvent id="end"/>']
    flows = [("start", "wait"), ("wait", "after"), ("after", "end")]
    lanes = {"clerk": ["after"], "command_centre": ["start", "wait", "end"]}
    return _document("bench_timer", "Benchmark timer", nodes, flows, lanes)


def diagrams() -> dict[str, bytes]:
    return {"bench30.bpmn": bench30_bpmn(), "bench_loop.bpmn": loop_bpmn(), "bench_timer.bpmn": timer_bpmn(),
            "bench_form.schema.json": json.dumps(BENCH_FORM).encode()}


# -- the bench database ------------------------------------------------------------------------------------------
class Bench:
    """A temporary directory with one migrated, deployed template database; ``engine()`` gives a fresh copy
    (with ``server``, a PostgreSQL URL: databases on that server, copied with ``CREATE DATABASE … TEMPLATE``)."""

    def __init__(self, server: str | None = None) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="zhixing-bench-")
        self.root = Path(self._dir.name)
        self.server = server
        self.template = self.root / "template.db"
        self.fixtures: dict[str, str] = {}     # SpiffWorkflow JSON of loop instances, by history length
        self._copies = 0
        eng = Engine(fresh_database(server, "zhixing_bench_template") if server else f"sqlite:///{self.template}")
        try:
            eng.init_schema()
            eng.add_user(USER, "基准 测试", [(COURT, role) for role in ROLES])
            eng.deploy(diagrams(), actor="bench")
        finally:
            eng.close()
        for suffix in ("-wal", "-shm"):
            Path(f"{self.template}{suffix}").unlink(missing_ok=True)

    def engine(self) -> Engine:
        self._copies += 1
        if self.server:
            url = fresh_database(self.server, f"zhixing_bench_{self._copies}", create=False)
            admin = sa.create_engine(self.server, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f"CREATE DATABASE zhixing_bench_{self._copies} TEMPLATE zhixing_bench_template"))
            admin.dispose()
            return Engine(url)
        path = self.root / f"bench{self._copies}.db"
        shutil.copy(self.template, path)
        return Engine(f"sqlite:///{path}")

    def close(self) -> None:
        for name in (f"zhixing_bench_{n}" for n in range(1, self._copies + 1)) if self.server else ():
            fresh_database(self.server, name, create=False)
        self._dir.cleanup()


def _case_no(i: int) -> str:
    return f"（2026）川0104执{i}号"


def _open_task(engine, instance_id: int):
    tasks = engine.tasks(instance_id=instance_id)
    if len(tasks) != 1:
        raise RuntimeError(f"instance {instance_id} should have one open task, has {len(tasks)}: "
                           f"{engine.instance(instance_id)}")
    return tasks[0]


def _complete_times(engine, instance_id: int, n: int) -> list[float]:
    """Complete the open user task of a loop instance ``n`` times; return each ``complete_task`` wall time (s)."""
    times = []
    for i in range(n):
        task = _open_task(engine, instance_id)
        t0 = time.perf_counter()
        engine.complete_task(task.task_id, USER, {"comment": f"第 {i} 次审查", "approved": i % 2 == 0})
        times.append(time.perf_counter() - t0)
    return times


def _start_loop(engine, i: int) -> int:
    return engine.start("bench_loop", _case_no(i), COURT, dict(CASE, n=0, limit=10 ** 6), actor=USER).id


def _percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (with fewer than 100 samples, p99 is the largest)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


# -- the figures -------------------------------------------------------------------------------------------------
def measure_start(bench: Bench, sizes: Sizes) -> dict:
    """Instances of ``bench30`` started and run to their first user task, per second (median of batches)."""
    engine = bench.engine()
    try:
        engine.start("bench30", _case_no(0), COURT, CASE)          # warm caches (definition, expressions)
        rates, n = [], 1
        for _ in range(sizes.start_batches):
            t0 = time.perf_counter()
            for _ in range(sizes.start_batch):
                view = engine.start("bench30", _case_no(n), COURT, CASE, actor=USER)
                n += 1
            rates.append(sizes.start_batch / (time.perf_counter() - t0))
        if view.open_tasks != ("u1",):
            raise RuntimeError(f"bench30 should wait at its first user task u1, not at {view.open_tasks}")
        return {"start_per_s": statistics.median(rates)}
    finally:
        engine.close()


def _keep_fixture(bench: Bench, engine, instance_id: int, history: int) -> None:
    """Keep SpiffWorkflow's own JSON of a loop instance at this history, for ``measure_overhead``."""
    if f"loop_{history}" not in bench.fixtures:
        _state, workflow = _state_and_workflow(engine, instance_id)
        bench.fixtures[f"loop_{history}"] = full_serializer().serialize_json(workflow)


def measure_complete_10(bench: Bench, sizes: Sizes) -> dict:
    """``complete_task`` on loop instances with exactly 10 completed user tasks (one sample per instance)."""
    engine = bench.engine()
    try:
        ids = [_start_loop(engine, i) for i in range(sizes.instances_10)]
        for instance_id in ids:
            _complete_times(engine, instance_id, 10)
        samples = [_complete_times(engine, instance_id, 1)[0] for instance_id in ids]
        return {"complete_p50_ms_10": statistics.median(samples) * 1000,
                "complete_p99_ms_10": _percentile(samples, 99) * 1000}
    finally:
        engine.close()


def measure_complete_300(bench: Bench, sizes: Sizes) -> dict:
    """``complete_task`` on loop instances with 300 completed user tasks (then 301, … for further samples);
    on the way, the same at 100 completed user tasks (about 300 finished SpiffWorkflow tasks in the tree)."""
    engine = bench.engine()
    try:
        at_100, at_300 = [], []
        for i in range(sizes.instances_300):
            instance_id = _start_loop(engine, i)
            _complete_times(engine, instance_id, 100)
            _keep_fixture(bench, engine, instance_id, 100)
            at_100 += _complete_times(engine, instance_id, sizes.samples_300)
            _complete_times(engine, instance_id, 300 - 100 - sizes.samples_300)
            _keep_fixture(bench, engine, instance_id, 300)
            at_300 += _complete_times(engine, instance_id, sizes.samples_300)
        return {"complete_p50_ms_300": statistics.median(at_300) * 1000,
                "complete_p99_ms_300": _percentile(at_300, 99) * 1000,
                "complete_p50_ms_100": statistics.median(at_100) * 1000}
    finally:
        engine.close()


def _state_and_workflow(engine, instance_id: int):
    with engine.db.connect() as conn:
        row = conn.execute(sa.select(instances.c.state, definitions.c.spec_json)
                           .join(definitions, definitions.c.id == instances.c.definition_id)
                           .where(instances.c.id == instance_id)).one()
    return row.state, load_state(row.state, row.spec_json, runtime.ScriptEngine())


def measure_stored_bytes(bench: Bench, sizes: Sizes) -> dict:
    """Our ``instances.state`` bytes / SpiffWorkflow's own ``serialize_json`` of the same instance.

    Measured on ``bench30`` after 10 of its 12 user tasks were completed (the loop diagram is given as well).
    """
    engine = bench.engine()
    try:
        out = {}
        view = engine.start("bench30", _case_no(1), COURT, CASE, actor=USER)
        for i in range(10):
            task = _open_task(engine, view.id)
            engine.complete_task(task.task_id, USER, {f"decision_{i}": "同意", "comment": f"第 {i} 步"})
        state, workflow = _state_and_workflow(engine, view.id)
        full = full_serializer().serialize_json(workflow)
        out.update(stored_bytes=float(len(state)), spiff_json_bytes=float(len(full)),
                   stored_bytes_ratio=len(state) / len(full))
        loop_id = _start_loop(engine, 2)
        _complete_times(engine, loop_id, 10)
        state, workflow = _state_and_workflow(engine, loop_id)
        out["stored_bytes_ratio_loop"] = len(state) / len(full_serializer().serialize_json(workflow))
        return out
    finally:
        engine.close()


def _spiff_step(serializer, script_engine, stored: str, i: int) -> str:
    """One user task completed by SpiffWorkflow alone, persisted to a string with its default serializer."""
    wf = serializer.deserialize_json(stored)
    wf.script_engine = script_engine
    task = wf.get_next_task(state=TaskState.READY, manual=True)
    task.data.update({"comment": f"第 {i} 次审查", "approved": i % 2 == 0})
    task.run()
    wf.refresh_timers()
    wf.do_engine_steps()
    return serializer.serialize_json(wf)


def measure_overhead(bench: Bench, sizes: Sizes) -> dict:
    """The engine's ``complete_task`` at history 10 / SpiffWorkflow alone doing the same step with its own
    persistence: ``deserialize_json`` + ``task.run()`` + ``do_engine_steps`` + ``serialize_json``
    (``full_serializer()``, SpiffWorkflow's default ``PythonScriptEngine``, a plain in-memory string).

    The two are sampled alternately (engine on one instance, then Spiff alone on the same state) so that a
    slow spell of the machine hits both. SpiffWorkflow alone is also timed at history 100 and 300 (from the
    states ``measure_complete_300`` kept), for the ``spiff_alone_*`` and ``overhead_ratio_300`` figures.
    """
    serializer, script_engine = full_serializer(), PythonScriptEngine()
    engine = bench.engine()
    try:
        ids = [_start_loop(engine, i) for i in range(sizes.instances_overhead)]
        ours, alone = [], []
        _complete_times(engine, ids[-1], 10)                              # warm both paths once
        _spiff_step(serializer, script_engine,
                    serializer.serialize_json(_state_and_workflow(engine, ids[-1])[1]), 0)
        for instance_id in ids[:-1]:
            _complete_times(engine, instance_id, 10)
            text = full_serializer().serialize_json(_state_and_workflow(engine, instance_id)[1])
            ours += _complete_times(engine, instance_id, 1)
            t0 = time.perf_counter()
            _spiff_step(serializer, script_engine, text, 1)
            alone.append(time.perf_counter() - t0)
    finally:
        engine.close()
    out = {"overhead_ratio": statistics.median(ours) / statistics.median(alone),
           "overhead_engine_p50_ms_10": statistics.median(ours) * 1000,
           "spiff_alone_p50_ms_10": statistics.median(alone) * 1000}
    for history in (100, 300):
        text = bench.fixtures.get(f"loop_{history}")
        if text is None:
            continue
        _spiff_step(serializer, script_engine, text, 0)
        times = []
        for i in range(sizes.spiff_rounds_long):
            t0 = time.perf_counter()
            _spiff_step(serializer, script_engine, text, i)
            times.append(time.perf_counter() - t0)
        out[f"spiff_alone_p50_ms_{history}"] = statistics.median(times) * 1000
    return out


def _bulk_waiting_timers(engine, count: int) -> None:
    """``count`` timer jobs of other instances, due between 1 day and 1 year from now (rows in ``jobs`` only:
    ``AcquireJobs`` reads that table alone)."""
    now = datetime.now(UTC)
    rng = random.Random(7)
    rows = [dict(kind="timer", idempotency_key=f"tmr:bench:{i}", status="ready", instance_id=1_000_000 + i,
                 task_id=f"00000000-0000-4000-8000-{i:012d}", bpmn_id="wait", payload={},
                 due_at=now + timedelta(seconds=rng.uniform(86_400, 365 * 86_400)), provisional=False, attempts=0,
                 max_attempts=4, backoff_s=10, created_at=now, updated_at=now)
            for i in range(count)]
    with engine.db.begin() as conn:
        for start in range(0, count, 10_000):
            conn.execute(jobs.insert(), rows[start:start + 10_000])


def _timer_fired_at(engine, instance_id: int, due: datetime, timeout_s: float = 10.0) -> datetime:
    """Poll (every 5 ms, read-only) until the instance has left its timer; return when that was seen."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        view = engine.instance(instance_id)
        if view.open_tasks:
            return datetime.now(UTC)
        time.sleep(0.005)
    raise RuntimeError(f"the timer of instance {instance_id}, due {due.isoformat()}, did not fire in {timeout_s} s")


def measure_timer(bench: Bench, sizes: Sizes) -> dict:
    """A timer due ``FIRE_IN_S`` after its instance starts, among ``timer_waiting`` later ones, fired by the real
    scheduler (APScheduler background tick every ``TICK_SECONDS``, system clock): seconds from its due time to
    seeing the instance past it (polled every 5 ms)."""
    from engine.background.scheduler import TICK_SECONDS, start_background  # APScheduler: imported only when used
    engine = bench.engine()
    scheduler = None
    try:
        _bulk_waiting_timers(engine, sizes.timer_waiting)
        t0 = time.perf_counter()
        if engine.run_due_jobs() != 0:
            raise RuntimeError("a waiting timer job was due; they are all meant to be in the future")
        sweep = time.perf_counter() - t0
        scheduler = start_background(engine)
        latencies = []
        for i in range(sizes.timer_rounds):
            time.sleep(random.Random(i).uniform(0, TICK_SECONDS))      # start at varied phases of the tick
            fire_at = datetime.now(UTC) + timedelta(seconds=FIRE_IN_S)
            view = engine.start("bench_timer", _case_no(i), COURT, {"fire_at": fire_at.isoformat()}, actor=USER)
            with engine.db.connect() as conn:
                due = conn.execute(sa.select(jobs.c.due_at).where(jobs.c.instance_id == view.id,
                                                                  jobs.c.kind == "timer")).scalar_one()
            fired = _timer_fired_at(engine, view.id, due)
            latencies.append((fired - due).total_seconds())
        return {"timer_latency_s": statistics.median(latencies), "timer_latency_max_s": max(latencies),
                "timer_sweep_ms": sweep * 1000, "timer_waiting_jobs": float(sizes.timer_waiting)}
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=True)
        engine.close()


METRICS_CASES = 10_000
STATE_BYTES = 4096      # a stored case state of typical size (compressed), so a scan pays for passing it
CLOSING = [("performed", "voluntary"), ("performed", "coercive"), ("performed", "settlement"), ("zhongben", None),
           ("terminated", None), ("cancelled", None), ("refused", None), ("rejected", None)]
PENDING_STAGES = ("filing", "start", "control", "realisation", "payout", "closing", "suspended")


def bulk_cases(conn, definition_id: int, count: int, court: str = "川0104", seed: int = 11) -> None:
    """``count`` main cases of one court filed from mid-2025 to the end of 2026, about half closed (every
    closing mode) and the rest pending (every stage), each with a filing and a last-act event (rows only, with
    valid hash chains: metrics read ``instances.fields`` and ``events``; nothing here can be resumed)."""
    process_id = conn.execute(sa.select(definitions.c.process_id).where(definitions.c.id == definition_id)).scalar()
    rng = random.Random(seed)
    first = datetime(2025, 7, 1, 1, 0, tzinfo=UTC)
    rows, acts = [], []
    for i in range(count):
        filed = first + timedelta(days=rng.randrange(548))
        closed = filed + timedelta(days=rng.randrange(30, 400)) if rng.random() < 0.6 else None
        closed = closed if closed and closed.year < 2027 else None
        mode, performance = rng.choice(CLOSING) if closed else (None, None)
        amount = rng.choice((5_000, 20_000, 80_000, 300_000, 2_000_000))
        debtor = i % 997
        fields = {"applicant_name": f"申请人{i}", "debtor_name": f"被执行人{debtor}", "debtor_id": f"D{debtor}",
                  "debtor_type": rng.choice(("person", "enterprise")), "amount": amount, "owner": f"judge{i % 40}",
                  "track": rng.choice(("fast", "standard")), "has_assets": rng.random() < 0.5,
                  "money_received": round(amount * rng.random(), 2) if performance else 0,
                  "closing_mode": mode, "performance": performance,
                  "closed_on": closed.date().isoformat() if closed else None,
                  "term_due_on": (filed + timedelta(days=183)).date().isoformat(),
                  "qualified_zhongben": rng.random() < 0.9 if mode == "zhongben" else None}
        stage = "closed" if closed else rng.choice(PENDING_STAGES)
        last_act = closed or filed + timedelta(days=rng.randrange(0, 500))
        rows.append(dict(definition_id=definition_id, process_id=process_id, court=court, status="running",
                         case_no=f"（{filed.year}）{court}执{i + 1}号", stage=stage, version=1,
                         state=rng.randbytes(STATE_BYTES), serializer_version="bulk", state_version=1,
                         fields=dict(fields, stage=stage), last_seq=2, last_hash=GENESIS, started_at=filed,
                         updated_at=last_act))
        acts.append((filed, max(filed, last_act)))
    ids = conn.execute(instances.insert().returning(instances.c.id, sort_by_parameter_order=True), rows).scalars().all()
    log = []
    for instance_id, row, (filed, last_act) in zip(ids, rows, acts):
        started = event_row(instance_id, row["case_no"], 1, GENESIS, filed, "lian", "instance_started")
        log += [started, event_row(instance_id, row["case_no"], 2, started["hash"], last_act, row["fields"]["owner"],
                                   "task_completed")]
    conn.execute(events.insert(), log)
    conn.execute(instances.update().where(instances.c.id == sa.bindparam("b_id"))
                 .values(last_hash=sa.bindparam("b_hash")),
                 [{"b_id": e["instance_id"], "b_hash": e["hash"]} for e in log[1::2]])


def measure_metrics(bench: Bench, sizes: Sizes) -> dict:
    """``Engine.metrics`` for one court-year over ``METRICS_CASES`` bulk-loaded cases (median of 5 runs)."""
    engine = bench.engine()
    try:
        with engine.db.begin() as conn:
            definition = conn.execute(sa.select(definitions.c.id, definitions.c.process_id)).first()
            bulk_cases(conn, definition.id, METRICS_CASES, court="川0104")
        times = []
        for _ in range(6):
            t0 = time.perf_counter()
            engine.metrics("川0104", date(2026, 1, 1), date(2026, 12, 31), process_id=definition.process_id)
            times.append(time.perf_counter() - t0)
        return {"metrics_ms_10k": statistics.median(times[1:]) * 1000}
    finally:
        engine.close()


# -- the table -------------------------------------------------------------------------------------------------
MEASURES: list[Callable[[Bench, Sizes], dict]] = [measure_start, measure_complete_10, measure_complete_300,
                                                  measure_stored_bytes, measure_overhead, measure_timer,
                                                  measure_metrics]


def passes(name: str, value: float) -> bool | None:
    if name not in TARGETS:
        return None
    op, target, _unit = TARGETS[name]
    return value >= target if op == ">=" else value <= target


def table(figures: dict) -> list[str]:
    lines = [f"{'figure':<26} {'value':>12}  {'target':<18} result", "-" * 66]
    for name, value in figures.items():
        ok = passes(name, value)
        target = f"{TARGETS[name][0]} {TARGETS[name][1]:g} {TARGETS[name][2]}".rstrip() if name in TARGETS else ""
        shown = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
        lines.append(f"{name:<26} {shown:>12}  {target:<18} {'' if ok is None else 'pass' if ok else 'FAIL'}")
    return lines


def run_all(quick: bool = False, echo: Callable[[str], object] = print, database: str | None = None,
            instances: int | None = None, duration: float | None = None,
            load: Callable[..., dict] | None = None, rest: Callable[..., dict] | None = None) -> dict:
    """Measure every figure on fresh temporary SQLite files (``database``: fresh databases on that PostgreSQL
    server); print the table through ``echo``; return the figures (all numbers; the targets are in ``TARGETS``).

    The figures at scale run at ``instances`` (default 2,000 quick; 40,000 full, enough for 10,000 re-queries per
    worker count; ``python -m tools.bench_scale`` runs several sizes). ``load``, the web's load test, is passed in
    by the command line (the engine never imports the web) and runs only on PostgreSQL, for ``duration`` s
    (default 20 quick, 300 full). ``rest`` (``tools.bench_rest.measure_rest_start``) files the start figure's cases
    through a real server on a fresh copy: ``rest_start_per_s`` and its ratio to ``start_per_s``."""
    sizes = QUICK if quick else FULL
    started = time.perf_counter()
    where = f"PostgreSQL at {database.split('@')[-1]}" if database else "SQLite in a temporary directory"
    echo(f"zhixing bench ({'quick' if quick else 'full'}): {where}, system clock; "
         f"load average {os.getloadavg()[0]:.2f}")
    bench = Bench(database)
    # the sweep's asset searches and notices: the sandbox of this run (it remembers orders across runs)
    os.environ["ZHIXING_SANDBOX_DIR"] = str(bench.root / "sandbox")
    os.environ["ZHIXING_DOCUMENT_DIR"] = str(bench.root / "documents")
    figures: dict[str, float] = {}
    try:
        for measure in MEASURES:
            t0 = time.perf_counter()
            gc.collect()
            figures.update(measure(bench, sizes))
            echo(f"  {measure.__name__:<22} {time.perf_counter() - t0:6.1f} s")
            if measure is measure_start and rest:
                t0 = time.perf_counter()
                rest_engine = bench.engine()
                rest_url = rest_engine.url
                rest_engine.close()
                figures.update(rest(rest_url, sizes.start_batches, sizes.start_batch, echo=echo))
                figures["rest_start_ratio"] = figures["rest_start_per_s"] / figures["start_per_s"]
                echo(f"  {'measure_rest_start':<22} {time.perf_counter() - t0:6.1f} s")
        t0 = time.perf_counter()
        scale_engine = bench.engine()
        try:
            figures.update(bench_scale.run_scale(scale_engine, instances or (2000 if quick else 40_000),
                                                 sweep=200 if quick else bench_scale.SWEEP, echo=echo))
        finally:
            scale_engine.close()
        echo(f"  {'run_scale':<22} {time.perf_counter() - t0:6.1f} s")
        if database and load:
            figures.update(load(database, duration=duration or (20 if quick else 300), echo=echo))
    finally:
        bench.close()
    if "spiff_alone_p50_ms_300" in figures:
        figures["overhead_ratio_300"] = figures["complete_p50_ms_300"] / figures["spiff_alone_p50_ms_300"]
    ordered = {k: float(figures[k]) for k in TARGETS if k in figures}
    ordered.update({k: float(v) for k, v in sorted(figures.items()) if k not in TARGETS})
    for line in table(ordered):
        echo(line)
    echo(f"({time.perf_counter() - started:.0f} s)")
    return ordered
