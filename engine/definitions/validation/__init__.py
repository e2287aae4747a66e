"""Deploy-time checks for a set of diagrams: one ``file:line: element-id: message`` line per problem.

SpiffWorkflow stops at its first error, gives a line number only for schema errors, never parses nodes that no
start event reaches and leaves expressions to run time. So these checks walk the XML themselves (lxml
``sourceline``) and report every problem at once, each saying what to do. SpiffWorkflow's own parse runs last,
only on a set that passed, to catch what they do not know about.

- ``report``: the run's state, loading (XML, XSD, JSON) and SpiffWorkflow's parse;
- ``bpmn``: flows, reachability, service tasks, lanes, forms, call activities, gateways;
- ``texts``: expressions, scripts, timers, DMN entries.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path

import handlers
from engine.definitions.validation.bpmn import check_bpmn
from engine.definitions.validation.report import Problem, Report
from engine.definitions.validation.texts import check_dmn

__all__ = ["Problem", "validate_files", "validate_paths"]

SUFFIXES = (".bpmn", ".dmn", ".json")


def validate_files(files: Mapping[str, bytes], registry: handlers.registry.Registry | None = None,
                   known_processes: Iterable[str] = ()) -> list[Problem]:
    """Check one deployment set (name -> content of .bpmn, .dmn and form .json files).

    :param registry: the handler registry service tasks must use (default ``handlers.REGISTRY``).
    :param known_processes: ids of processes already deployed, which call activities may target.
    :returns: the problems, sorted; empty when the set can be deployed.
    """
    registry = handlers.REGISTRY if registry is None else registry
    known_processes = tuple(known_processes)
    key = _memo_key(files, registry, known_processes)
    with _MEMO_LOCK:
        known = _MEMO.get(key)
    if known is not None:
        return list(known)
    report = Report(files, registry, known_processes)
    report.load()
    for file, root in [*report.bpmn.items(), *report.dmn.items()]:
        try:
            (check_bpmn if file in report.bpmn else check_dmn)(report, file, root)
        except Exception as exc:  # a bug here must still reach the designer as one line, never a traceback
            report.problems.append(Problem(file, 0, "-", f"validator failed on this file ({type(exc).__name__}: "
                                                         f"{exc}); please report it to the zhixing team"))
    if not report.problems and report.bpmn:
        report.spiff_parse()
    problems = _capped(sorted(set(report.problems)))
    if key is not None:
        with _MEMO_LOCK:
            _MEMO[key] = tuple(problems)
            while len(_MEMO) > MEMO_SIZE:
                _MEMO.popitem(last=False)
    return problems


# Sets this process validated lately, with their problems. The checks read only the files, the handlers' names and
# parameters and the processes already deployed, so the same inputs give the same answer; a deploy validates its
# set twice (paths, then parse), and each demo file and scenario deploys the same bpmn/ again (~0.4 s each).
MEMO_SIZE = 16
_MEMO: OrderedDict = OrderedDict()
_MEMO_LOCK = threading.Lock()


def _memo_key(files: Mapping[str, bytes], registry, known_processes: Iterable[str]):
    try:
        operators = tuple((s.name, s.inputs, s.optional, s.system) for s in registry)
    except (TypeError, AttributeError):
        return None                      # a registry that cannot be listed: validate every time
    digest = hashlib.sha256()
    for name, content in sorted(files.items()):
        data = content if isinstance(content, bytes) else str(content).encode()
        digest.update(hashlib.sha256(name.encode()).digest() + hashlib.sha256(data).digest())
    return digest.hexdigest(), operators, tuple(sorted(known_processes))
MAX_PROBLEMS = 200       # listed per validation; a generated diagram with 300k errors made a 35.8 MB answer


def _capped(problems: list[Problem]) -> list[Problem]:
    if len(problems) <= MAX_PROBLEMS:
        return problems
    rest = len(problems) - MAX_PROBLEMS
    return problems[:MAX_PROBLEMS] + [Problem("-", 0, "-", f"… and {rest} more problem(s) not listed; fix these "
                                                           "first and validate again")]


def validate_paths(paths: Iterable[str | Path], registry: handlers.registry.Registry | None = None,
                   known_processes: Iterable[str] = ()) -> tuple[dict[str, bytes], list[Problem]]:
    """Read files and directories (recursively: .bpmn, .dmn, .json) into a deployment set and validate it.

    The set is keyed by base name, which is how diagrams name their forms; problems show the path as read.
    """
    files: dict[str, bytes] = {}
    shown: dict[str, str] = {}
    problems: list[Problem] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file()
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
        else:
            found = [path]
        for p in found:
            if p.name in shown:
                problems.append(Problem(str(p), 0, "-", f"another file is also named {p.name} ({shown[p.name]}); "
                                                        "file names must be unique in a deployment"))
                continue
            try:
                files[p.name] = p.read_bytes()
            except OSError as exc:
                problems.append(Problem(str(p), 0, "-", f"cannot read the file: {exc.strerror or exc}"))
                continue
            shown[p.name] = str(p)
    for problem in validate_files(files, registry, known_processes):
        problems.append(replace(problem, file=shown.get(problem.file, problem.file)))
    return files, sorted(problems)
