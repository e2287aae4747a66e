// Designers' pages (流程设计): the BPMN modeler with an "engine properties" panel for the spiffworkflow:
// extensions, the DMN editor, validation problems marked on the elements, deploy, and the comparison viewers.
// Plain script (no bundler): bpmn-js / dmn-js come as UMD globals (BpmnJS, BpmnJSPropertiesPanel, DmnJS).
(function () {
  "use strict";

  var SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core";
  var USER_TASK_PROPERTIES = ["formJsonSchemaFilename", "formUiSchemaFilename", "dueIn", "excludeCompletersOf"];

  function csrf() {
    var field = document.querySelector("input[name=csrf_token]");
    return field ? field.value : "";
  }

  function postJson(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf()},
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().then(function (data) { return {status: response.status, data: data}; },
                                  function () { throw new Error("HTTP " + response.status); });
    });
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") { node.textContent = attrs[key]; } else { node.setAttribute(key, attrs[key]); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }

  // -- editor page: shared toolbar (save / validate / deploy) and the problems list ---------------------------
  function Editor(root, adapter) {
    this.root = root;
    this.data = root.dataset;
    this.adapter = adapter;      // {load(xml), xml() -> Promise<string>, mark(problems), select(id)}
    this.status = root.querySelector("[data-testid=status]");
    this.problems = document.getElementById("problems");
    var self = this;
    root.querySelectorAll("[data-action]").forEach(function (button) {
      button.addEventListener("click", function () { self[button.dataset.action](); });
    });
  }

  Editor.prototype.say = function (text, isError) {
    this.status.textContent = text;
    this.status.className = "zx-status" + (isError ? " error" : "");
  };

  Editor.prototype.fail = function (error) {
    this.say(this.data.msgFailed + ": " + (error && error.message ? error.message : error), true);
  };

  Editor.prototype.start = function () {
    var self = this;
    self.say(self.data.msgLoading);
    return fetch(self.data.fileUrl, {credentials: "same-origin"})
      .then(function (response) { return response.text(); })
      .then(function (xml) { return self.adapter.load(xml); })
      .then(function () { self.say(""); })
      .catch(function (error) { self.fail(error); });
  };

  Editor.prototype.save = function () {
    var self = this;
    return self.adapter.xml().then(function (xml) {
      return postJson(self.data.saveUrl, {name: self.data.name, content: xml});
    }).then(function (result) {
      if (!result.data.ok) { throw new Error(result.data.error); }
      self.say(self.data.msgSaved);
      return true;
    }).catch(function (error) { self.fail(error); return false; });
  };

  Editor.prototype.validate = function () {
    var self = this;
    return self.save().then(function (saved) {
      if (!saved) { return; }
      return postJson(self.data.validateUrl).then(function (result) {
        self.show(result.data.problems);
        self.say(result.data.problems.length ? self.data.msgProblems : self.data.msgValid,
                 result.data.problems.length > 0);
      });
    }).catch(function (error) { self.fail(error); });
  };

  Editor.prototype.deploy = function () {
    var self = this;
    return self.save().then(function (saved) {
      if (!saved) { return; }
      self.say(self.data.msgDeploying);
      return postJson(self.data.deployUrl).then(function (result) {
        var data = result.data;
        self.show(data.problems || []);
        if (!data.ok) { self.say(data.error, true); return; }
        self.say(data.message);
        if (data.migrate_url) {
          self.status.appendChild(document.createTextNode(" "));
          self.status.appendChild(el("a", {href: data.migrate_url, "data-testid": "migrate-link",
                                           text: self.data.msgMigrate}));
        }
      });
    }).catch(function (error) { self.fail(error); });
  };

  Editor.prototype.show = function (problems) {
    var self = this, list = self.problems.querySelector("ul");
    list.textContent = "";
    self.problems.hidden = problems.length === 0;
    self.adapter.mark(problems.filter(function (p) { return p.file === self.data.name; }));
    problems.forEach(function (p) {
      var item = el("li", {"data-problem-element": p.element_id, "data-file": p.file,
                           text: p.file + ":" + p.line + ": " + p.element_id + ": " + p.message});
      item.addEventListener("click", function () {
        if (p.file !== self.data.name) {
          window.location.href = self.data.editUrl + "?file=" + encodeURIComponent(p.file);
        } else if (p.element_id !== "-") {
          self.adapter.select(p.element_id);
        }
      });
      list.appendChild(item);
    });
  };

  // -- BPMN: bpmn-js modeler + properties panel + engine properties --------------------------------------------
  function bpmnAdapter(root) {
    var panel = window.BpmnJSPropertiesPanel;
    var modeler = new window.BpmnJS({
      container: "#canvas",
      propertiesPanel: {parent: "#properties"},
      additionalModules: [panel.BpmnPropertiesPanelModule, panel.BpmnPropertiesProviderModule]
    });
    window.zhixingModeler = modeler;    // the modeler's API, for power users and browser tests
    var marked = [];
    var engineProps = new EngineProperties(modeler, root.dataset, document.querySelector("#engine-props"));
    return {
      load: function (xml) {
        return modeler.importXML(xml).then(function () {
          modeler.get("canvas").zoom("fit-viewport");
          engineProps.render(null);
        });
      },
      xml: function () { return modeler.saveXML({format: true}).then(function (r) { return r.xml; }); },
      mark: function (problems) {
        var canvas = modeler.get("canvas"), overlays = modeler.get("overlays"), registry = modeler.get("elementRegistry");
        marked.forEach(function (id) { if (registry.get(id)) { canvas.removeMarker(id, "zx-error"); } });
        overlays.remove({type: "zx-problem"});
        marked = [];
        var byElement = {};
        problems.forEach(function (p) {
          if (registry.get(p.element_id)) { (byElement[p.element_id] = byElement[p.element_id] || []).push(p.message); }
        });
        Object.keys(byElement).forEach(function (id) {
          canvas.addMarker(id, "zx-error");
          marked.push(id);
          var badge = el("div", {"class": "zx-badge", title: byElement[id].join("\n"), "data-testid": "problem-" + id,
                                 text: String(byElement[id].length)});
          overlays.add(id, "zx-problem", {position: {top: -9, right: 9}, html: badge});
        });
      },
      select: function (id) {
        var element = modeler.get("elementRegistry").get(id);
        if (element) {
          modeler.get("selection").select(element);
          modeler.get("canvas").scrollToElement(element);
        }
      }
    };
  }

  // The spiffworkflow: extensions bpmn-js keeps as generic elements, edited with the modeler's commands (undo,
  // dirty state). Unknown extensions of an element are left as they are.
  function EngineProperties(modeler, texts, section) {
    this.modeler = modeler;
    this.texts = texts;
    this.body = section.querySelector(".zx-engine-body");
    this.operators = (texts.operators || "").split(" ").filter(Boolean);
    this.forms = (texts.forms || "").split(" ").filter(Boolean);
    var self = this;
    modeler.on("selection.changed", function (event) {
      self.render(event.newSelection.length === 1 ? event.newSelection[0] : null);
    });
    modeler.on("elements.changed", function (event) {
      if (self.element && event.elements.indexOf(self.element) >= 0 && !self.applying) { self.render(self.element); }
    });
  }

  EngineProperties.prototype.any = function (name, attrs) {
    return this.modeler.get("moddle").createAny("spiffworkflow:" + name, SPIFF, attrs || {});
  };

  EngineProperties.prototype.target = function (element) {
    var bo = element.businessObject;
    return bo.$type === "bpmn:Participant" && bo.processRef ? bo.processRef : bo;
  };

  EngineProperties.prototype.extensions = function (bo) {
    return bo.extensionElements ? bo.extensionElements.values.slice() : [];
  };

  EngineProperties.prototype.find = function (bo, name) {
    return this.extensions(bo).filter(function (v) { return v.$type === "spiffworkflow:" + name; })[0];
  };

  EngineProperties.prototype.children = function (node, name) {
    return ((node && node.$children) || []).filter(function (c) { return c.$type === "spiffworkflow:" + name; });
  };

  // replace (or add, or with null remove) the extension named ``name``, keeping the others in their order
  EngineProperties.prototype.put = function (element, name, replacement) {
    var bo = this.target(element), values = this.extensions(bo), index = -1;
    values.forEach(function (v, i) { if (v.$type === "spiffworkflow:" + name && index < 0) { index = i; } });
    if (index >= 0) { values.splice(index, 1); }
    if (replacement) { values.splice(index >= 0 ? index : values.length, 0, replacement); }
    var moddle = this.modeler.get("moddle");
    var ext = values.length ? moddle.create("bpmn:ExtensionElements", {values: values}) : undefined;
    this.applying = true;
    try {
      this.modeler.get("modeling").updateModdleProperties(element, bo, {extensionElements: ext});
    } finally {
      this.applying = false;
    }
  };

  EngineProperties.prototype.render = function (element) {
    this.element = element;
    var body = this.body;
    body.textContent = "";
    if (!element || element.type === "label") {
      body.appendChild(el("p", {"class": "muted", text: this.texts.msgNone}));
      return;
    }
    var bo = this.target(element), type = bo.$type;
    body.appendChild(el("p", {"class": "muted", text: type.replace("bpmn:", "") + " · " + bo.id}));
    if (type === "bpmn:UserTask" || type === "bpmn:ManualTask") {
      this.renderUserTask(element, bo);
    } else if (type === "bpmn:ServiceTask") {
      this.renderServiceTask(element, bo);
    } else if (type === "bpmn:SequenceFlow") {
      this.renderText(element, "condition", bo.conditionExpression ? bo.conditionExpression.body : "", function (value) {
        var moddle = this.modeler.get("moddle");
        return {conditionExpression: value ? moddle.create("bpmn:FormalExpression", {body: value}) : undefined};
      });
    } else if (type === "bpmn:ScriptTask") {
      this.renderText(element, "script", bo.script || "", function (value) { return {script: value}; });
    } else if (type === "bpmn:Process") {
      this.renderProperties(element, bo, ["caseType", "correlationKey", "caseFields"]);
    }
  };

  EngineProperties.prototype.field = function (label, input) {
    return el("label", {}, [document.createTextNode(label), input]);
  };

  EngineProperties.prototype.properties = function (bo) {
    var out = {};
    this.children(this.find(bo, "properties"), "property").forEach(function (p) { out[p.name] = p.value; });
    return out;
  };

  EngineProperties.prototype.writeProperties = function (element, values) {
    var self = this, names = Object.keys(values).filter(function (n) { return values[n] !== ""; });
    var holder = null;
    if (names.length) {
      holder = self.any("properties");
      holder.$children = names.map(function (n) { return self.any("property", {name: n, value: values[n]}); });
    }
    self.put(element, "properties", holder);
  };

  EngineProperties.prototype.renderProperties = function (element, bo, known) {
    var self = this, current = self.properties(bo);
    known.concat(Object.keys(current).filter(function (n) { return known.indexOf(n) < 0; })).forEach(function (name) {
      var input = el("input", {name: name, value: current[name] || "", "data-property": name});
      if (name === "formJsonSchemaFilename" && self.forms.length) {
        input.setAttribute("list", "zx-forms");
      }
      input.addEventListener("change", function () {
        var values = self.properties(bo);
        values[name] = input.value.trim();
        self.writeProperties(element, values);
      });
      self.body.appendChild(self.field(name, input));
    });
    if (self.forms.length) {
      self.body.appendChild(el("datalist", {id: "zx-forms"}, self.forms.map(function (f) { return el("option", {value: f}); })));
    }
  };

  EngineProperties.prototype.renderUserTask = function (element, bo) {
    var self = this;
    self.renderProperties(element, bo, USER_TASK_PROPERTIES);
    var instructions = self.find(bo, "instructionsForEndUser");
    var area = el("textarea", {rows: "3", name: "instructions"});
    area.value = instructions ? instructions.$body || "" : "";
    area.addEventListener("change", function () {
      var node = null;
      if (area.value.trim()) { node = self.any("instructionsForEndUser"); node.$body = area.value; }
      self.put(element, "instructionsForEndUser", node);
    });
    self.body.appendChild(self.field("instructionsForEndUser", area));
  };

  EngineProperties.prototype.renderServiceTask = function (element, bo) {
    var self = this, operator = self.find(bo, "serviceTaskOperator");
    var params = self.children(self.children(operator, "parameters")[0], "parameter");
    var retry = self.children(operator, "retry")[0];
    var form = {
      id: el("input", {name: "operator", value: (operator && operator.id) || "", list: "zx-operators",
                       "data-testid": "operator"}),
      result: el("input", {name: "resultVariable", value: (operator && operator.resultVariable) || ""}),
      retries: el("input", {name: "retries", value: (retry && retry.retries) || "", size: "3"}),
      backoff: el("input", {name: "backoff_base", value: (retry && retry.backoff_base) || "", size: "3"})
    };
    var rows = el("tbody");
    function addRow(id, value, type) {
      var remove = el("button", {type: "button", "class": "link", title: self.texts.msgRemove, text: "×"});
      var row = el("tr", {}, [el("td", {}, [el("input", {value: id || "", "data-param": "id"})]),
                             el("td", {}, [el("input", {value: value || "", "data-param": "value",
                                                        "data-type": type || "str"})]),
                             el("td", {}, [remove])]);
      remove.addEventListener("click", function () { row.remove(); apply(); });
      rows.appendChild(row);
    }
    function apply() {
      if (!form.id.value.trim()) { self.put(element, "serviceTaskOperator", null); return; }
      var node = self.any("serviceTaskOperator", {id: form.id.value.trim()});
      if (form.result.value.trim()) { node.resultVariable = form.result.value.trim(); }
      var holder = self.any("parameters");
      holder.$children = [];
      rows.querySelectorAll("tr").forEach(function (row) {
        var id = row.querySelector("[data-param=id]").value.trim(), value = row.querySelector("[data-param=value]");
        if (id) { holder.$children.push(self.any("parameter", {id: id, type: value.dataset.type, value: value.value})); }
      });
      node.$children = [holder];
      if (form.retries.value.trim() || form.backoff.value.trim()) {
        var attrs = {};
        if (form.retries.value.trim()) { attrs.retries = form.retries.value.trim(); }
        if (form.backoff.value.trim()) { attrs.backoff_base = form.backoff.value.trim(); }
        node.$children.push(self.any("retry", attrs));
      }
      self.put(element, "serviceTaskOperator", node);
    }
    params.forEach(function (p) { addRow(p.id, p.value, p.type); });
    var add = el("button", {type: "button", "class": "secondary", text: self.texts.msgAdd});
    add.addEventListener("click", function () { addRow("", ""); });
    [form.id, form.result, form.retries, form.backoff].forEach(function (input) { input.addEventListener("change", apply); });
    rows.addEventListener("change", apply);
    self.body.appendChild(self.field("operator", form.id));
    self.body.appendChild(el("datalist", {id: "zx-operators"}, self.operators.map(function (o) { return el("option", {value: o}); })));
    self.body.appendChild(self.field("resultVariable", form.result));
    self.body.appendChild(el("p", {text: "parameters (id = expression)"}));
    self.body.appendChild(el("table", {"data-testid": "parameters"}, [rows]));
    self.body.appendChild(add);
    self.body.appendChild(el("p", {}, [self.field("retries", form.retries), self.field("backoff_base", form.backoff)]));
  };

  EngineProperties.prototype.renderText = function (element, label, value, toProperties) {
    var self = this, area = el("textarea", {rows: "4", name: label, spellcheck: "false"});
    area.value = value;
    area.addEventListener("change", function () {
      self.applying = true;
      try {
        self.modeler.get("modeling").updateProperties(element, toProperties.call(self, area.value.trim()));
      } finally {
        self.applying = false;
      }
    });
    self.body.appendChild(self.field(label, area));
  };

  // -- DMN: dmn-js modeler (decision table) ---------------------------------------------------------------------
  function dmnAdapter() {
    var modeler = new window.DmnJS({container: "#canvas"});
    window.zhixingModeler = modeler;
    return {
      load: function (xml) { return modeler.importXML(xml); },
      xml: function () { return modeler.saveXML({format: true}).then(function (r) { return r.xml; }); },
      mark: function () {},
      select: function () {}
    };
  }

  // -- comparison: two read-only viewers with the changes coloured -----------------------------------------------
  function viewer(container) {
    var instance = new window.BpmnJS({container: container});
    fetch(container.dataset.url, {credentials: "same-origin"})
      .then(function (response) { return response.text(); })
      .then(function (xml) { return instance.importXML(xml); })
      .then(function () {
        var canvas = instance.get("canvas"), registry = instance.get("elementRegistry");
        canvas.zoom("fit-viewport");
        (container.dataset.marks || "").split(" ").filter(Boolean).forEach(function (mark) {
          var parts = mark.split(":"), id = parts.slice(1).join(":");
          if (registry.get(id)) { canvas.addMarker(id, "zx-" + parts[0]); }
        });
        container.dataset.ready = "true";
      })
      .catch(function (error) { container.textContent = String(error && error.message || error); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("editor");
    if (root) {
      var adapter = root.dataset.kind === "dmn" ? dmnAdapter() : bpmnAdapter(root);
      var editor = new Editor(root, adapter);
      window.zhixingEditor = editor;
      editor.start();
      if (root.dataset.kind === "bpmn") {
        window.zhixingModeler.on("commandStack.changed", function () { editor.say(root.dataset.msgUnsaved); });
      }
    }
    document.querySelectorAll(".zx-viewer").forEach(viewer);
  });
}());
