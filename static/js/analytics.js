// The analytics page's charts (ECharts): orders by kind / channel / partner / customer, on-time share by stage,
// time in stage, revenue and payments by month. The figures come from #analytics-data; the tables say the same.
(function () {
  "use strict";

  var COLOURS = ["#4c78a8", "#54a24b", "#c0392b", "#eeca3b"];
  var PERCENT = { max: 100, axisLabel: { formatter: "{value} %" } };

  var CROWDED = 4;  // more categories than this: horizontal bars, so the long stage names read whole
  var ROW = 26;  // px per category in a horizontal chart

  // Bars per category. Rotated labels under a column chart ran past the left edge (ECharts's containLabel does
  // not measure a rotated label hanging left of the first tick), so crowded charts lie on their side instead.
  function bars(holder, categories, series, names, valueAxis) {
    var horizontal = categories.length > CROWDED;
    if (horizontal) holder.style.height = Math.max(280, categories.length * series.length * ROW / 2 + 80) + "px";
    var chart = window.echarts.init(holder, null, { renderer: "svg" });
    var categoryAxis = { type: "category", data: categories, inverse: horizontal,
      axisLabel: { interval: 0, width: horizontal ? 170 : 120, overflow: "truncate" } };
    var values = Object.assign({ type: "value" }, valueAxis || {});
    chart.setOption({
      animation: false,
      color: COLOURS,
      grid: { left: 8, right: 24, top: 36, bottom: 8, containLabel: true },
      legend: names.length > 1 ? { top: 0 } : undefined,
      tooltip: { trigger: "axis" },
      xAxis: horizontal ? values : categoryAxis,
      yAxis: horizontal ? categoryAxis : values,
      series: series.map(function (values, index) {
        return { name: names[index], type: "bar", barMaxWidth: 28, data: values };
      })
    });
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
      bars(onTime, column(data.on_time, 0), [column(data.on_time, 1)], ["%"], PERCENT);
    }
    var months = document.getElementById("chart-on-time-months");
    if (months) {
      bars(months, column(data.on_time_months, 0), [column(data.on_time_months, 1)], ["%"], PERCENT);
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
