// The studio's modeler: bpmn-js on the process draft, saved to the server (button, Ctrl+S, a few seconds after a
// change), the server's validation shown as markers on the diagram and as a list, publishing with a comment.
(function () {
  "use strict";
  const root = document.getElementById("studio");
  if (!root || typeof BpmnJS === "undefined") return;

  const T = JSON.parse(document.getElementById("studio-messages").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const editable = root.dataset.editable === "true";
  const AUTOSAVE_MS = 4000;

  // The spiffworkflow: extension elements our engine reads (SpiffWorkflow's spiff parser), so the modeler keeps
  // them typed: properties/property, serviceTaskOperator/parameters/parameter/retry, calledDecisionId, scripts.
  const SPIFFWORKFLOW = {
    name: "SpiffWorkflow", uri: "http://spiffworkflow.org/bpmn/schema/1.0/core", prefix: "spiffworkflow",
    xml: { tagAlias: "lowerCase" }, associations: [],
    types: [
      { name: "Properties", superClass: ["Element"],
        properties: [{ name: "properties", type: "Property", isMany: true }] },
      { name: "Property", superClass: ["Element"],
        properties: [{ name: "name", type: "String", isAttr: true }, { name: "value", type: "String", isAttr: true }] },
      { name: "ServiceTaskOperator", superClass: ["Element"],
        properties: [{ name: "id", type: "String", isAttr: true }, { name: "resultVariable", type: "String", isAttr: true },
          { name: "parameterList", type: "Parameters" }, { name: "retry", type: "Retry" }] },
      { name: "Parameters", superClass: ["Element"],
        properties: [{ name: "parameters", type: "Parameter", isMany: true }] },
      { name: "Parameter", superClass: ["Element"],
        properties: [{ name: "id", type: "String", isAttr: true }, { name: "type", type: "String", isAttr: true },
          { name: "value", type: "String", isAttr: true }] },
      { name: "Retry", superClass: ["Element"],
        properties: [{ name: "retries", type: "String", isAttr: true }, { name: "backoff_base", type: "String", isAttr: true }] },
      { name: "CalledDecisionId", superClass: ["Element"], properties: [{ name: "value", type: "String", isBody: true }] },
      { name: "PreScript", superClass: ["Element"], properties: [{ name: "value", type: "String", isBody: true }] },
      { name: "PostScript", superClass: ["Element"], properties: [{ name: "value", type: "String", isBody: true }] },
      { name: "MessageVariable", superClass: ["Element"], properties: [{ name: "value", type: "String", isBody: true }] },
    ],
  };

  const modeler = new BpmnJS({ container: "#canvas", moddleExtensions: { spiffworkflow: SPIFFWORKFLOW } });
  const canvas = modeler.get("canvas");
  const registry = modeler.get("elementRegistry");
  const overlays = modeler.get("overlays");
  const eventBus = modeler.get("eventBus");

  const notice = document.getElementById("notice");
  const dirtyMark = document.getElementById("dirty-mark");
  const owner = document.getElementById("draft-owner");
  const saveButton = document.getElementById("save-draft");
  const publishButton = document.getElementById("open-publish");
  const dialog = document.getElementById("publish-dialog");

  let token = root.dataset.token;
  let changes = 0; // commands since the page loaded; a save clears "dirty" only if nothing changed meanwhile
  let savedAt = 0;
  let saving = null;
  let autosave = null;
  let errors = 0;
  let marked = [];
  let leaving = false;

  function say(text, kind) {
    notice.textContent = text || "";
    notice.className = "studio-notice " + (kind || "info");
    notice.hidden = !text;
  }

  function dirty() { return changes !== savedAt; }

  function showDirty() {
    dirtyMark.hidden = !dirty();
  }

  // -- problems: markers, overlays and the list ---------------------------------------------------------------
  function showProblems(problems) {
    marked.forEach((id) => { canvas.removeMarker(id, "bespoke-error"); canvas.removeMarker(id, "bespoke-warning"); });
    overlays.remove({ type: "bespoke-problem" });
    marked = [];
    errors = problems.filter((p) => p.severity === "error").length;
    const byElement = new Map();
    problems.forEach((p) => {
      if (p.element_id && registry.get(p.element_id)) {
        if (!byElement.has(p.element_id)) byElement.set(p.element_id, []);
        byElement.get(p.element_id).push(p);
      }
    });
    byElement.forEach((list, id) => {
      const kind = list.some((p) => p.severity === "error") ? "bespoke-error" : "bespoke-warning";
      canvas.addMarker(id, kind);
      marked.push(id);
      const bubble = document.createElement("div");
      bubble.className = "bespoke-problem-bubble " + kind;
      bubble.textContent = list.map((p) => p.message).join("; ");
      bubble.title = bubble.textContent;
      overlays.add(id, "bespoke-problem", { position: { bottom: -6, left: 0 }, html: bubble });
    });
    renderList(problems);
    if (publishButton) publishButton.disabled = errors > 0;
  }

  function renderList(problems) {
    const list = document.getElementById("problem-list");
    const count = document.getElementById("problem-count");
    list.innerHTML = "";
    const warnings = problems.length - errors;
    count.textContent = problems.length ? `${T.errors}: ${errors} · ${T.warnings}: ${warnings}` : "0";
    count.className = "badge " + (errors ? "overdue" : warnings ? "at-risk" : "ok");
    if (!problems.length) {
      const ok = document.createElement("li");
      ok.className = "muted small";
      ok.textContent = T.noProblems;
      list.appendChild(ok);
      return;
    }
    // Problems of no element (the whole file) first, then errors before warnings.
    const sorted = problems.slice().sort((a, b) => (registry.get(a.element_id || "") ? 1 : 0) - (registry.get(b.element_id || "") ? 1 : 0)
      || (a.severity === "error" ? 0 : 1) - (b.severity === "error" ? 0 : 1));
    sorted.forEach((p) => {
      const item = document.createElement("li");
      item.className = "problem " + (p.severity === "error" ? "error" : "warning");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "link problem-link";
      const element = p.element_id ? registry.get(p.element_id) : null;
      const title = document.createElement("strong");
      title.textContent = p.name || (element && element.businessObject.name) || (p.element_id ? p.element_id : (p.file || T.process));
      button.appendChild(title);
      if (p.element_id) {
        const code = document.createElement("code");
        code.textContent = " " + p.element_id;
        button.appendChild(code);
      }
      const message = document.createElement("span");
      message.className = "problem-message";
      message.textContent = p.message;
      button.appendChild(message);
      button.dataset.element = p.element_id || "";
      if (element) button.addEventListener("click", () => focusElement(element));
      else button.disabled = !p.element_id;
      item.appendChild(button);
      list.appendChild(item);
    });
  }

  function focusElement(element) {
    modeler.get("selection").select(element);
    canvas.scrollToElement(element, { top: 120, bottom: 120, left: 200, right: 200 });
  }

  // -- loading ------------------------------------------------------------------------------------------------
  async function load() {
    const [source, catalog] = await Promise.all([
      fetch(root.dataset.sourceUrl, { credentials: "same-origin" }).then((r) => { if (!r.ok) throw new Error(r.status); return r.text(); }),
      fetch(root.dataset.catalogUrl, { credentials: "same-origin", headers: { Accept: "application/json" } }).then((r) => r.json()),
    ]);
    await modeler.importXML(source);
    showStart();
    showProblems(JSON.parse(document.getElementById("initial-problems").textContent));
    BespokePanel(modeler, document.getElementById("properties-body"), catalog, T, {
      editable, formsUrl: root.dataset.formsUrl, studioUrl: root.dataset.studioUrl, beforeLeave: saveBeforeLeaving,
    });
    root.classList.add("loaded");
  }

  // The lifecycle is several metres wide: open at its start, readable, rather than fitted to a dot.
  function showStart() {
    const start = registry.filter((e) => e.type === "bpmn:StartEvent" && e.parent && e.parent.type !== "bpmn:SubProcess")[0];
    canvas.zoom("fit-viewport");
    if (!start || canvas.zoom() >= 0.6) return;
    const box = canvas.viewbox();
    const scale = 0.75;
    const width = box.outer.width / scale;
    const height = box.outer.height / scale;
    canvas.viewbox({ x: start.x - 120, y: start.y + start.height / 2 - height / 2, width, height });
  }

  // -- saving -------------------------------------------------------------------------------------------------
  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body),
    });
    let answer = {};
    try { answer = await response.json(); } catch (e) { answer = { message: response.statusText }; }
    return { ok: response.ok, status: response.status, body: answer };
  }

  async function save() {
    if (!editable) return false;
    if (saving) await saving;
    clearTimeout(autosave);
    const at = changes;
    saving = (async () => {
      say(T.saving, "info");
      const { xml } = await modeler.saveXML({ format: true });
      const answer = await post(root.dataset.saveUrl, { bpmn: xml, token });
      if (answer.ok) {
        token = answer.body.token;
        savedAt = at;
        showDirty();
        showProblems(answer.body.problems || []);
        owner.textContent = T.savedBy;
        say(answer.body.errors ? "" : T.saved, "ok");
        return true;
      }
      say(answer.body.message || T.saveFailed, answer.status === 409 ? "error stale" : "error");
      return false;
    })();
    try { return await saving; } finally { saving = null; }
  }

  async function saveBeforeLeaving() {
    if (!dirty()) return true;
    return save();
  }

  eventBus.on("commandStack.changed", () => {
    changes += 1;
    showDirty();
    if (!editable) return;
    clearTimeout(autosave);
    autosave = setTimeout(save, AUTOSAVE_MS);
  });

  if (saveButton) saveButton.addEventListener("click", () => save());
  document.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") {
      event.preventDefault();
      save();
    }
  });

  window.addEventListener("beforeunload", (event) => {
    if (!leaving && dirty()) {
      event.preventDefault();
      event.returnValue = T.unsaved;
    }
  });

  document.getElementById("download-bpmn").addEventListener("click", async (event) => {
    if (!dirty()) return; // the saved draft is what the server serves
    event.preventDefault();
    const { xml } = await modeler.saveXML({ format: true });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([xml], { type: "application/xml" }));
    link.download = `${root.dataset.processId}-draft.bpmn`;
    link.click();
    URL.revokeObjectURL(link.href);
  });

  const discard = document.getElementById("discard-form");
  if (discard) {
    discard.addEventListener("submit", (event) => {
      if (!window.confirm(discard.dataset.confirm)) { event.preventDefault(); return; }
      leaving = true;
    });
  }

  // -- publishing ---------------------------------------------------------------------------------------------
  if (publishButton) {
    const comment = document.getElementById("publish-comment");
    const error = document.getElementById("publish-error");
    const submit = document.getElementById("publish-submit");
    publishButton.addEventListener("click", () => { error.hidden = true; dialog.showModal(); comment.focus(); });
    document.getElementById("publish-cancel").addEventListener("click", () => dialog.close());
    document.getElementById("publish-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!comment.value.trim()) {
        error.textContent = T.commentRequired;
        error.hidden = false;
        return;
      }
      submit.disabled = true;
      try {
        if (dirty() && !(await save())) { dialog.close(); return; }
        if (errors) { dialog.close(); say(T.publishFailed, "error"); return; }
        say(T.publishing, "info");
        const answer = await post(root.dataset.publishUrl, { comment: comment.value, token });
        if (answer.ok) {
          leaving = true;
          window.location.assign(answer.body.next);
          return;
        }
        if (answer.body.fields && answer.body.fields.comment) {
          error.textContent = answer.body.message;
          error.hidden = false;
          return;
        }
        dialog.close();
        if (answer.body.problems) showProblems(answer.body.problems);
        say(answer.body.problems ? T.publishFailed : (answer.body.message || T.publishFailed), "error");
      } finally {
        submit.disabled = false;
      }
    });
  }

  window.bespokeModeler = modeler; // for the browser tests and the console
  load().catch((exc) => say(`${T.loadFailed}: ${exc.message || exc}`, "error"));
})();
