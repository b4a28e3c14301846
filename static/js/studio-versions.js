// Version pages: a form with data-confirm asks first (rollback names both versions); a migration in progress
// reloads its page every two seconds until it is done.
(function () {
  "use strict";
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
    });
  });
  var progress = document.querySelector("[data-refresh]");
  if (progress) {
    window.setTimeout(function () { window.location.reload(); }, Number(progress.dataset.refresh) || 2000);
  }
})();
