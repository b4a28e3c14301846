// The load chart: a bar per specialist per day (hours booked), the day's working hours as a step line over them;
// a bar past the line is drawn red. The figures come from the page (#load-data); the table below says the same.
(function () {
  "use strict";

  var OVER = "#c0392b";
  var PALETTE = ["#4c78a8", "#72b7b2", "#54a24b", "#b279a2", "#9d755d", "#79706e", "#eeca3b", "#ff9da6"];

  function draw(holder, data) {
    var chart = window.echarts.init(holder, null, { renderer: "svg" });
    var series = data.people.map(function (person, index) {
      var colour = PALETTE[index % PALETTE.length];
      return {
        name: person.name,
        type: "bar",
        barMaxWidth: 18,
        itemStyle: { color: colour },
        data: person.booked.map(function (hours, day) {
          return person.over[day]
            ? { value: hours, itemStyle: { color: OVER, borderColor: "#7f1d1d", borderWidth: 1 } }
            : hours;
        })
      };
    });
    series.push({
      name: data.labels.capacity,
      type: "line",
      step: "middle",
      symbol: "none",
      lineStyle: { color: "#333", type: "dashed", width: 2 },
      itemStyle: { color: "#333" },
      data: data.capacity,
      z: 5
    });
    chart.setOption({
      animation: false,
      grid: { left: 8, right: 16, top: 64, bottom: 8, containLabel: true },
      legend: { type: "scroll", top: 0 },
      tooltip: {
        trigger: "axis",
        axisPointer: { type: "shadow" }
      },
      xAxis: { type: "category", data: data.day_labels, axisTick: { show: false },
        axisLabel: { interval: data.days.length > 21 ? "auto" : 0, margin: 10, lineHeight: 15 } },
      yAxis: { type: "value", name: data.labels.booked, minInterval: 1 },
      series: series
    });
    window.addEventListener("resize", function () { chart.resize(); });
    holder.dataset.drawn = "1";
  }

  document.addEventListener("DOMContentLoaded", function () {
    var holder = document.getElementById("load-chart");
    var source = document.getElementById("load-data");
    if (!holder || !source || !window.echarts) {
      return;
    }
    draw(holder, JSON.parse(source.textContent));
  });
})();
