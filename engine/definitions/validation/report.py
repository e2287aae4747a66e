"""The state of one validation run: the parsed files, cross-file indexes and the problems found so far.

Also the two checks that lean on other tools: XML/XSD/JSON loading (lxml, the XSDs SpiffWorkflow ships,
``json``) and, last, SpiffWorkflow's own parse with its errors mapped back to lines.
"""
from __future__ import annotations

import copy
import json
import re
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS as DMN_SCHEMAS
from SpiffWorkflow.spiff.parser import VALIDATOR, SpiffBpmnParser  # importing it compiles the BPMN XSD once

from engine.kernel import expressions

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN, "spiffworkflow": SPIFF}
_PREFIXES = {BPMN: "bpmn", SPIFF: "spiffworkflow", "http://www.omg.org/spec/BPMN/20100524/DI": "bpmndi",
             "http://www.omg.org/spec/DD/20100524/DC": "dc", "http://www.omg.org/spec/DD/20100524/DI": "di"}
_PREFIXES.update(dict.fromkeys(DMN_SCHEMAS, "dmn"))
_XSD_LOCK = threading.Lock()   # an XMLSchema keeps one error log: validations must not interleave
MAX_ELEMENTS = 50_000          # per file: 15× the largest real diagram; a 300k-element file took 8.7 s to report


@dataclass(frozen=True, order=True)
class Problem:
    file: str        # file name as given
    line: int        # 0 if unknown
    element_id: str  # '-' if none
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.element_id}: {self.message}"


MAX_JSON_DEPTH = 64


def _too_deep(value, limit: int = MAX_JSON_DEPTH) -> bool:
    """True if a parsed JSON value nests deeper than ``limit`` (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def q(tag: str) -> str:
    return f"{{{BPMN}}}{tag}"


def local(el) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def owner_id(el) -> str:
    """The id a problem is reported under: the element's own, else the nearest ancestor's (not an operator name)."""
    while el is not None:
        if el.get("id") and etree.QName(el).namespace != SPIFF:
            return el.get("id")
        el = el.getparent()
    return "-"


class Report:
    def __init__(self, files: Mapping[str, bytes], registry, known_processes: Iterable[str]):
        self.files, self.registry, self.known = files, registry, set(known_processes)
        self.problems: list[Problem] = []
        self.bpmn: dict[str, etree._Element] = {}
        self.dmn: dict[str, etree._Element] = {}
        self.json: dict[str, object] = {}
        self.processes: dict[str, str] = {}                      # process id -> file
        self.decisions: dict[str, str] = {}                      # decision id -> file
        self.by_id: dict[str, list[tuple[str, etree._Element]]] = defaultdict(list)
        self.lanes: dict[str, dict[str, etree._Element]] = {}    # file -> flow node id -> lane element
        self.lane_overrides: dict[str, dict[str, tuple]] = {}    # file -> node id -> (own lane, subprocess)
        self.schemas_checked: set[str] = set()

    def add(self, file: str, el, message: str, element_id: str | None = None) -> None:
        """Report ``message`` at ``el``'s line, under ``element_id`` or the id that owns ``el``."""
        line = (el.sourceline or 0) if el is not None else 0
        self.problems.append(Problem(file, line, element_id or (owner_id(el) if el is not None else "-"), message))

    def expr(self, file: str, el, text: str | None, mode: str, what: str, element_id: str | None = None) -> bool:
        """Check diagram text in the safe expression language, all its problems on one line; True if fine."""
        if text is None or not text.strip():
            return True
        try:
            msgs = expressions.check(text.strip(), mode)
        except Exception as exc:  # the checker must not turn a bad diagram into a traceback
            msgs = [f"cannot be checked ({type(exc).__name__}: {exc})"]
        if msgs:
            self.add(file, el, f"{what}: {'; '.join(msgs)}", element_id)
        return not msgs

    # ------------------------------------------------------------------ loading
    def load(self) -> None:
        for name, data in sorted(self.files.items()):
            suffix = Path(name).suffix.lower()
            if suffix in (".bpmn", ".dmn"):
                self._load_xml(name, data, suffix)
            elif suffix == ".json":
                self._load_json(name, data)
            else:
                self.add(name, None, "unsupported file type; a deployment holds .bpmn, .dmn and .json (form) files")
        self._index()

    def _load_xml(self, name: str, data: bytes, suffix: str) -> None:
        if b"\0" in data[:1024] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):   # not UTF-16 either
            self.problems.append(Problem(name, 0, "-", "binary data, not XML; export the diagram as XML"))
            return
        try:
            root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
        except etree.XMLSyntaxError as exc:
            msg = re.sub(r", line \d+, column \d+$", "", exc.msg or "unreadable")
            self.problems.append(Problem(name, exc.lineno or 0, "-",
                                         f"malformed XML: {msg}; fix the XML or export the diagram again"))
            return
        docinfo = root.getroottree().docinfo
        if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
            # entities (external, parameter, nested) are how XML reads files and multiplies itself; SpiffWorkflow's
            # own parser would meet them again: no DTD at all, as no modeller writes one
            self.problems.append(Problem(name, 1, "-", "a DOCTYPE (DTD, entities) is not allowed in a diagram; "
                                                       "export the diagram again without it"))
            return
        count = sum(1 for _ in root.iter())
        if count > MAX_ELEMENTS:
            self.problems.append(Problem(name, 0, "-", f"{count} XML elements, more than the {MAX_ELEMENTS} a "
                                                       "diagram may have; split the process into called processes"))
            return
        namespace = etree.QName(root).namespace
        if suffix == ".bpmn":
            if root.tag != q("definitions"):
                self.add(name, root, f"not a BPMN 2.0 file (root element {etree.QName(root).localname} in "
                                     f"namespace {namespace}); export the diagram as BPMN 2.0 XML", "-")
                return
            self.bpmn[name] = root
            self._schema_errors(name, root, VALIDATOR, "BPMN")
        else:
            if etree.QName(root).localname != "definitions" or namespace not in DMN_SCHEMAS:
                self.add(name, root, f"not a DMN 1.1/1.2/1.3 file (namespace {namespace}); "
                                     "export the decision table as DMN 1.3 XML", "-")
                return
            self.dmn[name] = root
            self._schema_errors(name, root, _dmn_validator(namespace), "DMN")

    def _schema_errors(self, name: str, root, validator: BpmnValidator, kind: str) -> None:
        """Every XSD error, not only the last one that ``BpmnValidator.validate`` raises."""
        tree = copy.deepcopy(root)
        validator.preprocess(tree)   # bpmn-js writes correlation expressions the XSD does not know
        with _XSD_LOCK:
            try:
                errors = [] if validator.validator.validate(tree) else list(validator.validator.error_log)
            except etree.XMLSchemaValidateError as exc:     # libxml2 gave up on the tree: say so, on one line
                self.problems.append(Problem(name, 0, "-", f"{kind} schema: cannot be checked ({exc}); fix the XML"))
                return
        for err in errors:
            message = err.message
            for uri, prefix in _PREFIXES.items():
                message = message.replace(f"{{{uri}}}", f"{prefix}:")
            message = re.sub(r"\( ?([^()]*?) ?\)", _shorten_list, message)
            self.problems.append(Problem(name, err.line or 0, _element_at(tree, err.path, err.line),
                                         f"{kind} schema: {message.rstrip('.')}; fix the XML to match the schema"))

    def _load_json(self, name: str, data: bytes) -> None:
        try:
            value = json.loads(data)
            if _too_deep(value):
                raise RecursionError
            self.json[name] = value
        except RecursionError:                  # ~990 levels stop the parser, fewer what reads the form later
            self.problems.append(Problem(name, 0, "-", f"JSON nested deeper than {MAX_JSON_DEPTH} levels; no form "
                                                       "needs that: fix the file"))
        except json.JSONDecodeError as exc:
            self.problems.append(Problem(name, exc.lineno, "-", f"not valid JSON: {exc.msg} (column {exc.colno}); "
                                                               "fix the file"))
        except ValueError:  # undecodable bytes
            self.problems.append(Problem(name, 0, "-", "not UTF-8 JSON text; save the file as UTF-8 JSON"))

    def _index(self) -> None:
        for name, root in self.bpmn.items():
            for el in root.iter():
                if isinstance(el.tag, str) and el.get("id"):
                    self.by_id[el.get("id")].append((name, el))
            for proc in root.iter(q("process")):
                self.processes.setdefault(proc.get("id", ""), name)
            # innermost lane wins, as in SpiffWorkflow (document order visits parents first)
            self.lanes[name] = {ref.text.strip(): ref.getparent() for ref in root.iter(q("flowNodeRef")) if ref.text}
            self._subprocess_lanes(name, root)
        for name, root in self.dmn.items():
            decisions = [el for el in root if local(el) == "decision"]
            for extra in decisions[1:]:
                self.add(name, extra, "a second decision in one file; SpiffWorkflow reads only the first: "
                                      "move it to its own .dmn file")
            if decisions:
                self.decisions.setdefault(decisions[0].get("id", ""), name)
            else:
                self.add(name, root, "defines no decision; add a decision table or remove the file", "-")

    def _subprocess_lanes(self, name: str, root) -> None:
        """SpiffWorkflow gives every node inside a subprocess that is in a lane the subprocess's lane, whatever
        lane the node itself is in (outer subprocesses first, as its parser goes)."""
        lanes, overrides = self.lanes[name], self.lane_overrides.setdefault(name, {})
        for sub in root.iter(q("subProcess")):
            lane = lanes.get(sub.get("id"))
            if lane is None:
                continue
            for el in sub.iter():
                node_id = el.get("id") if el is not sub and isinstance(el.tag, str) else None
                if node_id:
                    own = lanes.get(node_id)
                    if own is not None and own.get("name") != lane.get("name"):
                        overrides.setdefault(node_id, (own, sub))
                    lanes[node_id] = lane

    # ------------------------------------------------------------------ SpiffWorkflow's parse
    def spiff_parse(self) -> None:
        """SpiffWorkflow's own parse of every process, its errors turned into problems with a line."""
        parser = SpiffBpmnParser(validator=None)
        for name, root in [*sorted(self.dmn.items()), *sorted(self.bpmn.items())]:
            try:
                (parser.add_dmn_xml if name in self.dmn else parser.add_bpmn_xml)(root, filename=name)
            except Exception as exc:
                return self._spiff_problem(exc, "-", name)
        done: set[str] = set()
        while todo := [pid for pid in parser.process_parsers if pid not in done]:
            for pid in todo:    # parsing a process registers its embedded subprocesses: loop until stable
                done.add(pid)
                try:
                    parser.get_spec(pid)
                except Exception as exc:
                    self._spiff_problem(exc, pid)

    def _spiff_problem(self, exc: Exception, pid: str, file: str = "") -> None:
        element_id = getattr(exc, "id", "") or pid
        file = getattr(exc, "file_name", "") or file
        hits = [h for h in self.by_id.get(element_id, []) if h[0] == file or not file] or self.by_id.get(element_id)
        file, line = (hits[0][0], hits[0][1].sourceline or 0) if hits else (file or "-", 0)
        if str(getattr(exc, "line_number", "")).isdigit():
            line = int(getattr(exc, "line_number"))  # noqa: B009  (not every exception has one)
        message = str(exc.args[0]) if exc.args else type(exc).__name__
        wrapped = re.match(r"\w+\((['\"])(.*?)\1", message)   # the parser wraps foreign errors as repr(exc)
        message = re.sub(r":? ?%r", "", wrapped.group(2) if wrapped else message)[:300]
        self.problems.append(Problem(file, line, element_id, f"SpiffWorkflow cannot parse this: {message}; "
                                                             "fix the element (see docs/diagrams.md)"))


def _shorten_list(match: re.Match) -> str:
    items = match.group(1).split(", ")
    return f"({', '.join(items[:6])}{', ...' if len(items) > 6 else ''})"


def _element_at(tree, path: str | None, line: int) -> str:
    """The id to report an XSD error under: the element at the error's path, else the first one on its line."""
    try:
        found = tree.xpath(path, namespaces={k: v for k, v in tree.nsmap.items() if k}) if path else []
    except etree.XPathError:
        found = []
    if not (found and isinstance(found[0], etree._Element)):
        found = [el for el in tree.iter() if el.sourceline == line][:1]
    return owner_id(found[0]) if found else "-"


@cache
def _dmn_validator(namespace: str) -> BpmnValidator:
    return BpmnValidator(DMN_SCHEMAS[namespace])   # compiling an XSD is slow: once per process and DMN version
