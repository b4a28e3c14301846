// The report's chart: bars per group (one series per second group's value); the table below holds the same figures.
(function () {
  "use strict";

  document.addEventListener("DOMContentLoaded", function () {
    var holder = document.getElementById("report-chart");
    var source = document.getElementById("report-data");
    if (!holder || !source || !window.echarts) {
      return;
    }
    var data = JSON.parse(source.textContent);
    var chart = window.echarts.init(holder, null, { renderer: "svg" });
    chart.setOption({
      animation: false,
      grid: { left: 8, right: 16, top: 48, bottom: 8, containLabel: true },
      legend: { type: "scroll", top: 0 },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      xAxis: { type: "category", data: data.categories, axisLabel: { interval: 0, rotate: data.categories.length > 8 ? 30 : 0 } },
      yAxis: { type: "value" },
      series: data.series.map(function (item) {
        return { name: item.name, type: "bar", barMaxWidth: 40, data: item.data };
      })
    });
    window.addEventListener("resize", function () { chart.resize(); });
    holder.dataset.drawn = "1";
  });
})();
