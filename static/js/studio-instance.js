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
      // The whole lifecycle is too large to read at "fit": open at reading scale on the step that needs eyes
      // (a failed one first, else an active one); «Вся схема» shows everything.
      var current = ["error", "active"].map(function (wanted) {
        return Object.keys(state.elements).filter(function (id) { return state.elements[id] === wanted; })
          .map(function (id) { return registry.get(id); }).filter(Boolean)[0];
      }).filter(Boolean)[0];
      function focus() {
        canvas.zoom(0.9);
        var box = canvas.viewbox();
        canvas.viewbox({ x: current.x + current.width / 2 - box.width / 2,
                         y: current.y + current.height / 2 - box.height / 2, width: box.width, height: box.height });
      }
      var fit = document.getElementById("instance-fit");
      if (fit) fit.addEventListener("click", function () { canvas.zoom("fit-viewport", "auto"); });
      var button = document.getElementById("instance-focus");
      if (current) {
        focus();
        if (button) {
          button.hidden = false;
          button.addEventListener("click", focus);
        }
      }
      holder.dataset.ready = "true";  // the browser test waits for this
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
