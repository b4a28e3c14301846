// The studio's instance page: the order's version drawn by the bpmn-js NavigatedViewer, every element marked with
// its state (done / active / waiting / error / cancelled) and the sequence flows taken, from the JSON the page carries.
(function () {
  "use strict";

  function read(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function draw(holder) {
    var xml = read("instance-bpmn");
    var state = read("instance-state") || { elements: {}, flows: [] };
    var viewer = new window.BpmnJS({ container: holder });
    return viewer.importXML(xml).then(function () {
      var canvas = viewer.get("canvas");
      var registry = viewer.get("elementRegistry");
      canvas.zoom("fit-viewport", "auto");
      var marked = 0;
      Object.keys(state.elements).forEach(function (id) {
        if (registry.get(id)) {
          canvas.addMarker(id, "st-" + state.elements[id]);
          marked += 1;
        }
      });
      var taken = {};
      state.flows.forEach(function (pair) { taken[pair[0] + ">" + pair[1]] = true; });
      registry.filter(function (element) {
        return element.waypoints && element.source && element.target &&
          taken[element.source.id + ">" + element.target.id];
      }).forEach(function (connection) { canvas.addMarker(connection.id, "st-flow"); });
      holder.dataset.marked = String(marked);
      holder.dataset.ready = "true";  // the browser test waits for this
      var active = Object.keys(state.elements).filter(function (id) {
        return state.elements[id] === "active" || state.elements[id] === "error";
      }).map(function (id) { return registry.get(id); }).filter(Boolean);
      var fit = document.getElementById("instance-fit");
      if (fit) fit.addEventListener("click", function () { canvas.zoom("fit-viewport", "auto"); });
      var focus = document.getElementById("instance-focus");
      if (focus && active.length) {
        focus.hidden = false;
        focus.addEventListener("click", function () {
          var first = active[0];
          canvas.zoom(1.0);
          var box = canvas.viewbox();
          canvas.viewbox({ x: first.x + first.width / 2 - box.width / 2, y: first.y + first.height / 2 - box.height / 2,
                           width: box.width, height: box.height });
        });
      }
    }).catch(function (error) {
      holder.dataset.ready = "error";
      holder.textContent = (holder.dataset.failed || "") + " " + error.message;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var holder = document.getElementById("instance-diagram");
    if (holder && window.BpmnJS) draw(holder);
  });
})();
