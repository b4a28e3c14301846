// The analytics page's charts (ECharts): orders by kind / channel / partner / customer, on-time share by stage,
// time in stage, revenue and payments by month. The figures come from #analytics-data; the tables say the same.
(function () {
  "use strict";

  var COLOURS = ["#4c78a8", "#54a24b", "#c0392b", "#eeca3b"];

  function bars(holder, categories, series, names, options) {
    var chart = window.echarts.init(holder, null, { renderer: "svg" });
    chart.setOption(Object.assign({
      animation: false,
      color: COLOURS,
      grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
      legend: names.length > 1 ? { top: 0 } : undefined,
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: categories, axisLabel: { interval: 0, rotate: categories.length > 4 ? 25 : 0,
        width: 120, overflow: "truncate" } },
      yAxis: { type: "value" },
      series: series.map(function (values, index) {
        return { name: names[index], type: "bar", barMaxWidth: 28, data: values };
      })
    }, options || {}));
    window.addEventListener("resize", function () { chart.resize(); });
  }

  function column(rows, index) {
    return rows.map(function (row) { return row[index]; });
  }

  function draw() {
    var node = document.getElementById("analytics-data");
    if (!node || !window.echarts) return;
    var data = JSON.parse(node.textContent);
    Object.keys(data.by).forEach(function (dimension) {
      var holder = document.getElementById("chart-by-" + dimension);
      var rows = data.by[dimension];
      if (holder) bars(holder, column(rows, 0), [column(rows, 1), column(rows, 2), column(rows, 3)], data.series);
    });
    var onTime = document.getElementById("chart-on-time");
    if (onTime) {
      bars(onTime, column(data.on_time, 0), [column(data.on_time, 1)], ["%"],
        { yAxis: { type: "value", max: 100, axisLabel: { formatter: "{value} %" } } });
    }
    var months = document.getElementById("chart-on-time-months");
    if (months) {
      bars(months, column(data.on_time_months, 0), [column(data.on_time_months, 1)], ["%"],
        { yAxis: { type: "value", max: 100, axisLabel: { formatter: "{value} %" } } });
    }
    var timing = document.getElementById("chart-timing");
    if (timing) bars(timing, column(data.timing, 0), [column(data.timing, 1), column(data.timing, 2)], data.timing_series);
    var money = document.getElementById("chart-money");
    if (money) bars(money, column(data.money, 0), [column(data.money, 1), column(data.money, 2)], data.money_series);
    document.body.dataset.chartsReady = "true";  // the browser test waits for this
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
