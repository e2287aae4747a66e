"""A layout (BPMN DI) for a diagram written without one, so a modeler or viewer can show it.

Diagrams written by hand (the test diagrams in ``tests/bpmn/``) have no ``bpmndi`` section and bpmn-js would show an
empty canvas. ``ensure_layout`` adds a plain one: nodes in columns by their distance from the start (longest path,
loops ignored), one band per lane (role) inside a pool, boundary events on their activity's lower edge, flows as
right-angled lines. Only the layout is added: the process itself is untouched (a pool, when there are lanes, is a
``collaboration`` naming the process, as in the other diagrams of ``bpmn/``). A diagram with a layout is returned
unchanged.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from lxml import etree

from engine.court.roles import role_for_lane

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
_NOT_NODES = {"sequenceFlow", "laneSet", "extensionElements", "documentation", "boundaryEvent", "dataObject",
              "dataObjectReference", "dataStoreReference", "textAnnotation", "association", "ioSpecification",
              "property"}
COLUMN, ROW, POOL_X, LANE_LABEL = 160, 120, 40, 30


def _size(kind: str) -> tuple[int, int]:
    if kind.endswith("Event"):
        return 36, 36
    if kind.endswith("Gateway"):
        return 50, 50
    return 110, 80


def ensure_layout(xml: str) -> str:
    root = etree.fromstring(xml.encode(), etree.XMLParser(resolve_entities=False, no_network=True))
    if root.find(f"{{{BPMNDI}}}BPMNDiagram") is not None:
        return xml
    process = root.find(f"{{{BPMN}}}process")
    if process is None:
        return xml
    nodes = {el.get("id"): el for el in process if isinstance(el.tag, str) and el.get("id")
             and etree.QName(el).namespace == BPMN and etree.QName(el).localname not in _NOT_NODES}
    boundaries = [el for el in process.findall(f"{{{BPMN}}}boundaryEvent")]
    host = {b.get("id"): b.get("attachedToRef") for b in boundaries}
    flows = process.findall(f"{{{BPMN}}}sequenceFlow")
    column = _columns(nodes, flows, host)
    lanes = process.findall(f"{{{BPMN}}}laneSet/{{{BPMN}}}lane")
    lane_of = {ref.text.strip(): lane.get("id") for lane in lanes for ref in lane.findall(f"{{{BPMN}}}flowNodeRef")
               if ref.text}
    bands = [lane.get("id") for lane in lanes] + [None]
    slots: dict = defaultdict(list)              # (band, column) -> node ids stacked there
    for node_id in nodes:
        slots[(lane_of.get(node_id) if lanes else None, column[node_id])].append(node_id)
    rows = {band: max([len(v) for (b, _c), v in slots.items() if b == band] or [0]) for band in bands}
    left = POOL_X + (LANE_LABEL * 2 if lanes else 0)
    width = left + (max(column.values(), default=0) + 1) * COLUMN + 40
    top, band_top = 20, {}
    for band in bands:
        if band is None and lanes and rows[band] == 0:
            continue
        band_top[band] = top
        top += max(rows[band], 1) * ROW + 40

    di = etree.SubElement(root, f"{{{BPMNDI}}}BPMNDiagram", id=f"{process.get('id')}_diagram",
                          nsmap={"bpmndi": BPMNDI, "dc": DC, "di": DI})
    plane_of = process.get("id")
    if lanes:
        collaboration = etree.Element(f"{{{BPMN}}}collaboration", id=f"{process.get('id')}_collaboration")
        etree.SubElement(collaboration, f"{{{BPMN}}}participant", id=f"{process.get('id')}_pool",
                         name=process.get("name") or process.get("id"), processRef=process.get("id"))
        process.addprevious(collaboration)
        collaboration.tail = "\n  "
        plane_of = collaboration.get("id")
    plane = etree.SubElement(di, f"{{{BPMNDI}}}BPMNPlane", id=f"{process.get('id')}_plane", bpmnElement=plane_of)
    if lanes:
        _shape(plane, f"{process.get('id')}_pool", POOL_X, 20, width - POOL_X, top - 20, horizontal=True)
        for lane in lanes:
            _shape(plane, lane.get("id"), POOL_X + LANE_LABEL, band_top[lane.get("id")], width - POOL_X - LANE_LABEL,
                   max(rows[lane.get("id")], 1) * ROW + 40, horizontal=True)
    bounds = {}
    for (band, col), stacked in slots.items():
        for row, node_id in enumerate(stacked):
            w, h = _size(etree.QName(nodes[node_id]).localname)
            x = left + col * COLUMN + (110 - w) // 2
            y = band_top[band] + 20 + row * ROW + (80 - h) // 2
            bounds[node_id] = (x, y, w, h)
            _shape(plane, node_id, x, y, w, h)
    for i, boundary in enumerate(boundaries):
        hx, hy, hw, hh = bounds.get(host[boundary.get("id")], (left, 20, 110, 80))
        siblings = [b for b in boundaries[:i] if host[b.get("id")] == host[boundary.get("id")]]
        bounds[boundary.get("id")] = (hx + hw - 30 - 40 * len(siblings), hy + hh - 18, 36, 36)
        _shape(plane, boundary.get("id"), *bounds[boundary.get("id")])
    for flow in flows:
        source, target = bounds.get(flow.get("sourceRef")), bounds.get(flow.get("targetRef"))
        if source and target:
            _edge(plane, flow.get("id"), source, target)
    etree.indent(di, space="  ", level=1)
    di.tail, di.getprevious().tail = "\n", "\n  "
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode()


def _columns(nodes: dict, flows, host: dict) -> dict[str, int]:
    """Longest distance from a node without incoming flows, following flows but not loops."""
    out = defaultdict(list)
    incoming = set()
    for flow in flows:
        source = host.get(flow.get("sourceRef"), flow.get("sourceRef"))
        if source in nodes and flow.get("targetRef") in nodes:
            out[source].append(flow.get("targetRef"))
            incoming.add(flow.get("targetRef"))
    column = {n: 0 for n in nodes}
    order, state = [], {}

    def visit(node):                          # depth-first post-order; a grey node on the path is a loop
        state[node] = "grey"
        for nxt in out[node]:
            if state.get(nxt) is None:
                visit(nxt)
        state[node] = "black"
        order.append(node)

    for start in [n for n in nodes if n not in incoming] + list(nodes):
        if state.get(start) is None:
            visit(start)
    position = {n: i for i, n in enumerate(reversed(order))}
    for node in reversed(order):
        for nxt in out[node]:
            if position[nxt] > position[node]:      # forward edge (loops point backwards)
                column[nxt] = max(column[nxt], column[node] + 1)
    return column


def _shape(plane, element_id: str, x: int, y: int, w: int, h: int, horizontal: bool = False) -> None:
    shape = etree.SubElement(plane, f"{{{BPMNDI}}}BPMNShape", id=f"{element_id}_di", bpmnElement=element_id)
    if horizontal:
        shape.set("isHorizontal", "true")
    etree.SubElement(shape, f"{{{DC}}}Bounds", x=str(x), y=str(y), width=str(w), height=str(h))


def _edge(plane, flow_id: str, source: tuple, target: tuple) -> None:
    sx, sy, sw, sh = source
    tx, ty, tw, th = target
    start, end = (sx + sw, sy + sh // 2), (tx, ty + th // 2)
    if tx <= sx:                                         # back or vertical edge: leave below, enter from below
        start, end = (sx + sw // 2, sy + sh), (tx + tw // 2, ty + th)
        low = max(sy + sh, ty + th) + 25
        points = [start, (start[0], low), (end[0], low), end]
    elif start[1] == end[1]:
        points = [start, end]
    else:
        middle = (start[0] + end[0]) // 2
        points = [start, (middle, start[1]), (middle, end[1]), end]
    edge = etree.SubElement(plane, f"{{{BPMNDI}}}BPMNEdge", id=f"{flow_id}_di", bpmnElement=flow_id)
    for x, y in points:
        etree.SubElement(edge, f"{{{DI}}}waypoint", x=str(x), y=str(y))


def relabel_lanes(xml: str, labels: Mapping[str, str]) -> str:
    """The diagram with each lane of a known role named by ``labels[role]`` (the team, in the reader's language)."""
    root = etree.fromstring(xml.encode(), etree.XMLParser(resolve_entities=False, no_network=True))
    changed = False
    for lane in root.iter(f"{{{BPMN}}}lane"):
        role = role_for_lane(lane.get("name"))
        if role is not None and role in labels:
            lane.set("name", labels[role])
            changed = True
    return etree.tostring(root, encoding="unicode") if changed else xml
