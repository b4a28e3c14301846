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
    var marked = [];
    changes.forEach(function (change) {
      var element = registry.get(change.element_id);
      if (kinds.indexOf(change.change) >= 0 && element) {
        canvas.addMarker(element, "diff-" + change.change);
        marked.push(element);
      }
    });
    return marked;
  }

  // The whole lifecycle is far too wide to read at "fit": open on the part that changed (pan and zoom for the rest).
  function focus(canvas, elements) {
    var points = [];
    elements.forEach(function (e) {
      if (e.waypoints) { e.waypoints.forEach(function (p) { points.push(p); }); }
      else { points.push({ x: e.x, y: e.y }, { x: e.x + e.width, y: e.y + e.height }); }
    });
    if (!points.length) { return; }
    var xs = points.map(function (p) { return p.x; }), ys = points.map(function (p) { return p.y; });
    var left = Math.min.apply(null, xs), top = Math.min.apply(null, ys);
    var width = Math.max.apply(null, xs) - left, height = Math.max.apply(null, ys) - top;
    var size = Math.max(width + 300, height + 300, 900);
    canvas.viewbox({ x: left + width / 2 - size / 2, y: top + height / 2 - size / 2.4, width: size, height: size / 1.2 });
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
        focus(viewer.get("canvas"), mark(viewer, kinds));
        container.setAttribute("data-ready", "true");
        return viewer;
      });
  }

  Promise.all([
    show(document.getElementById("diff-old"), panes.dataset.oldUrl, ["removed", "changed"]),
    show(document.getElementById("diff-new"), panes.dataset.newUrl, ["added", "changed"])
  ]).then(function (viewers) {
    // Both sides show the same region, so a change is found at the same place left and right.
    var box = viewers[1].get("canvas").viewbox();
    viewers[0].get("canvas").viewbox({ x: box.x, y: box.y, width: box.width, height: box.height });
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
