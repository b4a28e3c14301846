// The Bespoke properties panel: what our engine reads from the selected element, edited through the modeler's
// moddle (spiffworkflow: extension elements) with modeling commands, so every edit can be undone and autosaves.
(function () {
  "use strict";

  const FORM = "formJsonSchemaFilename";
  const UI_FORM = "formUiSchemaFilename";
  const OWN = new Set([FORM, UI_FORM, "sla_level"]);
  const SLA = /sla_due\(\s*sla\[\s*['"]([\w.]+)['"]\s*\]\s*(?:,\s*([\d.]+)\s*)?\)/;
  const TIMER_KINDS = ["timeDate", "timeDuration", "timeCycle"];

  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([key, value]) => {
      if (value === undefined || value === null || value === false) return;
      if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value === true ? "" : value);
    });
    children.flat().forEach((child) => { if (child) node.append(child); });
    return node;
  }

  window.BespokePanel = function (modeler, container, catalog, T, options) {
    const moddle = modeler.get("moddle");
    const modeling = modeler.get("modeling");
    const registry = modeler.get("elementRegistry");
    const factory = modeler.get("bpmnFactory");
    const elementFactory = modeler.get("elementFactory");
    const eventBus = modeler.get("eventBus");
    const ro = !options.editable;
    let current = null;

    // -- extension elements -------------------------------------------------------------------------------------
    function ext(element, type) {
      const bo = element.businessObject;
      const values = bo.extensionElements ? bo.extensionElements.get("values") : [];
      return values.find((v) => v.$instanceOf(type));
    }

    function addExt(element, child) {
      const bo = element.businessObject;
      let extensions = bo.extensionElements;
      if (!extensions) {
        extensions = moddle.create("bpmn:ExtensionElements", { values: [] });
        extensions.$parent = bo;
        modeling.updateModdleProperties(element, bo, { extensionElements: extensions });
      }
      child.$parent = extensions;
      modeling.updateModdleProperties(element, extensions, { values: extensions.get("values").concat([child]) });
      return child;
    }

    function removeExt(element, child) {
      const extensions = element.businessObject.extensionElements;
      if (!extensions || !child) return;
      modeling.updateModdleProperties(element, extensions, { values: extensions.get("values").filter((v) => v !== child) });
    }

    function properties(element) {
      const props = ext(element, "spiffworkflow:Properties");
      const found = {};
      (props ? props.get("properties") : []).forEach((p) => { found[p.name] = p.value; });
      return found;
    }

    function setProperty(element, name, value) {
      let props = ext(element, "spiffworkflow:Properties");
      const empty = value === undefined || value === null || value === "";
      if (!props) {
        if (empty) return;
        props = addExt(element, moddle.create("spiffworkflow:Properties", { properties: [] }));
      }
      const list = props.get("properties");
      const existing = list.find((p) => p.name === name);
      if (existing && empty) modeling.updateModdleProperties(element, props, { properties: list.filter((p) => p !== existing) });
      else if (existing) modeling.updateModdleProperties(element, existing, { value });
      else if (!empty) {
        const property = moddle.create("spiffworkflow:Property", { name, value });
        property.$parent = props;
        modeling.updateModdleProperties(element, props, { properties: list.concat([property]) });
      }
    }

    function setBody(element, type, value) {
      const node = ext(element, type);
      if (!value) { removeExt(element, node); return; }
      if (node) modeling.updateModdleProperties(element, node, { value });
      else addExt(element, moddle.create(type, { value }));
    }

    // -- building blocks ----------------------------------------------------------------------------------------
    function field(label, control, help) {
      return h("label", { class: "field" }, h("span", { text: label }), control, help ? h("span", { class: "help", text: help }) : null);
    }

    function text(key, value, onchange, attrs) {
      return h("input", { type: "text", value: value || "", "data-key": key, readonly: ro, onchange: (e) => onchange(e.target.value.trim()), ...(attrs || {}) });
    }

    function area(key, value, onchange, attrs) {
      const node = h("textarea", { "data-key": key, readonly: ro, spellcheck: "false", onchange: (e) => onchange(e.target.value), ...(attrs || {}) });
      node.value = value || "";
      return node;
    }

    function select(key, value, choices, onchange) {
      const node = h("select", { "data-key": key, disabled: ro, onchange: (e) => onchange(e.target.value) });
      let seen = false;
      choices.forEach(([code, label]) => {
        const option = h("option", { value: code, text: label });
        if (code === (value || "")) { option.selected = true; seen = true; }
        node.append(option);
      });
      if (!seen && value) node.prepend(h("option", { value, text: value, selected: true }));
      return node;
    }

    function section(title, ...children) {
      return h("fieldset", { class: "panel-section" }, h("legend", { text: title }), ...children);
    }

    // -- sections by element kind ---------------------------------------------------------------------------------
    function general(element) {
      const bo = element.businessObject;
      return section(T.element,
        field(T.id, text("id", bo.id, (id) => { if (id && id !== bo.id) modeling.updateProperties(element, { id }); })),
        field(T.name, text("name", bo.name, (name) => modeling.updateProperties(element, { name: name || undefined }))),
        h("p", { class: "muted small", text: `${T.type}: ${bo.$type.replace("bpmn:", "")}` }));
    }

    function laneRole(element) {
      const roles = catalog.roles.map((r) => [r.code, `${r.code} — ${r.label}`]);
      return section(T.laneRole, field(T.laneRole, select("role", element.businessObject.name, [["", T.none]].concat(roles),
        (code) => modeling.updateProperties(element, { name: code || undefined }))));
    }

    function lanes() { return registry.filter((e) => e.type === "bpmn:Lane"); }

    function laneOf(element) {
      return lanes().find((lane) => (lane.businessObject.get("flowNodeRef") || []).includes(element.businessObject));
    }

    function laneField(element) {
      const all = lanes();
      if (!all.length || element.type === "bpmn:BoundaryEvent" || element.waypoints) return null;
      const lane = laneOf(element);
      const label = (l) => {
        const role = catalog.roles.find((r) => r.code === l.businessObject.name);
        return role ? `${role.code} — ${role.label}` : (l.businessObject.name || l.id);
      };
      const choices = [["", T.noLane]].concat(all.map((l) => [l.id, label(l)]));
      return field(T.laneOf, select("lane", lane ? lane.id : "", choices, (laneId) => {
        const target = registry.get(laneId);
        if (!target) return;
        // Lanes own what lies inside them: moving the task into the lane's band makes it the lane's.
        const dy = target.y + target.height / 2 - (element.y + element.height / 2);
        const participant = target.parent.type === "bpmn:Participant" ? target.parent : element.parent;
        modeling.moveElements([element], { x: 0, y: dy }, participant);
      }));
    }

    function userTask(element) {
      const props = properties(element);
      const forms = [["", T.none]].concat(catalog.forms.map((f) => [f, f]), [["__new__", T.newForm]]);
      const uiForms = [["", T.none]].concat(catalog.ui_forms.map((f) => [f, f]));
      const formUrl = (name) => options.formsUrl + encodeURIComponent(name);
      const open = props[FORM] ? h("a", { href: formUrl(props[FORM]), class: "small", "data-open-form": props[FORM], onclick: async (e) => {
        e.preventDefault();
        if (await options.beforeLeave()) window.location.assign(formUrl(props[FORM]));
      } }, T.openForm) : null;
      return section(T.form,
        field(T.form, select("form", props[FORM], forms, async (name) => {
          if (name !== "__new__") {
            setProperty(element, FORM, name);
            const ui = name.replace(/\.schema\.json$/, ".uischema.json");
            setProperty(element, UI_FORM, catalog.ui_forms.includes(ui) ? ui : "");
            return;
          }
          // The form editor's file names: lower-case latin letters, digits and "_" (its UI schema is saved beside it).
          const stem = (window.prompt(T.newFormName, element.businessObject.id.toLowerCase()) || "").trim()
            .replace(/\.schema\.json$/, "");
          if (!/^[a-z][a-z0-9_]{0,80}$/.test(stem)) { render(); return; }
          setProperty(element, FORM, `${stem}.schema.json`);
          setProperty(element, UI_FORM, `${stem}.uischema.json`);
          if (await options.beforeLeave()) window.location.assign(formUrl(`${stem}.schema.json`));
        })),
        open,
        field(T.uiForm, select("ui_form", props[UI_FORM], uiForms, (name) => setProperty(element, UI_FORM, name))));
    }

    function serviceTask(element) {
      const operator = ext(element, "spiffworkflow:ServiceTaskOperator");
      const ops = catalog.operators.map((o) => [o.name, `${o.name} — ${o.label}`]);
      const nodes = [field(T.operator, select("operator", operator && operator.id, [["", T.none]].concat(ops), (name) => {
        if (!name) { removeExt(element, operator); return; }
        if (operator) { modeling.updateModdleProperties(element, operator, { id: name }); return; }
        const spec = catalog.operators.find((o) => o.name === name);
        const created = moddle.create("spiffworkflow:ServiceTaskOperator", { id: name, resultVariable: `${element.businessObject.id}_result` });
        const params = moddle.create("spiffworkflow:Parameters", { parameters: [] });
        const retry = moddle.create("spiffworkflow:Retry", { retries: String(spec.retries), backoff_base: String(spec.backoff_base) });
        params.$parent = created; retry.$parent = created;
        created.parameterList = params; created.retry = retry;
        addExt(element, created);
      }))];
      if (operator) {
        nodes.push(field(T.resultVariable, text("result", operator.resultVariable, (v) => modeling.updateModdleProperties(element, operator, { resultVariable: v || undefined }))));
        let params = operator.parameterList;
        const list = params ? params.get("parameters") : [];
        const rows = list.map((p, i) => h("tr", {},
          h("td", {}, text(`param-id-${i}`, p.id, (v) => modeling.updateModdleProperties(element, p, { id: v }))),
          h("td", {}, select(`param-type-${i}`, p.type || "str", [["str", "str"], ["int", "int"], ["float", "float"], ["bool", "bool"], ["dict", "dict"], ["list", "list"], ["any", "any"]],
            (v) => modeling.updateModdleProperties(element, p, { type: v }))),
          h("td", {}, text(`param-value-${i}`, p.value, (v) => modeling.updateModdleProperties(element, p, { value: v }))),
          h("td", {}, ro ? null : h("button", { type: "button", class: "small", text: "×", title: T.remove,
            onclick: () => modeling.updateModdleProperties(element, params, { parameters: list.filter((q) => q !== p) }) }))));
        nodes.push(h("table", { class: "panel-params" }, h("thead", {}, h("tr", {}, h("th", { text: T.paramName }), h("th", { text: T.paramType }), h("th", { text: T.paramValue }), h("th"))),
          h("tbody", {}, rows)));
        if (!ro) nodes.push(h("button", { type: "button", class: "small", text: T.addParam, onclick: () => {
          if (!params) {
            params = moddle.create("spiffworkflow:Parameters", { parameters: [] });
            params.$parent = operator;
            modeling.updateModdleProperties(element, operator, { parameterList: params });
          }
          const p = moddle.create("spiffworkflow:Parameter", { id: "name", type: "str", value: "''" });
          p.$parent = params;
          modeling.updateModdleProperties(element, params, { parameters: params.get("parameters").concat([p]) });
        } }));
        const retry = operator.retry;
        const setRetry = (key) => (v) => {
          if (retry) { modeling.updateModdleProperties(element, retry, { [key]: v || undefined }); return; }
          const created = moddle.create("spiffworkflow:Retry", { [key]: v });
          created.$parent = operator;
          modeling.updateModdleProperties(element, operator, { retry: created });
        };
        nodes.push(h("div", { class: "panel-row" },
          field(T.retries, text("retries", retry && retry.retries, setRetry("retries"), { type: "number", min: "1" })),
          field(T.backoff, text("backoff", retry && retry.backoff_base, setRetry("backoff_base"), { type: "number", min: "1" }))),
        h("p", { class: "help", text: T.retryHelp }));
      }
      return section(T.operator, nodes);
    }

    function timer(element) {
      const definition = (element.businessObject.eventDefinitions || []).find((d) => d.$type === "bpmn:TimerEventDefinition");
      if (!definition) return null;
      const kind = TIMER_KINDS.find((k) => definition[k]) || "timeDate";
      const expression = definition[kind] ? definition[kind].body : "";
      const write = (newKind, body) => {
        const change = {};
        TIMER_KINDS.forEach((k) => { change[k] = undefined; });
        change[newKind] = factory.create("bpmn:FormalExpression", { body });
        modeling.updateModdleProperties(element, definition, change);
      };
      const nodes = [
        field(T.timerKind, select("timer-kind", kind, TIMER_KINDS.map((k) => [k, T[k]]), (k) => write(k, expression))),
        field(T.timerExpression, text("timer", expression, (v) => write(kind, v))),
      ];
      const sla = SLA.exec(expression || "");
      if (sla && element.host) {
        nodes.push(h("p", { class: "small" }, `${T.slaOf}: `, h("strong", { text: element.host.businessObject.name || element.host.id })));
        nodes.push(field(T.slaKey, select("sla-key", sla[1], catalog.sla_keys.map((k) => [k, k]),
          (key) => write(kind, expression.replace(SLA, (all, old, factor) => `sla_due(sla['${key}']${factor ? ", " + factor : ""})`))), T.slaHelp));
        nodes.push(field(T.slaLevel, select("sla-level", properties(element).sla_level, [["", T.none], ["warning", "warning (75 %)"], ["head", "head (100 %)"], ["director", "director (200 %)"]],
          (v) => setProperty(element, "sla_level", v))));
      }
      return section(T.timer, nodes);
    }

    function slaTimers(element) {
      const attached = (element.attachers || []).filter((b) => (b.businessObject.eventDefinitions || []).some((d) => d.$type === "bpmn:TimerEventDefinition"));
      const watching = attached.filter((b) => {
        const d = b.businessObject.eventDefinitions[0];
        return SLA.test(TIMER_KINDS.map((k) => (d[k] ? d[k].body : "")).join(" "));
      });
      const list = h("ul", { class: "panel-list" }, watching.map((b) => h("li", {}, h("button", { type: "button", class: "link", text: b.businessObject.name || b.id,
        onclick: () => modeler.get("selection").select(b) }))));
      const key = catalog.sla_keys.includes(element.businessObject.id) ? element.businessObject.id : catalog.sla_keys[0];
      const add = ro || watching.length ? null : h("button", { type: "button", class: "small", "data-add-sla": "1", text: T.slaAdd, onclick: () => {
        catalog.sla_timers.forEach((spec, i) => {
          const definition = factory.create("bpmn:TimerEventDefinition");
          const body = `sla_due(sla['${key}']${spec.factor ? ", " + spec.factor : ""})`;
          definition.timeDate = factory.create("bpmn:FormalExpression", { body });
          definition.timeDate.$parent = definition;
          const bo = factory.create("bpmn:BoundaryEvent", { name: spec.name, cancelActivity: false, eventDefinitions: [definition] });
          definition.$parent = bo;
          const shape = elementFactory.createShape({ type: "bpmn:BoundaryEvent", businessObject: bo });
          const created = modeling.createShape(shape, { x: element.x + 18 + i * 32, y: element.y + element.height }, element, { attach: true });
          setProperty(created, "sla_level", spec.level);
        });
        render(); // the task itself did not change: show its new timers
      } });
      return section(T.slaPresent, list, add, h("p", { class: "help", text: T.slaHelp }));
    }

    function bindings(element) {
      const props = properties(element);
      const nodes = catalog.bindings.map((rule) => {
        const value = props[rule.name];
        const control = rule.values
          ? select(`binding-${rule.name}`, value, [["", T.none]].concat(rule.values.map((v) => [v.value, `${v.label} (${v.value})`])), (v) => setProperty(element, rule.name, v))
          : area(`binding-${rule.name}`, value, (v) => setProperty(element, rule.name, v.trim()), { rows: 2 });
        return field(rule.name, control, rule.meaning);
      });
      return section(T.bindings, nodes);
    }

    function otherProperties(element) {
      const props = properties(element);
      const names = Object.keys(props).filter((n) => !OWN.has(n) && !n.startsWith("bespoke:"));
      if (!names.length) return null;
      return section(T.properties, names.map((name) => field(name, text(`prop-${name}`, props[name], (v) => setProperty(element, name, v)))));
    }

    function scripts(element) {
      const pre = ext(element, "spiffworkflow:PreScript");
      const post = ext(element, "spiffworkflow:PostScript");
      return section(T.script,
        field(T.preScript, area("pre-script", pre && pre.value, (v) => setBody(element, "spiffworkflow:PreScript", v), { rows: 2 })),
        field(T.postScript, area("post-script", post && post.value, (v) => setBody(element, "spiffworkflow:PostScript", v), { rows: 2 })));
    }

    function callActivity(element) {
      const target = element.businessObject.calledElement;
      const url = target ? options.studioUrl + encodeURIComponent(target) : null;
      const open = url ? h("a", { href: url, class: "small", "data-open-process": target, onclick: async (e) => {
        e.preventDefault();
        if (await options.beforeLeave()) window.location.assign(url);
      } }, `${T.openCalled}: ${target}`) : null;
      return section(T.calls, field(T.calls, text("calledElement", target, (v) => {
        modeling.updateProperties(element, { calledElement: v.trim() || undefined });
      })), open);
    }

    function scriptTask(element) {
      return section(T.script, field(T.script, area("script", element.businessObject.script, (v) => {
        modeling.updateProperties(element, { script: v, scriptFormat: element.businessObject.scriptFormat || "python" });
      }, { rows: 8, class: "code" })));
    }

    function decision(element) {
      const called = ext(element, "spiffworkflow:CalledDecisionId");
      return section(T.decision, field(T.decision, select("decision", called && called.value, [["", T.none]].concat(catalog.decisions.map((d) => [d, d])),
        (v) => setBody(element, "spiffworkflow:CalledDecisionId", v))));
    }

    function flow(element) {
      const bo = element.businessObject;
      const source = bo.sourceRef;
      if (!source || !/Gateway$/.test(source.$type) || source.$type === "bpmn:ParallelGateway") return null;
      const isDefault = source.default === bo;
      return section(T.condition,
        field(T.condition, area("condition", bo.conditionExpression && bo.conditionExpression.body, (v) => {
          modeling.updateProperties(element, { conditionExpression: v.trim() ? factory.create("bpmn:FormalExpression", { body: v.trim() }) : undefined });
        }, { rows: 2, class: "code", disabled: isDefault }), T.conditionHelp),
        h("label", { class: "check" }, h("input", { type: "checkbox", "data-key": "default", checked: isDefault, disabled: ro, onchange: (e) => {
          modeling.updateProperties(element.source, { default: e.target.checked ? bo : undefined });
        } }), T.defaultFlow));
    }

    // -- rendering ------------------------------------------------------------------------------------------------
    function render() {
      const focused = document.activeElement && container.contains(document.activeElement) ? document.activeElement.dataset.key : null;
      container.innerHTML = "";
      const element = current;
      if (!element || element.type === "label") {
        container.append(h("p", { class: "muted small", text: T.selectElement }));
        return;
      }
      const type = element.type;
      const parts = [general(element)];
      if (type === "bpmn:Lane") parts.push(laneRole(element));
      const lane = laneField(element);
      if (lane && type !== "bpmn:Lane" && type !== "bpmn:Participant") parts.push(section(T.laneOf, lane));
      if (type === "bpmn:UserTask") parts.push(userTask(element), slaTimers(element), bindings(element));
      if (type === "bpmn:ServiceTask") parts.push(serviceTask(element));
      if (type === "bpmn:BusinessRuleTask") parts.push(decision(element));
      if (type === "bpmn:ScriptTask") parts.push(scriptTask(element));
      if (type === "bpmn:CallActivity") parts.push(callActivity(element));
      if (type === "bpmn:SequenceFlow") parts.push(flow(element));
      if (/Event$/.test(type)) parts.push(timer(element));
      if (/Task$/.test(type)) parts.push(scripts(element));
      if (type !== "bpmn:Process" && type !== "bpmn:Collaboration") parts.push(otherProperties(element));
      parts.filter(Boolean).forEach((part) => container.append(part));
      if (focused) {
        const again = container.querySelector(`[data-key="${CSS.escape(focused)}"]`);
        if (again) again.focus();
      }
    }

    eventBus.on("selection.changed", (event) => {
      current = event.newSelection.length === 1 ? event.newSelection[0] : null;
      render();
    });
    eventBus.on("elements.changed", (event) => {
      if (!current) return;
      if (event.elements.some((e) => e === current || e.id === current.id)) {
        current = registry.get(current.id) || null;
        render();
      }
    });
    render();
  };
})();
