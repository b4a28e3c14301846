// The studio's form editor: the field list edits the JSON Schema and UI schema in place (keys it does not know are
// kept), the server draws the preview with the task page's renderer and checks the form on every change.
(() => {
  const $ = (id) => document.getElementById(id);
  const boot = JSON.parse($("form-studio-data").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  // The page's words in the user's language (app/studio/forms.py EDITOR_WORDS); «{name}» takes a value.
  const t = (text, values = {}) => Object.entries(values).reduce(
    (out, [name, value]) => out.replaceAll(`{${name}}`, String(value)), (boot.words || {})[text] || text);
  const state = { schema: boot.schema, ui: boot.ui || {}, problems: boot.problems || [], dirty: false, jsonBroken: null };
  const open = new Set();

  const KINDS = [
    ["text", t("Строка")], ["textarea", t("Многострочный текст")], ["integer", t("Целое число")], ["number", t("Число")],
    ["money", t("Сумма, ₽")], ["date", t("Дата")], ["datetime", t("Дата и время")], ["boolean", t("Да / нет")],
    ["enum", t("Выбор из списка")], ["phone", t("Телефон")], ["email", "E-mail"], ["files", t("Файлы")],
    ["user", t("Сотрудник с ролью")],
  ];
  const WIDGETS = { textarea: "textarea", files: "file", user: "user", boolean: "radio" };  // a yes/no asked, not a tick that always answers
  const ROLES = ["sales", "dispatch", "measurer", "designer", "accountant", "procurement", "production",
    "delivery_dispatch", "installer", "quality", "director"];
  const TRANSLIT = { а: "a", б: "b", в: "v", г: "g", д: "d", е: "e", ё: "e", ж: "zh", з: "z", и: "i", й: "i", к: "k",
    л: "l", м: "m", н: "n", о: "o", п: "p", р: "r", с: "s", т: "t", у: "u", ф: "f", х: "h", ц: "c", ч: "ch",
    ш: "sh", щ: "sch", ъ: "", ы: "y", ь: "", э: "e", ю: "yu", я: "ya" };

  const props = () => (state.schema.properties = state.schema.properties || {});
  const uiOf = (key) => (state.ui[key] = state.ui[key] || {});
  // Reading never adds keys: a form opened and saved unchanged is saved as it was.
  const setUi = (key, prop, value) => {
    const ui = uiOf(key);
    if (value === undefined || value === "") delete ui[prop]; else ui[prop] = value;
    if (!Object.keys(ui).length) delete state.ui[key];
  };
  const required = () => (Array.isArray(state.schema.required) ? state.schema.required : []);
  const slug = (text) => [...text.toLowerCase()].map((c) => TRANSLIT[c] ?? c).join("")
    .replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "").replace(/^(\d)/, "f_$1").slice(0, 40);
  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v === true ? "" : v);
    }
    children.flat().forEach((c) => node.append(c));
    return node;
  };

  // Fields in the renderer's order: ui:order (with "*" for the rest), then the schema's own order.
  function order() {
    const keys = Object.keys(props());
    const listed = Array.isArray(state.ui["ui:order"]) ? state.ui["ui:order"] : [];
    const rest = keys.filter((k) => !listed.includes(k));
    const names = [];
    listed.forEach((k) => { if (k === "*") names.push(...rest); else if (keys.includes(k)) names.push(k); });
    if (!listed.includes("*")) names.push(...rest);
    return names;
  }
  const setOrder = (keys) => { state.ui["ui:order"] = keys; };

  function kindOf(node, ui) {
    if (node.type === "array" && (node.items || {}).format === "attachment") return "files";
    if (node.type === "object") return "object";
    if (node.type === "array") return "table";
    if (typeof node["x-choices"] === "string") return "user";
    if (Array.isArray(node.enum)) return "enum";
    if (node.type === "boolean") return "boolean";
    if (node.type === "integer") return "integer";
    if (node.type === "number") return node.format === "money" ? "money" : "number";
    if (node.type === "string") {
      const formats = { date: "date", "date-time": "datetime", phone: "phone", email: "email" };
      if (formats[node.format]) return formats[node.format];
      return (ui || {})["ui:widget"] === "textarea" ? "textarea" : "text";
    }
    return "other";
  }

  function fresh(kind) {
    switch (kind) {
      case "textarea": case "text": return { type: "string" };
      case "integer": return { type: "integer" };
      case "number": return { type: "number" };
      case "money": return { type: "number", format: "money", minimum: 0 };
      case "date": return { type: "string", format: "date" };
      case "datetime": return { type: "string", format: "date-time" };
      case "boolean": return { type: "boolean" };
      case "enum": return { type: "string", enum: [], "x-enumNames": [] };
      case "phone": return { type: "string", format: "phone" };
      case "email": return { type: "string", format: "email" };
      case "files": return { type: "array", items: { type: "string", format: "attachment" }, default: [] };
      case "user": return { type: "string", "x-choices": "role:sales" };
      default: return { type: "string" };
    }
  }

  function setKind(key, kind) {
    const old = props()[key];
    const node = fresh(kind);
    ["title", "description"].forEach((k) => { if (old[k] !== undefined) node[k] = old[k]; });
    if (kind === "enum" && Array.isArray(old.enum)) { node.enum = old.enum; node["x-enumNames"] = old["x-enumNames"] || []; }
    props()[key] = node;
    setUi(key, "ui:widget", WIDGETS[kind]);
  }

  // -- renaming a key everywhere it is named ---------------------------------------------------------------
  function renameKey(from, to) {
    const entries = Object.entries(props()).map(([k, v]) => [k === from ? to : k, v]);
    state.schema.properties = Object.fromEntries(entries);
    const swap = (list) => (Array.isArray(list) ? list.map((k) => (k === from ? to : k)) : list);
    state.schema.required = swap(state.schema.required);
    if (state.ui[from]) { state.ui[to] = state.ui[from]; delete state.ui[from]; }
    state.ui["ui:order"] = swap(state.ui["ui:order"]);
    (state.schema.allOf || []).forEach((part) => {
      const cond = parseCondition(part);
      if (!cond) return;
      if (cond.field === from) part.if = conditionIf(to, cond.value);
      part.then.required = swap(part.then.required);
    });
    (state.schema["x-rules"] || []).forEach((rule) => { if (rule.field === from) rule.field = to; });
    if (open.delete(from)) open.add(to);
  }

  function removeField(key) {
    delete props()[key];
    delete state.ui[key];
    state.schema.required = required().filter((k) => k !== key);
    setOrder(order());
    open.delete(key);
  }

  function addField() {
    const title = $("new-title").value.trim();
    const key = $("new-key").value.trim() || slug(title);
    const kind = $("new-kind").value;
    const badKey = key && !/^[a-z][a-z0-9_]*$/.test(key);
    const problem = !key ? t("Введите название или ключ поля")
      : badKey ? t("Ключ «{key}»: латинские строчные буквы, цифры и «_», с буквы", { key })
        : props()[key] ? t("Поле «{key}» уже есть", { key }) : "";
    $("new-field-error").textContent = problem;
    if (problem) { $(key && (badKey || props()[key]) ? "new-key" : "new-title").focus(); return; }
    const keys = order();
    props()[key] = fresh(kind);
    if (title) props()[key].title = title;
    if (WIDGETS[kind]) uiOf(key)["ui:widget"] = WIDGETS[kind];
    setOrder([...keys, key]);
    open.add(key);
    $("new-title").value = ""; $("new-key").value = ""; $("new-key").placeholder = "call_result";
    changed(true);
    const added = document.querySelector(`[data-key="${key}"] input[data-prop="title"]`);
    if (added) added.focus();
  }

  function move(key, delta) {
    const keys = order();
    const at = keys.indexOf(key);
    const to = at + delta;
    if (at < 0 || to < 0 || to >= keys.length) return;
    keys.splice(at, 1); keys.splice(to, 0, key);
    setOrder(keys);
    changed(true);
    const button = document.querySelector(`[data-key="${key}"] [data-move="${delta}"]`);
    if (button && !button.disabled) button.focus();
  }

  // -- conditional requirements: allOf [{if: {properties: {X: {const: V}}, required: [X]}, then: {required}}] ---
  function parseCondition(part) {
    const cond = part && part.if && part.if.properties;
    if (!cond || !part.then || Object.keys(cond).length !== 1) return null;
    const field = Object.keys(cond)[0];
    if (!cond[field] || !("const" in cond[field])) return null;
    return { field, value: cond[field].const, then: Array.isArray(part.then.required) ? part.then.required : [] };
  }
  const conditionIf = (field, value) => ({ properties: { [field]: { const: value } }, required: [field] });

  function typedValue(node, raw) {
    if (node && node.type === "boolean") return raw === "true";
    if (node && (node.type === "integer" || node.type === "number") && raw !== "" && !Number.isNaN(Number(raw))) return Number(raw);
    return raw;
  }

  // -- rendering -----------------------------------------------------------------------------------------------
  const problemsFor = (pred) => state.problems.filter(pred);
  const problemList = (items) => el("ul", { class: "problems" }, items.map((p) => el("li", { class: "error", text: p.message })));

  function input(label, value, onchange, attrs = {}) {
    const id = `in-${Math.random().toString(36).slice(2, 9)}`;
    return el("div", { class: "field" }, el("label", { for: id, text: label }),
      el("input", { id, value: value ?? "", oninput: (e) => onchange(e.target.value, false), onchange: (e) => onchange(e.target.value, true), ...attrs }));
  }
  function select(label, value, options, onchange, attrs = {}) {
    const id = `sel-${Math.random().toString(36).slice(2, 9)}`;
    const node = el("select", { id, onchange: (e) => onchange(e.target.value), ...attrs },
      options.map(([v, t]) => el("option", { value: v, text: t, selected: String(v) === String(value) })));
    return el("div", { class: "field" }, el("label", { for: id, text: label }), node);
  }
  const numberOrNull = (v) => (v.trim() === "" || Number.isNaN(Number(v.replace(",", "."))) ? undefined : Number(v.replace(",", ".")));
  const setOrDelete = (obj, key, value) => { if (value === undefined || value === "") delete obj[key]; else obj[key] = value; };

  function details(key, node, ui, kind) {
    const parts = [];
    const edit = (fn, rebuild = false) => (value, committed) => { fn(value); changed(rebuild && committed); };
    parts.push(el("div", { class: "row3" },
      input("Название", node.title, edit((v) => {
        setOrDelete(node, "title", v);
        state.sideStale = true;
        const shown = document.querySelector(`[data-key="${key}"] .field-toggle strong`);
        if (shown) shown.textContent = v || key;
      }), { "data-prop": "title" }),
      input("Ключ", key, (v, committed) => {
        if (!committed || v === key) return;
        const problem = !/^[a-z][a-z0-9_]*$/.test(v) ? t("Ключ «{key}»: латинские строчные буквы, цифры и «_», с буквы", { key: v })
          : props()[v] ? t("Поле «{key}» уже есть", { key: v }) : "";
        const box = document.querySelector(`[data-key="${key}"] input[data-prop="key"]`).closest(".field");
        box.querySelectorAll("p.error").forEach((p) => p.remove());
        if (problem) { box.append(el("p", { class: "error", role: "alert", text: problem })); return; }  // the typed key stays to be corrected
        renameKey(key, v); changed(true);
      }, { "data-prop": "key", pattern: "[a-z][a-z0-9_]*" }),
      select("Тип", kind, KINDS.concat(KINDS.some(([k]) => k === kind) ? [] : [[kind, kind === "object" ? t("Группа полей") : kind === "table" ? t("Таблица") : t("Другое")]]),
        (v) => { setKind(key, v); changed(true); }, { "data-prop": "kind" })));
    parts.push(el("label", { class: "check" }, el("input", {
      type: "checkbox", "data-prop": "required", checked: required().includes(key),
      onchange: (e) => {
        state.schema.required = required().filter((k) => k !== key).concat(e.target.checked ? [key] : []);
        changed(true);
      },
    }), " " + t("Обязательное")));
    parts.push(input("Подсказка", node.description, edit((v) => setOrDelete(node, "description", v)), { "data-prop": "description" }));
    if (["text", "textarea", "phone", "email", "integer", "number", "money"].includes(kind)) {
      parts.push(input("Текст-заглушка", ui["ui:placeholder"], edit((v) => setUi(key, "ui:placeholder", v)), { "data-prop": "placeholder" }));
    }
    if (["integer", "number", "money"].includes(kind)) {
      parts.push(el("div", { class: "row3" },
        input("Не меньше", node.minimum, edit((v) => setOrDelete(node, "minimum", numberOrNull(v))), { inputmode: "decimal", "data-prop": "minimum" }),
        input("Не больше", node.maximum, edit((v) => setOrDelete(node, "maximum", numberOrNull(v))), { inputmode: "decimal", "data-prop": "maximum" }),
        input("По умолчанию", node.default, edit((v) => setOrDelete(node, "default", numberOrNull(v))), { inputmode: "decimal", "data-prop": "default" })));
    }
    if (["text", "textarea", "phone", "email"].includes(kind)) {
      parts.push(el("div", { class: "row3" },
        input("Длина от", node.minLength, edit((v) => setOrDelete(node, "minLength", numberOrNull(v))), { inputmode: "numeric", "data-prop": "minLength" }),
        input("Длина до", node.maxLength, edit((v) => setOrDelete(node, "maxLength", numberOrNull(v))), { inputmode: "numeric", "data-prop": "maxLength" }),
        input("Шаблон (регулярное выражение)", node.pattern, edit((v) => setOrDelete(node, "pattern", v)), { "data-prop": "pattern" })));
      parts.push(input("По умолчанию", node.default, edit((v) => setOrDelete(node, "default", v)), { "data-prop": "default" }));
    }
    if (kind === "date") {
      parts.push(input("По умолчанию (ГГГГ-ММ-ДД)", node.default, edit((v) => setOrDelete(node, "default", v)), { "data-prop": "default" }));
    }
    if (kind === "boolean") {
      parts.push(select("Вид", ui["ui:widget"] === "radio" ? "radio" : "checkbox",
        [["checkbox", t("Флажок")], ["radio", t("Кнопки «Да» / «Нет»")]],
        (v) => { setUi(key, "ui:widget", v === "radio" ? "radio" : undefined); changed(true); }, { "data-prop": "widget" }));
      parts.push(select("По умолчанию", node.default === undefined ? "" : String(node.default),
        [["", "—"], ["true", t("Да")], ["false", t("Нет")]],
        (v) => { setOrDelete(node, "default", v === "" ? undefined : v === "true"); changed(false); }, { "data-prop": "default" }));
    }
    if (kind === "enum") parts.push(enumEditor(key, node, ui));
    if (kind === "files") {
      parts.push(input("Типы файлов (accept)", (node.items || {})["x-accept"], edit((v) => setOrDelete(node.items, "x-accept", v)), { placeholder: "image/*", "data-prop": "accept" }));
    }
    if (kind === "user") {
      const role = String(node["x-choices"] || "").replace(/^role:/, "");
      parts.push(select("Роль", role, ROLES.map((r) => [r, r]), (v) => { node["x-choices"] = `role:${v}`; changed(false); }, { "data-prop": "role" }));
    }
    if (kind === "object" || kind === "table" || kind === "other") {
      parts.push(el("p", { class: "muted small", text: t("Составное поле: его внутренние поля правятся во вкладке «JSON формы».") }));
    }
    return parts;
  }

  function enumEditor(key, node, ui) {
    const labels = () => {  // labels are written only when one is typed: a form without them keeps none
      if (!Array.isArray(node["x-enumNames"])) node["x-enumNames"] = node.enum.map(String);
      return node["x-enumNames"];
    };
    const shown = Array.isArray(node["x-enumNames"]) ? node["x-enumNames"] : node.enum.map(String);
    const rows = node.enum.map((value, i) => el("li", { class: "option", "data-option": i },
      input("Подпись", shown[i], (v, committed) => {
        const autoValue = node.enum[i] === "" || node.enum[i] === slug(labels()[i] || "");
        labels()[i] = v;
        state.sideStale = true;
        if (autoValue) {
          node.enum[i] = slug(v);
          const valueInput = document.querySelector(`[data-key="${key}"] [data-option="${i}"] input[data-prop="value"]`);
          if (valueInput) valueInput.value = node.enum[i];
        }
        changed(committed && false);
      }, { "data-prop": "label" }),
      input("Значение", value, (v) => { node.enum[i] = v; state.sideStale = true; changed(false); }, { "data-prop": "value" }),
      el("button", { type: "button", class: "small", title: t("Убрать вариант"), "aria-label": t("Убрать вариант"), text: "✕",
        onclick: () => { node.enum.splice(i, 1); labels().splice(i, 1); changed(true); } })));
    const widget = ui["ui:widget"] === "radio" ? "radio" : ui["ui:widget"] === "outcome" ? "outcome" : "select";
    return el("div", { class: "enum-editor" },
      el("h4", { text: t("Варианты") }),
      el("ol", { class: "options" }, rows),
      el("button", { type: "button", class: "small", "data-add-option": key, text: t("+ Вариант"),
        onclick: () => { labels().push(""); node.enum.push(""); changed(true);
          const inputs = document.querySelectorAll(`[data-key="${key}"] [data-option] input[data-prop="label"]`);
          if (inputs.length) inputs[inputs.length - 1].focus(); } }),
      select("Вид", widget, [["select", t("Выпадающий список")], ["radio", t("Переключатели")], ["outcome", t("Кнопки завершения задачи")]],
        (v) => { setUi(key, "ui:widget", v === "select" ? undefined : v); changed(true); }, { "data-prop": "widget" }));
  }

  let dragged = null;
  function fieldItem(key, index, count) {
    const node = props()[key];
    const ui = state.ui[key] || {};
    const kind = kindOf(node, ui);
    const kindName = (KINDS.find(([k]) => k === kind) || [kind, kind === "object" ? t("Группа полей") : kind === "table" ? t("Таблица") : t("Другое")])[1];
    const mine = problemsFor((p) => p.field === key);
    const item = el("li", { class: `field-item${mine.length ? " invalid" : ""}`, "data-key": key, draggable: "true",
      ondragstart: (e) => { dragged = key; e.dataTransfer.effectAllowed = "move"; e.dataTransfer.setData("text/plain", key); item.classList.add("dragging"); },
      ondragend: () => { item.classList.remove("dragging"); },
      ondragover: (e) => { e.preventDefault(); item.classList.add("drop-target"); },
      ondragleave: () => item.classList.remove("drop-target"),
      ondrop: (e) => {
        e.preventDefault();
        const from = dragged || e.dataTransfer.getData("text/plain");
        dragged = null;
        if (!from || from === key) return;
        const keys = order().filter((k) => k !== from);
        keys.splice(keys.indexOf(key), 0, from);
        setOrder(keys);
        changed(true);
      } });
    const head = el("div", { class: "field-head" },
      el("span", { class: "handle", "aria-hidden": "true", title: t("Перетащите"), text: "⠿" }),
      el("button", { type: "button", class: "link field-toggle", "aria-expanded": String(open.has(key)),
        onclick: () => { if (open.has(key)) open.delete(key); else open.add(key); render(); } },
      el("strong", { text: node.title || key }), " ", el("code", { class: "muted small", text: key })),
      el("span", { class: "badge", text: kindName }),
      required().includes(key) ? el("span", { class: "req", title: t("Обязательное"), text: "*" }) : "",
      el("span", { class: "spacer" }),
      el("button", { type: "button", class: "small", "data-move": "-1", "aria-label": t("Выше: {field}", { field: node.title || key }), title: t("Выше"), text: "↑", disabled: index === 0, onclick: () => move(key, -1) }),
      el("button", { type: "button", class: "small", "data-move": "1", "aria-label": t("Ниже: {field}", { field: node.title || key }), title: t("Ниже"), text: "↓", disabled: index === count - 1, onclick: () => move(key, 1) }),
      el("button", { type: "button", class: "small danger", "data-remove": key, "aria-label": t("Удалить поле {field}", { field: node.title || key }), title: t("Удалить поле"), text: "✕",
        onclick: () => { removeField(key); changed(true); } }));
    item.append(head);
    if (mine.length) item.append(problemList(mine));
    if (open.has(key)) item.append(el("div", { class: "field-body" }, details(key, node, ui, kind)));
    return item;
  }

  function conditionItem(part, index, keys) {
    const cond = parseCondition(part);
    const mine = problemsFor((p) => p.condition === index);
    const remove = el("button", { type: "button", class: "small danger", text: "✕", title: t("Убрать условие"), "aria-label": t("Убрать условие"),
      onclick: () => { state.schema.allOf.splice(index, 1); if (!state.schema.allOf.length) delete state.schema.allOf; changed(true); } });
    if (!cond) {
      return el("li", { class: "rule other" }, el("code", { class: "small", text: JSON.stringify(part) }),
        el("p", { class: "muted small", text: t("Условие другого вида — правьте во вкладке «JSON формы».") }), problemList(mine), remove);
    }
    const node = props()[cond.field] || {};
    const choices = Array.isArray(node.enum) ? node.enum.map((v, i) => [String(v), (node["x-enumNames"] || [])[i] || String(v)])
      : node.type === "boolean" ? [["true", t("Да")], ["false", t("Нет")]] : null;
    const setValue = (raw) => { part.if = conditionIf(cond.field, typedValue(node, raw)); changed(false); };
    const valueField = choices ? select("равно", String(cond.value), choices, setValue, { "data-prop": "if-value" })
      : input("равно", cond.value, (v) => setValue(v), { "data-prop": "if-value" });
    const then = el("fieldset", { class: "then" }, el("legend", { text: t("то обязательны") }),
      keys.filter((k) => k !== cond.field).map((k) => el("label", { class: "check inline-check" }, el("input", {
        type: "checkbox", value: k, checked: cond.then.includes(k),
        onchange: (e) => { part.then.required = cond.then.filter((x) => x !== k).concat(e.target.checked ? [k] : []); changed(true); },
      }), ` ${props()[k].title || k}`)));
    return el("li", { class: `rule${mine.length ? " invalid" : ""}`, "data-condition": index },
      el("div", { class: "row3" },
        select("Если поле", cond.field, keys.map((k) => [k, props()[k].title || k]), (v) => {
          const target = props()[v] || {};
          const first = Array.isArray(target.enum) ? target.enum[0] : target.type === "boolean" ? true : "";
          part.if = conditionIf(v, first ?? ""); changed(true);
        }, { "data-prop": "if-field" }), valueField, el("div", { class: "field end" }, remove)),
      then, problemList(mine));
  }

  function addCondition() {
    const keys = order();
    const field = keys.find((k) => Array.isArray(props()[k].enum) || props()[k].type === "boolean") || keys[0];
    if (!field) { $("new-field-error").textContent = t("Сначала добавьте поля"); return; }
    const node = props()[field];
    const value = Array.isArray(node.enum) ? (node.enum[0] ?? "") : node.type === "boolean" ? true : "";
    state.schema.allOf = (state.schema.allOf || []).concat([{ if: conditionIf(field, value), then: { required: [] } }]);
    changed(true);
  }

  function fieldPaths() {
    const paths = [];
    order().forEach((k) => {
      paths.push([k, props()[k].title || k]);
      const inner = props()[k].type === "object" ? props()[k].properties || {} : {};
      Object.entries(inner).forEach(([sub, node]) => paths.push([`${k}.${sub}`, `${props()[k].title || k} → ${node.title || sub}`]));
    });
    return paths;
  }

  function ruleItem(rule, index) {
    const mine = problemsFor((p) => p.rule === index);
    const paths = fieldPaths();
    if (rule.field && !paths.some(([p]) => p === rule.field)) paths.push([rule.field, rule.field]);
    return el("li", { class: `rule${mine.length ? " invalid" : ""}`, "data-rule": index },
      input("Ошибка, когда (выражение)", rule.if, (v) => { rule.if = v; changed(false); }, { "data-prop": "rule-if", placeholder: "prepayment > price", spellcheck: "false" }),
      el("div", { class: "row3" },
        select("У поля", rule.field, [["", "—"], ...paths], (v) => { rule.field = v; changed(false); }, { "data-prop": "rule-field" }),
        input("Сообщение", rule.message, (v) => { rule.message = v; changed(false); }, { "data-prop": "rule-message" }),
        el("div", { class: "field end" }, el("button", { type: "button", class: "small danger", text: "✕", title: t("Убрать правило"), "aria-label": t("Убрать правило"),
          onclick: () => { state.schema["x-rules"].splice(index, 1); if (!state.schema["x-rules"].length) delete state.schema["x-rules"]; changed(true); } }))),
      problemList(mine));
  }

  function renderSide() {
    const keys = order();
    $("condition-list").replaceChildren(...(Array.isArray(state.schema.allOf) ? state.schema.allOf : []).map((p, i) => conditionItem(p, i, keys)));
    $("rule-list").replaceChildren(...(Array.isArray(state.schema["x-rules"]) ? state.schema["x-rules"] : []).map((r, i) => ruleItem(r, i)));
    state.sideStale = false;
  }

  function render() {
    $("form-title").value = state.schema.title || "";
    $("form-description").value = state.schema.description || "";
    const keys = order();
    $("field-list").replaceChildren(...keys.map((k, i) => fieldItem(k, i, keys.length)));
    if (!keys.length) $("field-list").append(el("li", { class: "muted empty", text: t("Полей пока нет — добавьте первое ниже.") }));
    renderSide();
    renderGeneral();
  }
  const placed = (p) => (p.field && props()[p.field]) || Number.isInteger(p.condition) || Number.isInteger(p.rule);
  const renderGeneral = () => $("form-problems").replaceChildren(
    ...state.problems.filter((p) => !placed(p)).map((p) => el("li", { class: "error", text: p.message })));

  // -- JSON tabs ------------------------------------------------------------------------------------------------
  const tabs = { build: "panel-build", schema: "panel-schema", ui: "panel-ui" };
  function showTab(name) {
    if (state.jsonBroken && name !== state.jsonBroken) {
      $(`json-${state.jsonBroken}-error`).textContent += " — " + t("исправьте JSON, прежде чем уходить с вкладки");
      return;
    }
    Object.entries(tabs).forEach(([tab, panel]) => {
      $(`tab-${tab}`).setAttribute("aria-selected", String(tab === name));
      $(panel).hidden = tab !== name;
    });
    if (name === "schema") $("json-schema").value = JSON.stringify(state.schema, null, 2);
    if (name === "ui") $("json-ui").value = JSON.stringify(state.ui, null, 2);
    if (name === "build") render();
  }
  function jsonEdited(which) {
    const text = $(`json-${which}`).value;
    try {
      const value = JSON.parse(text);
      if (!value || typeof value !== "object" || Array.isArray(value)) throw new Error(t("нужен JSON-объект { … }"));
      if (which === "schema") state.schema = value; else state.ui = value;
      $(`json-${which}-error`).textContent = "";
      state.jsonBroken = null;
      changed(false);
    } catch (error) {
      state.jsonBroken = which;
      state.dirty = true;
      $(`json-${which}-error`).textContent = t("JSON с ошибкой: {reason}. Текст сохранён здесь — исправьте его; сохранить форму можно, когда JSON верный.", { reason: error.message });
      status("save-state", t("Не сохранено: JSON с ошибкой"));
    }
  }

  // -- preview, checks and saving -------------------------------------------------------------------------------
  const status = (id, text) => { $(id).textContent = text; };
  async function post(url, body) {
    const response = await fetch(url, { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body) });
    const answer = await response.json().catch(() => ({ message: `HTTP ${response.status}` }));
    return { ok: response.ok, status: response.status, answer };
  }

  let previewTimer = null;
  let previewSeq = 0;
  function schedulePreview(values = null) {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(() => refreshPreview(values), values ? 0 : 300);
  }
  async function refreshPreview(values) {
    const seq = ++previewSeq;
    status("preview-state", t("обновляется…"));
    try {
      const { ok, answer } = await post(boot.preview_url, { schema: state.schema, ui_schema: state.ui, values });
      if (seq !== previewSeq) return;  // a newer change is on its way
      if (!ok) { status("preview-state", answer.message || t("ошибка")); return; }
      $("preview").innerHTML = answer.html;
      state.problems = answer.problems || [];
      // Only the problem marks move: rebuilding the list would steal the focus or the field being dragged.
      if (!$("panel-build").hidden) renderProblemsOnly();
      status("preview-state", values ? (Object.keys(answer.errors || {}).length ? t("проверка: есть ошибки") : t("проверка: форма принята"))
        : (state.problems.length ? t("ошибок в форме: {count}", { count: state.problems.length }) : t("обновлено")));
    } catch (error) {
      status("preview-state", t("нет связи с сервером: {reason}", { reason: error.message }));
    }
  }
  function renderProblemsOnly() {
    document.querySelectorAll("#panel-build ul.problems").forEach((list) => { if (list.id !== "form-problems") list.remove(); });
    document.querySelectorAll("#field-list > li[data-key]").forEach((item) => {
      const mine = problemsFor((p) => p.field === item.dataset.key);
      item.classList.toggle("invalid", mine.length > 0);
      if (mine.length) item.querySelector(".field-head").after(problemList(mine));
    });
    document.querySelectorAll("#condition-list > li[data-condition], #rule-list > li[data-rule]").forEach((item) => {
      const index = Number(item.dataset.condition ?? item.dataset.rule);
      const mine = problemsFor((p) => (item.dataset.condition !== undefined ? p.condition : p.rule) === index);
      item.classList.toggle("invalid", mine.length > 0);
      if (mine.length) item.append(problemList(mine));
    });
    renderGeneral();
  }

  function changed(rebuild) {
    state.dirty = true;
    status("save-state", t("Есть несохранённые изменения"));
    if (rebuild) render();
    schedulePreview();
  }

  async function save() {
    if (!boot.save_url) return;
    if (state.jsonBroken) { showTab(state.jsonBroken); status("save-state", t("Не сохранено: исправьте JSON")); return; }
    status("save-state", t("Сохраняется…"));
    try {
      const { ok, answer } = await post(boot.save_url, { schema: state.schema, ui_schema: state.ui });
      if (!ok) { status("save-state", t("Не сохранено: {reason}", { reason: answer.message || t("ошибка") })); return; }
      state.dirty = false;
      state.problems = answer.problems || [];
      const fresh = $("new-form-badge");
      if (fresh) fresh.remove();
      if (!$("panel-build").hidden) render();
      const count = state.problems.length;
      status("save-state", count ? t("Сохранено в черновик, ошибок в форме: {count}", { count }) : t("Сохранено в черновик"));
      const drafts = answer.draft_problems || [];
      $("draft-problems-box").hidden = !drafts.length;
      $("draft-problems").replaceChildren(...drafts.map((p) => el("li", { class: p.severity || "error" },
        el("strong", { text: p.name || p.element_id || p.file || "" }), p.element_id ? el("code", { text: ` ${p.element_id}` }) : "", `: ${p.message}`)));
    } catch (error) {
      status("save-state", t("Не сохранено: нет связи с сервером ({reason}). Ничего не потеряно — повторите.", { reason: error.message }));
    }
  }

  // -- wiring ---------------------------------------------------------------------------------------------------
  $("new-kind").replaceChildren(...KINDS.map(([k, t]) => el("option", { value: k, text: t })));
  $("new-title").addEventListener("input", () => { $("new-key").placeholder = slug($("new-title").value) || "call_result"; });
  ["new-title", "new-key"].forEach((id) => $(id).addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); addField(); } }));
  $("add-field").addEventListener("click", addField);
  $("add-condition").addEventListener("click", addCondition);
  $("add-rule").addEventListener("click", () => {
    state.schema["x-rules"] = (state.schema["x-rules"] || []).concat([{ if: "", field: order()[0] || "", message: "" }]);
    changed(true);
  });
  $("form-title").addEventListener("input", (e) => { setOrDelete(state.schema, "title", e.target.value); changed(false); });
  $("form-description").addEventListener("input", (e) => { setOrDelete(state.schema, "description", e.target.value); changed(false); });
  Object.keys(tabs).forEach((tab) => $(`tab-${tab}`).addEventListener("click", () => showTab(tab)));
  $("json-schema").addEventListener("input", () => jsonEdited("schema"));
  $("json-ui").addEventListener("input", () => jsonEdited("ui"));
  $("field-list").addEventListener("focusout", () => {
    // Conditions and rules name fields by title and values by label: redrawn once those are typed.
    if (state.sideStale) renderSide();
  });
  $("preview").addEventListener("submit", (e) => {
    e.preventDefault();
    const values = [...new FormData($("preview"), e.submitter).entries()].filter(([, v]) => typeof v === "string");
    schedulePreview(values);
  });
  const saveButton = $("save-form");
  if (saveButton) saveButton.addEventListener("click", save);
  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "s") { e.preventDefault(); save(); }
  });
  window.addEventListener("beforeunload", (e) => { if (state.dirty) { e.preventDefault(); e.returnValue = ""; } });
  render();
})();
