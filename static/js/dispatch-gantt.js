// The Gantt of orders across their stages (frappe-gantt), drawn from the rows the page carries as JSON;
// read-only: the same figures are in the table under it. Zoom: day / week / month.
(() => {
  const holder = document.getElementById("gantt");
  const source = document.getElementById("gantt-tasks");
  if (!holder || !source || typeof Gantt === "undefined") return;
  const tasks = JSON.parse(source.textContent);
  if (!tasks.length) return;
  const gantt = new Gantt(holder, tasks, {
    readonly: true,
    view_mode: "Day",
    language: holder.dataset.language || "ru",
    bar_height: 18,
    padding: 10,
    today_button: false,
    popup_on: "click",
    scroll_to: "today",
    infinite_padding: false,
    lines: "both",
  });
  document.querySelectorAll("[data-gantt-zoom]").forEach((button) => {
    button.addEventListener("click", () => {
      gantt.change_view_mode(button.dataset.ganttZoom, true);
      document.querySelectorAll("[data-gantt-zoom]").forEach((other) => {
        other.setAttribute("aria-pressed", String(other === button));
      });
    });
  });
  holder.dataset.ready = "true";
})();
