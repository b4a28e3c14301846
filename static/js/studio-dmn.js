// The studio's DMN editor: dmn-js on one of the draft's decision files, saved into the draft and validated with it.
(function () {
  "use strict";
  const root = document.getElementById("studio-dmn");
  if (!root || typeof DmnJS === "undefined") return;
  const T = JSON.parse(document.getElementById("studio-messages").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const editable = root.dataset.editable === "true";
  const notice = document.getElementById("notice");
  const dirtyMark = document.getElementById("dirty-mark");
  const modeler = new DmnJS({ container: "#dmn-canvas", common: { keyboard: { bindTo: window } } });
  let token = root.dataset.token;
  let changes = 0;
  let savedAt = 0;
  let problems = [];

  function say(text, kind) {
    notice.textContent = text || "";
    notice.className = "studio-notice " + (kind || "info");
    notice.hidden = !text;
  }

  function dirty() { return changes !== savedAt; }

  // Cells and rules carry their DMN ids: mark the ones the validation names.
  function mark() {
    document.querySelectorAll(".dmn-problem-cell").forEach((cell) => cell.classList.remove("dmn-problem-cell"));
    problems.forEach((p) => {
      if (!p.element_id) return;
      document.querySelectorAll(`[data-element-id="${CSS.escape(p.element_id)}"]`).forEach((cell) => {
        cell.classList.add("dmn-problem-cell");
        cell.title = p.message;
      });
    });
  }

  function show(list) {
    problems = list.filter((p) => !p.file || p.file === root.dataset.file);
    const others = list.length - problems.length;
    const ul = document.getElementById("problem-list");
    const count = document.getElementById("problem-count");
    ul.innerHTML = "";
    const errors = problems.filter((p) => p.severity === "error").length;
    count.textContent = String(problems.length);
    count.className = "badge " + (errors ? "overdue" : problems.length ? "at-risk" : "ok");
    if (!problems.length) {
      const li = document.createElement("li");
      li.className = "muted small";
      li.textContent = T.noProblems + (others ? ` (${others} ${T.otherFile})` : "");
      ul.appendChild(li);
    }
    problems.forEach((p) => {
      const li = document.createElement("li");
      li.className = "problem " + (p.severity === "error" ? "error" : "warning");
      const title = document.createElement("strong");
      title.textContent = p.name || p.element_id || root.dataset.file;
      const code = document.createElement("code");
      code.textContent = p.element_id ? " " + p.element_id : "";
      const message = document.createElement("span");
      message.className = "problem-message";
      message.textContent = p.message;
      li.append(title, code, message);
      ul.appendChild(li);
    });
    mark();
  }

  async function save() {
    if (!editable) return false;
    const at = changes;
    say(T.saving, "info");
    const { xml } = await modeler.saveXML({ format: true });
    const response = await fetch(root.dataset.saveUrl, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify({ xml, token }),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) { say(body.message || T.saveFailed, "error"); return false; }
    token = body.token;
    savedAt = at;
    dirtyMark.hidden = !dirty();
    show(body.problems || []);
    say(body.errors ? "" : T.saved, "ok");
    return true;
  }

  async function load() {
    const xml = await fetch(root.dataset.sourceUrl, { credentials: "same-origin" }).then((r) => r.text());
    await modeler.importXML(xml);
    // Open the decision table itself rather than the decision requirements diagram.
    const table = modeler.getViews().find((view) => view.type === "decisionTable");
    if (table) await modeler.open(table);
    modeler.on("views.changed", () => setTimeout(mark, 0));
    const viewer = modeler.getActiveViewer();
    viewer.on("elements.changed", () => { changes += 1; dirtyMark.hidden = !dirty(); setTimeout(mark, 0); });
    show(JSON.parse(document.getElementById("initial-problems").textContent));
  }

  const button = document.getElementById("save-dmn");
  if (button) button.addEventListener("click", save);
  document.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") { event.preventDefault(); save(); }
  });
  window.addEventListener("beforeunload", (event) => {
    if (dirty()) { event.preventDefault(); event.returnValue = T.unsaved; }
  });
  window.bespokeDmn = modeler;
  load().catch((exc) => say(`${T.loadFailed}: ${exc.message || exc}`, "error"));
})();
