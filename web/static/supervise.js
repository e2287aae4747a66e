// Supervisors' pages: the instance diagram with its markers, the procedure heatmap, the dashboard charts.
// Data comes from <script type="application/json"> blocks written by the server (no inline scripts: CSP).
(function () {
  "use strict";

  function data(id) {
    var block = document.getElementById(id);
    return block ? JSON.parse(block.textContent) : null;
  }

  function badge(text, kind) {
    var el = document.createElement("div");
    el.className = "zx-badge zx-" + kind;
    el.textContent = text;
    return el;
  }

  // Render the BPMN diagram of `container` (its data-xml URL), then call decorate(viewer).
  function showDiagram(container, decorate) {
    var viewer = new window.BpmnJS({ container: container });
    return fetch(container.dataset.xml, { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("diagram " + response.status); }
        return response.text();
      })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        viewer.get("canvas").zoom("fit-viewport", "auto");
        decorate(viewer);
        container.dataset.ready = "1";
      })
      .catch(function (err) {
        container.textContent = (container.dataset.error || "The diagram cannot be shown") + ": " + err.message;
        container.classList.add("error");
      });
  }

  function has(registry, id) { return !!registry.get(id); }

  // Completed path (green, with a count where a node ran more than once), tokens (blue), failures (red).
  function markInstance(viewer, marks) {
    var canvas = viewer.get("canvas"), registry = viewer.get("elementRegistry"),
        overlays = viewer.get("overlays");
    var done = marks.completed || {}, active = marks.active || [], failed = marks.failed || [];
    Object.keys(done).forEach(function (id) {
      if (!has(registry, id)) { return; }
      canvas.addMarker(id, "zx-done");
      if (done[id] > 1) { overlays.add(id, { position: { bottom: 4, left: -8 }, html: badge("×" + done[id], "count") }); }
    });
    // a flow between two visited nodes is on the completed path
    registry.filter(function (el) { return el.waypoints && el.source && el.target; }).forEach(function (flow) {
      var from = flow.source.id, to = flow.target.id;
      if (done[from] && (done[to] || active.indexOf(to) >= 0)) { canvas.addMarker(flow.id, "zx-done"); }
    });
    active.forEach(function (id) {
      if (has(registry, id)) { canvas.removeMarker(id, "zx-done"); canvas.addMarker(id, "zx-token"); }
    });
    failed.forEach(function (id) { if (has(registry, id)) { canvas.addMarker(id, "zx-failed"); } });
    (marks.badges || []).forEach(function (b) {
      if (has(registry, b.id)) { overlays.add(b.id, { position: { top: -14, right: 12 }, html: badge(b.text, b.kind) }); }
    });
    var current = failed.concat(active).filter(function (id) { return has(registry, id); })
      .map(function (id) { return registry.get(id); });
    focus(canvas, current);
    controls(canvas, current);
  }

  // Open on the case's current nodes: the box around all of them (and their badges), at a scale a person can
  // read (at most 1:1, never smaller than 0.6 unless the nodes lie further apart than the screen holds).
  function focus(canvas, elements) {
    if (!elements.length) { canvas.zoom("fit-viewport", "auto"); return; }
    var pad = 120, outer = canvas.viewbox().outer;
    var x0 = Math.min.apply(null, elements.map(function (e) { return e.x; })) - pad,
        y0 = Math.min.apply(null, elements.map(function (e) { return e.y; })) - pad,
        x1 = Math.max.apply(null, elements.map(function (e) { return e.x + e.width; })) + pad,
        y1 = Math.max.apply(null, elements.map(function (e) { return e.y + e.height; })) + pad;
    var scale = Math.min(1, outer.width / (x1 - x0), outer.height / (y1 - y0));
    scale = Math.max(scale, Math.min(0.6, outer.width / (x1 - x0)));
    var width = outer.width / scale, height = outer.height / scale;
    canvas.viewbox({ x: (x0 + x1) / 2 - width / 2, y: (y0 + y1) / 2 - height / 2, width: width, height: height });
  }

  // The buttons under the diagram: the whole procedure, or back to the case's current nodes.
  function controls(canvas, current) {
    document.querySelectorAll("[data-diagram-fit]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { canvas.zoom("fit-viewport", "auto"); });
    });
    document.querySelectorAll("[data-diagram-current]").forEach(function (button) {
      button.hidden = !current.length;
      button.addEventListener("click", function () { focus(canvas, current); });
    });
  }

  // Cases waiting now (a warmer fill, and a count) and the median time spent at each node. A timer on a task's
  // boundary waits with the task, so it gets a badge but no fill of its own.
  function markHeat(viewer, heat) {
    var canvas = viewer.get("canvas"), registry = viewer.get("elementRegistry"),
        overlays = viewer.get("overlays");
    var nodes = heat.nodes || {}, max = Math.max(heat.max || 0, 1), label = heat.labels || {};
    Object.keys(nodes).forEach(function (id) {
      var el = registry.get(id), n = nodes[id];
      if (!el) { return; }
      var boundary = el.type === "bpmn:BoundaryEvent", waiting = n.waiting + (boundary ? 0 : n.timers);
      if (waiting) {
        canvas.addMarker(id, "zx-heat-" + Math.max(1, Math.ceil(5 * waiting / max)));
        overlays.add(id, { position: { top: -14, right: 12 },
          html: badge(label.waiting + " " + waiting + (n.overdue ? " · " + label.overdue + " " + n.overdue : ""),
                      n.overdue ? "late" : "task") });
      } else if (n.timers) {
        overlays.add(id, { position: { bottom: 0, right: 0 }, html: badge(label.timers + " " + n.timers, "timer") });
      }
      if (n.incidents) { overlays.add(id, { position: { top: -14, left: -8 }, html: badge(label.incidents + " " + n.incidents, "failed") }); }
      if (n.median) { overlays.add(id, { position: { bottom: -4, left: 0 }, html: badge(label.median + " " + n.median, "timer") }); }
    });
    document.querySelectorAll("[data-node]").forEach(function (cell) {
      var el = registry.get(cell.dataset.node);
      var name = el && el.businessObject && el.businessObject.name;
      if (name) { cell.textContent = name; cell.title = cell.dataset.node; }
    });
  }

  function charts() {
    if (!window.echarts) { return; }
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var option = data(el.dataset.chart);
      if (!option) { return; }
      var chart = window.echarts.init(el, null, { renderer: "svg" });
      option.animation = false;      // drawn at once: office PCs, printouts and screenshots
      chart.setOption(option);
      window.addEventListener("resize", function () { chart.resize(); });
      el.dataset.ready = "1";
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var container = document.getElementById("diagram");
    if (container && window.BpmnJS) {
      if (container.dataset.marks) {
        showDiagram(container, function (viewer) { markInstance(viewer, data(container.dataset.marks) || {}); });
      } else if (container.dataset.heat) {
        showDiagram(container, function (viewer) { markHeat(viewer, data(container.dataset.heat) || {}); });
      }
    }
    charts();
  });
})();
