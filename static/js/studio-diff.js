// The diff page: both versions in bpmn-js viewers side by side, with the server's list of changes as markers —
// added on the new version (green), removed on the old one (red), changed on both (orange).
(function () {
  "use strict";
  var panes = document.getElementById("diff");
  var data = document.getElementById("diff-data");
  if (!panes || !data || typeof BpmnJS === "undefined") { return; }
  var changes = JSON.parse(data.textContent);

  function mark(viewer, kinds) {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    changes.forEach(function (change) {
      if (kinds.indexOf(change.change) >= 0 && registry.get(change.element_id)) {
        canvas.addMarker(change.element_id, "diff-" + change.change);
      }
    });
  }

  function show(container, url, kinds) {
    var viewer = new BpmnJS({ container: container });
    return fetch(url, { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error(url + ": " + response.status); }
        return response.text();
      })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        viewer.get("canvas").zoom("fit-viewport");
        mark(viewer, kinds);
        container.setAttribute("data-ready", "true");
        return viewer;
      });
  }

  Promise.all([
    show(document.getElementById("diff-old"), panes.dataset.oldUrl, ["removed", "changed"]),
    show(document.getElementById("diff-new"), panes.dataset.newUrl, ["added", "changed"])
  ]).then(function (viewers) {
    // A click on a row of the list brings that element into view on both diagrams.
    document.querySelectorAll("#changes tr[data-element]").forEach(function (row) {
      row.addEventListener("click", function () {
        viewers.forEach(function (viewer) {
          var element = viewer.get("elementRegistry").get(row.dataset.element);
          if (element) { viewer.get("canvas").scrollToElement(element); }
        });
      });
    });
  }).catch(function (error) {
    var box = document.getElementById("diff-error");
    box.textContent = String(error);
    box.hidden = false;
  });
})();
