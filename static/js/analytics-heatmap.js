// The lifecycle as a heatmap: the active version drawn by the bpmn-js NavigatedViewer, each task filled from green
// (quick) to red (the slowest median), a badge with its median and count, and on the flows how many orders passed.
// The wide lifecycle opens at scale 1:1 on its start (badges readable, drag to pan); «Вся схема» fits it, and below
// READABLE zoom the numbers hide (colours stay) so they do not pile up.
(function () {
  "use strict";

  function read(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function isTask(element) {
    return /Task$|CallActivity$|SubProcess$/.test(element.type || "");
  }

  // The connections from task `a` to task `b` through gateways and events (breadth first, tasks not crossed).
  function path(registry, a, b) {
    var start = registry.get(a);
    if (!start) return [];
    var queue = [[start, []]];
    var seen = {};
    seen[a] = true;
    while (queue.length) {
      var item = queue.shift();
      var outgoing = item[0].outgoing || [];
      for (var i = 0; i < outgoing.length; i += 1) {
        var next = outgoing[i].target;
        var route = item[1].concat([outgoing[i]]);
        if (next.id === b) return route;
        if (!seen[next.id] && !isTask(next)) {
          seen[next.id] = true;
          queue.push([next, route]);
        }
      }
    }
    return [];
  }

  var READABLE = 0.7;
  var NUMBERS = { minZoom: READABLE };

  // Scale 1:1 at the diagram's left edge, the process's start event half-way down the view (the lifecycle's lanes
  // are taller than the view: the start is rarely in the top one).
  function readable(canvas, registry) {
    canvas.zoom("fit-viewport", "auto");
    var box = canvas.viewbox();
    var inner = box.inner;
    var height = box.outer.height;
    var start = registry.filter(function (element) {
      return element.type === "bpmn:StartEvent" && element.parent && element.parent.type === "bpmn:Participant";
    })[0] || registry.filter(function (element) { return element.type === "bpmn:StartEvent"; })[0];
    var top = start ? start.y + start.height / 2 - height / 2 : inner.y - 20;
    top = Math.max(inner.y - 20, Math.min(top, inner.y + inner.height + 20 - height));
    canvas.viewbox({ x: inner.x - 20, y: top, width: box.outer.width, height: height });
  }

  function colour(share) {
    return "hsl(" + Math.round(120 * (1 - share)) + ", 75%, " + (80 - 5 * share) + "%)";
  }

  function draw(holder) {
    var heat = read("heat-data");
    var viewer = new window.BpmnJS({ container: holder });
    return viewer.importXML(read("heat-bpmn")).then(function () {
      var canvas = viewer.get("canvas");
      var registry = viewer.get("elementRegistry");
      var overlays = viewer.get("overlays");
      readable(canvas, registry);
      var slowest = 0;
      Object.keys(heat.tasks).forEach(function (id) { slowest = Math.max(slowest, heat.tasks[id].median); });
      var coloured = 0;
      Object.keys(heat.tasks).forEach(function (id) {
        var element = registry.get(id);
        if (!element) return;
        var cell = heat.tasks[id];
        var shape = registry.getGraphics(element).querySelector(".djs-visual > rect");
        if (shape) {
          shape.style.fill = colour(slowest ? cell.median / slowest : 0);
          coloured += 1;
        }
        overlays.add(id, { position: { top: -20, left: 0 }, scale: { min: 1 }, show: NUMBERS,
          html: '<div class="heat-badge" data-task="' + id + '">' + cell.median.toLocaleString() + " " +
            holder.dataset.hours + " · " + cell.count + "</div>" });
      });
      var counts = {};
      heat.transitions.forEach(function (step) {
        path(registry, step[0], step[1]).forEach(function (connection) {
          counts[connection.id] = (counts[connection.id] || 0) + step[2];
        });
      });
      Object.keys(counts).forEach(function (id) {
        var connection = registry.get(id);
        var points = connection.waypoints;
        var middle = points[Math.floor(points.length / 2)];
        overlays.add(id, { position: { left: middle.x - connection.x - 8, top: middle.y - connection.y - 8 },
          scale: { min: 1 }, show: NUMBERS,
          html: '<div class="flow-count" data-flow="' + id + '">' + counts[id] + "</div>" });
      });
      holder.dataset.coloured = String(coloured);
      holder.dataset.flows = String(Object.keys(counts).length);
      var fit = document.getElementById("heat-fit");
      if (fit) fit.addEventListener("click", function () { canvas.zoom("fit-viewport", "auto"); });
      var actual = document.getElementById("heat-actual");
      if (actual) actual.addEventListener("click", function () { readable(canvas, registry); });
      viewer.on("canvas.viewbox.changed", function (event) {
        holder.dataset.zoom = event.viewbox.scale.toFixed(2);
        holder.classList.toggle("zoomed-out", event.viewbox.scale < READABLE);
      });
      holder.dataset.zoom = canvas.zoom().toFixed(2);
      holder.dataset.ready = "true";  // the browser test waits for this
    }).catch(function (error) {
      holder.dataset.ready = "error";
      holder.textContent = (holder.dataset.failed || "") + " " + error.message;
    });
  }

  function start() {
    var holder = document.getElementById("heatmap");
    if (holder && window.BpmnJS) draw(holder);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
