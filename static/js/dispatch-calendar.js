/* The dispatcher's calendar (templates/dispatch/calendar.html): Event Calendar with a column or row per measurer or
 * crew, the unplanned queue dragged onto it with pointer events (mouse, pen and touch alike), booked visits dragged
 * or resized to move them. The page speaks the company's wall clock: times go both ways without an offset. */
(function () {
  "use strict";
  const root = document.getElementById("dispatch");
  if (!root || !window.EventCalendar) return;
  const settings = JSON.parse(root.dataset.settings);
  const texts = JSON.parse(root.dataset.texts);
  const canPlan = JSON.parse(root.dataset.canPlan);
  const kind = root.dataset.kind;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const message = document.getElementById("dispatch-message");
  const daysOff = new Set(settings.daysOff);
  const logins = {}; // resource id -> login
  let calendar = null;

  const pad = (n) => String(n).padStart(2, "0");
  const day = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const wall = (d) => `${day(d)}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  const hoursBetween = (a, b) => Math.round(((b - a) / 36e5) * 100) / 100;
  const fill = (text, number) => text.replace("%(n)s", number);

  function say(text, ok) {
    message.textContent = text || "";
    message.hidden = !text;
    message.className = ok ? "flash flash-success" : "flash flash-error";
  }

  async function getJson(url, params) {
    const response = await fetch(`${url}?${new URLSearchParams(params)}`, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(texts.failed);
    return response.json();
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST", credentials: "same-origin", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
    });
    let answer = {};
    try { answer = await response.json(); } catch (e) { answer = {}; }
    if (!response.ok) throw new Error(answer.message || texts.failed);
    return answer;
  }

  function backgroundDaysOff(start, end) {
    const month = calendar && calendar.getView().type === "dayGridMonth";
    const off = [];
    for (const d = new Date(start); d < end; d.setDate(d.getDate() + 1)) {
      if (!daysOff.has(day(d))) continue;
      const next = new Date(d);
      next.setDate(d.getDate() + 1);
      off.push({ id: `off-${day(d)}`, start: `${day(d)}T00:00`, end: `${day(next)}T00:00`, allDay: month,
                 display: "background", classNames: ["day-off"], resourceIds: Object.keys(logins) });
    }
    return off;
  }

  function events(info, success, failure) {
    getJson(settings.urls.events, { start: wall(info.start), end: wall(info.end), kind })
      .then((rows) => success(rows.concat(backgroundDaysOff(info.start, info.end))))
      .catch((error) => { say(error.message); failure(error); });
  }

  function content(info) {
    if (info.event.display === "background") return "";
    const p = info.event.extendedProps;
    const box = document.createElement("div");
    box.className = "visit-body";
    const head = document.createElement("strong");
    head.textContent = info.event.title;
    const when = document.createElement("div");
    when.textContent = `${info.timeText} · ${p.hours} ${texts.hours}`;
    const where = document.createElement("div");
    where.className = "addr";
    where.textContent = p.address;
    box.title = `${info.event.title}\n${info.timeText} · ${p.hours} ${texts.hours}\n${p.who}\n${p.customer}\n${p.address}`;
    if (info.view.type === "resourceTimelineWeek") { // an hour is a narrow column there: the number says enough
      head.textContent = p.number;
      box.append(head);
    } else {
      box.append(head, when, where);
    }
    return { domNodes: [box] };
  }

  async function moved(info) {
    const event = info.event;
    const p = event.extendedProps;
    const resource = info.newResource ? info.newResource.id : (event.resourceIds || [])[0];
    const old = info.oldEvent || event;
    try {
      await post(settings.urls.move.replace("/0/", `/${event.id}/`), {
        user: resource in logins ? logins[resource] : p.user, starts_at: wall(event.start), hours: hoursBetween(event.start, event.end),
        expected: { user: p.user, starts_at: wall(old.start), hours: hoursBetween(old.start, old.end) },
      });
      say(fill(texts.moved, p.number), true);
    } catch (error) {
      info.revert();
      say(error.message);
    }
    calendar.refetchEvents();
  }

  async function plan(item, spot) {
    const login = spot && spot.resource ? logins[spot.resource.id] : null;
    if (!login || spot.allDay) {
      say(texts.dropOnPerson);
      return;
    }
    item.classList.add("busy");
    try {
      await post(settings.urls.plan, { kind: item.dataset.kind, order_number: item.dataset.number, user: login,
                                       starts_at: wall(spot.date), hours: Number(item.dataset.hours) });
      item.remove();
      document.getElementById("queue-count").textContent = document.querySelectorAll(".queue-item").length;
      say(fill(texts.planned, item.dataset.number), true);
      calendar.refetchEvents();
    } catch (error) {
      item.classList.remove("busy");
      say(error.message);
    }
  }

  /* Pointer events, not HTML5 drag and drop: that one never starts on a touch screen. */
  function draggable(item) {
    item.addEventListener("pointerdown", (down) => {
      if (down.button > 0) return;
      let ghost = null;
      const follow = (e) => {
        if (!ghost) {
          if (Math.hypot(e.clientX - down.clientX, e.clientY - down.clientY) < 6) return;
          ghost = document.createElement("div");
          ghost.className = "drag-ghost";
          ghost.textContent = item.dataset.number;
          document.body.append(ghost);
          item.classList.add("dragging");
          item.setPointerCapture(down.pointerId);
        }
        e.preventDefault();
        ghost.style.left = `${e.clientX}px`;
        ghost.style.top = `${e.clientY}px`;
      };
      const stop = (e) => {
        item.removeEventListener("pointermove", follow);
        item.removeEventListener("pointerup", stop);
        item.removeEventListener("pointercancel", stop);
        if (!ghost) return; // a click: the order's link opens
        ghost.remove();
        item.classList.remove("dragging");
        if (e.type === "pointerup") plan(item, calendar.dateFromPoint(e.clientX, e.clientY));
      };
      item.addEventListener("pointermove", follow);
      item.addEventListener("pointerup", stop);
      item.addEventListener("pointercancel", stop);
    });
  }

  async function start() {
    let resources = [];
    try {
      resources = await getJson(settings.urls.resources, { kind });
    } catch (error) {
      say(error.message);
    }
    for (const r of resources) logins[r.id] = r.extendedProps.login;
    const editable = Object.values(canPlan).some(Boolean);
    calendar = EventCalendar.create(document.getElementById("ec"), {
      view: window.innerWidth < 900 ? "resourceTimeGridDay" : "resourceTimelineWeek",
      date: settings.today, firstDay: 1, locale: settings.locale, height: "auto",
      headerToolbar: { start: "prev,next today", center: "title", end: "resourceTimeGridDay,resourceTimelineWeek,dayGridMonth" },
      buttonText: (text) => ({ ...text, today: texts.today, resourceTimeGridDay: texts.day,
                               resourceTimelineWeek: texts.week, dayGridMonth: texts.month }),
      views: { resourceTimelineWeek: { slotDuration: "01:00", slotWidth: 30, slotLabelFormat: { hour: "numeric" } } },
      slotMinTime: settings.slotMinTime, slotMaxTime: settings.slotMaxTime, slotDuration: "00:30",
      scrollTime: settings.slotMinTime, allDaySlot: false, nowIndicator: true, dayMaxEvents: true,
      resources, eventSources: [{ events }], eventContent: content,
      editable, eventStartEditable: editable, eventDurationEditable: editable,
      eventTimeFormat: { hour: "2-digit", minute: "2-digit", hour12: false },
      slotLabelFormat: { hour: "2-digit", minute: "2-digit", hour12: false },
      eventDrop: moved, eventResize: moved,
      eventClick: (info) => { if (info.event.extendedProps.url) window.location = info.event.extendedProps.url; },
    });
    window.dispatchCalendar = calendar; // the browser tests find a person's time slot with dateFromPoint
    document.querySelectorAll(".queue-item[data-draggable]").forEach(draggable);
    root.dataset.ready = "1";
  }

  start();
})();
