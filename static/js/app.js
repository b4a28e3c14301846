// Small progressive enhancements; every page works without them.
document.addEventListener("click", (event) => {
  const add = event.target.closest("[data-add-row]");
  if (add) {
    // Clone the hidden template row of an array-of-objects field, renumbering its inputs.
    const table = document.getElementById(add.dataset.addRow);
    const template = table.querySelector("template");
    const body = table.querySelector("tbody");
    const index = body.querySelectorAll("tr").length;
    const html = template.innerHTML.replaceAll("__INDEX__", String(index));
    body.insertAdjacentHTML("beforeend", html);
    event.preventDefault();
  }
  const remove = event.target.closest("[data-remove-row]");
  if (remove) {
    remove.closest("tr").remove();
    event.preventDefault();
  }
  const all = event.target.closest("[data-check-all]");
  if (all) {
    document.querySelectorAll(`input[name="${all.dataset.checkAll}"]`).forEach((box) => { box.checked = all.checked; });
  }
});

// task form
document.addEventListener("click", (event) => {
  const drop = event.target.closest("[data-remove-file]");
  if (drop) {
    drop.closest("li").remove();
    event.preventDefault();
  }
});
document.addEventListener("click", (event) => {
  // Hide rather than remove: the row count the add-row helper numbers from never goes down.
  const drop = event.target.closest("[data-drop-row]");
  if (drop) {
    const row = drop.closest("tr");
    row.hidden = true;
    row.querySelectorAll("input, select, textarea").forEach((input) => { input.disabled = true; });
    event.preventDefault();
  }
});

// orders
document.addEventListener("click", (event) => {
  const fill = event.target.closest("[data-fill-customer]");
  if (!fill) return;
  const form = fill.closest("form");
  form.querySelector('[name="customer.name"]').value = fill.dataset.name;
  const email = form.querySelector('[name="customer.email"]');
  if (email && !email.value) email.value = fill.dataset.email;
});
