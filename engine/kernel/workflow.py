"""The engine's ``BpmnWorkflow``: the same workflow, with task look-ups that do not walk the whole history.

SpiffWorkflow keeps every finished task in the task tree and finds the open ones by walking that tree
depth-first, several times per engine step, so a case with a long history (a review revisited hundreds of times)
pays for all of it on every step. Open tasks (READY, WAITING, STARTED, ERROR) are found here by one flat pass
over the task table instead, in creation order; queries for finished or predicted tasks, or starting from a given
task, keep SpiffWorkflow's own walk.

The module also lifts SpiffWorkflow's depth-1000 iterator limit: past it, the open task of a long loop became
invisible and the case looked completed; and it keeps a non-interrupting message boundary event armed while its
activity runs (BPMN lets it occur any number of times; SpiffWorkflow 3.2 disarms it after the first message).
An engine step (running the case to its next wait) has a budget of steps and time: a diagram that loops without
waiting fails the command, which rolls back, instead of holding the database's write lock for minutes.
"""
from __future__ import annotations

import contextlib
import sys
import time
from contextvars import ContextVar

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.util.task import BpmnTaskFilter, BpmnTaskIterator
from SpiffWorkflow.util.task import TaskIterator, TaskState

_OPEN = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
_FILTER_KEYS = {"state", "manual", "spec_name", "spec_class", "lane", "catches_event", "updated_ts"}

TaskIterator.__init__.__defaults__ = (None, sys.maxsize, True, None)
BpmnTaskIterator.__init__.__defaults__ = (None, sys.maxsize, True, False, None)

_boundary_run_hook = BoundaryEvent._run_hook


def _rearm_after_message(self, my_task):
    """Run the boundary event, then, if it is a non-interrupting message event and its activity still runs, wait
    for the next message with a fresh sibling (the activity's join cancels it when the activity ends)."""
    result = _boundary_run_hook(self, my_task)
    if not self.cancel_activity and isinstance(self.event_definition, MessageEventDefinition):
        split = my_task.parent
        if any(not isinstance(t.task_spec, BoundaryEvent) and not t.has_state(TaskState.FINISHED_MASK)
               for t in split.children):
            again = split._add_child(self, TaskState.WAITING)
            self._predict(again, mask=TaskState.NOT_FINISHED_MASK)
            self._update(again)
    return result


BoundaryEvent._run_hook = _rearm_after_message


MAX_ENGINE_STEPS = 10_000     # tasks run (and waiting tasks updated) in one engine step, far above what a
                              # procedure runs between two waits
MAX_ENGINE_SECONDS = 2.0      # wall time of one engine step (real steps take milliseconds; SpiffWorkflow slows
                              # down as a loop's task tree grows, so this is usually what stops a loop)


class StepBudgetExceeded(RuntimeError):
    """An engine step ran past its budget: the diagram loops without waiting (a cycle of gateways and scripts,
    a timer that fires without pause). The command rolls back; nothing is saved."""


class _StepBudget:
    __slots__ = ("steps", "deadline")

    def __init__(self):
        self.steps, self.deadline = 0, time.monotonic() + MAX_ENGINE_SECONDS

    def tick(self, task=None) -> None:
        self.steps += 1
        if self.steps > MAX_ENGINE_STEPS or (self.steps % 64 == 0 and time.monotonic() > self.deadline):
            where = f" (at {task.task_spec.bpmn_id})" if task is not None and getattr(task, "task_spec", None) else ""
            raise StepBudgetExceeded(f"the procedure ran more than {MAX_ENGINE_STEPS} steps or {MAX_ENGINE_SECONDS} s "
                                     f"without waiting{where}: the diagram loops without a wait state, or a timer "
                                     "fires without pause")


_budget: ContextVar[_StepBudget | None] = ContextVar("zhixing_step_budget", default=None)


@contextlib.contextmanager
def step_budget():
    """One budget for everything inside (timers refreshed, then the engine steps), unless one is running."""
    if _budget.get() is not None:
        yield
        return
    token = _budget.set(_StepBudget())
    try:
        yield
    finally:
        _budget.reset(token)


class ZhixingWorkflow(BpmnWorkflow):

    def do_engine_steps(self, will_complete_task=None, did_complete_task=None):
        """SpiffWorkflow's loop, within a budget of steps and time (``StepBudgetExceeded``)."""
        with step_budget():
            budget = _budget.get()

            def tick(task):
                budget.tick(task)
                if will_complete_task is not None:
                    will_complete_task(task)
            super().do_engine_steps(tick, did_complete_task)

    def get_tasks(self, first_task=None, **kwargs):
        state = kwargs.get("state", TaskState.ANY_MASK)
        if first_task is not None or not set(kwargs) <= _FILTER_KEYS or state & ~_OPEN:
            return super().get_tasks(first_task, **kwargs)
        task_filter = BpmnTaskFilter(**kwargs)
        return [task for flow in self._live_flows() for task in list(flow.tasks.values())
                if task_filter.matches(task)]

    def get_next_task(self, first_task=None, **kwargs):
        state = kwargs.get("state", TaskState.ANY_MASK)
        if first_task is not None or not set(kwargs) <= _FILTER_KEYS or state & ~_OPEN:
            return super().get_next_task(first_task, **kwargs)
        found = self.get_tasks(**kwargs)
        return found[0] if found else None

    def update_waiting_tasks(self):
        """Same as SpiffWorkflow's, over the task table: a WAITING task that a previous update created is
        updated in the same pass, as the tree walk would."""
        seen = set()
        while True:
            waiting = [t for t in list(self.tasks.values()) if t.state == TaskState.WAITING and t.id not in seen]
            if not waiting:
                return
            budget = _budget.get()
            for task in waiting:
                seen.add(task.id)
                if budget is not None:
                    budget.tick(task)
                if task.state == TaskState.WAITING:
                    task.task_spec._update(task)

    def _live_flows(self):
        """This workflow and the subprocesses whose parent task is not finished (as SpiffWorkflow's walk does)."""
        yield self
        for task_id, subprocess in self.subprocesses.items():
            parent = self.get_task_from_id(task_id)
            if parent is None or not parent.state & TaskState.FINISHED_MASK:
                yield subprocess


def dispose(workflow) -> None:
    """Break a workflow's reference cycles (task <-> workflow, subprocess <-> parent) so that it is freed at once
    when dropped. Left to the cycle collector, the workflows a worker drops pile up in its older generations, and
    collecting them took about a fifth of a sweep's time. The workflow must not be used afterwards."""
    for flow in (workflow, *workflow.subprocesses.values()):
        vars(flow).clear()
