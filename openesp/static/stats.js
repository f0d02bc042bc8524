// openesp statistics: the charts by day of the statistics page and the campaign dashboard,
// drawn with uPlot (served by openesp, openesp/static/vendor/uplot). Each chart element names
// the json_script element holding its points; its labels come translated in data attributes.
(function () {
  "use strict";
  var lang = document.documentElement.lang || "en";
  document.querySelectorAll("[data-stats-chart]").forEach(function (chart) {
    var source = document.getElementById(chart.getAttribute("data-stats-chart"));
    if (!source || !window.uPlot) return;
    var points = JSON.parse(source.textContent).points;
    if (!points.length) return;
    var xs = [], sent = [], delivered = [], opened = [], clicked = [], bounced = [];
    points.forEach(function (p) {
      xs.push(Date.parse(p.day + "T00:00:00Z") / 1000);
      sent.push(p.sent);
      delivered.push(p.delivered);
      opened.push(p.opened_unique);
      clicked.push(p.clicked_unique);
      bounced.push(p.bounced_hard + p.bounced_soft);
    });
    var label = function (name) { return chart.getAttribute("data-label-" + name); };
    // UTC days in the page's language (uPlot's own labels are English).
    var day = function (u, ts) {
      return ts == null ? "–" : new Date(ts * 1000).toLocaleDateString(lang, { timeZone: "UTC", month: "short", day: "numeric" });
    };
    var options = {
      width: Math.max(chart.clientWidth, 300),
      height: 260,
      scales: {
        x: { time: true, auto: false, range: [xs[0] - 43200, xs[xs.length - 1] + 43200] },
        y: { range: function (u, min, max) { return [0, Math.max(max, 1) * 1.1]; } }
      },
      series: [
        { label: label("day"), value: day },
        { label: label("sent"), stroke: "#3b5bdb", width: 2 },
        { label: label("delivered"), stroke: "#1f8a4c", width: 2 },
        { label: label("opened"), stroke: "#e67700", width: 2 },
        { label: label("clicked"), stroke: "#862e9c", width: 2 },
        { label: label("bounced"), stroke: "#c92a2a", width: 2 }
      ],
      // Whole days between ticks: a day never shows twice on the axis.
      axes: [{ values: function (u, splits) { return splits.map(function (ts) { return day(u, ts); }); }, space: 70, incrs: [86400, 172800, 604800, 2592000] }, { size: 60 }]
    };
    var plot = new window.uPlot(options, [xs, sent, delivered, opened, clicked, bounced], chart);
    chart.setAttribute("data-drawn", "true");
    window.addEventListener("resize", function () {
      plot.setSize({ width: Math.max(chart.clientWidth, 300), height: 260 });
    });
  });
})();
