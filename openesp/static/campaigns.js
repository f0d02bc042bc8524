// Templates and campaigns. Every page works without script; with it:
// - the template editor previews as one types (debounced POST of the form to the preview view),
//   the HTML in a sandboxed frame (no script, no access to this page), errors with part and line;
// - the schedule and reminder forms show only the fields their choice needs, and a time zone
//   field left empty takes the browser's zone;
// - the campaign page draws its chart of sends and responses with uPlot (served by openesp).
(function () {
  "use strict";

  // --- the template editor's live preview -------------------------------------------------
  var editor = document.querySelector("[data-template-editor]");
  if (editor) {
    var url = editor.getAttribute("data-preview-url");
    var errorBox = editor.querySelector("[data-preview-error]");
    var subjectBox = editor.querySelector("[data-preview-subject]");
    var frame = editor.querySelector("[data-preview-html]");
    var textBox = editor.querySelector("[data-preview-text]");
    var timer = null;
    var latest = 0;

    var showError = function (data) {
      var label = errorBox.getAttribute("data-label-" + data.field) || data.field;
      var where = data.line ? label + ", " + errorBox.getAttribute("data-text-line") + " " + data.line : label;
      errorBox.textContent = where + ": " + data.reason;
      errorBox.setAttribute("data-field", data.field);
      errorBox.hidden = false;
    };
    var show = function (data) {
      if (!data.ok) { showError(data); return; }
      errorBox.hidden = true;
      errorBox.textContent = "";
      subjectBox.textContent = data.subject;
      frame.srcdoc = data.html || "";
      textBox.textContent = data.text;
    };
    var ask = function () {
      var ticket = ++latest;
      var body = new FormData(editor);
      body.delete("action");
      fetch(url, {
        method: "POST",
        body: body,
        headers: { "Accept": "application/json", "X-CSRFToken": body.get("csrfmiddlewaretoken") },
        credentials: "same-origin"
      })
        .then(function (response) { return response.json(); })
        .then(function (data) { if (ticket === latest) show(data); })
        .catch(function () { /* the Preview button still works */ });
    };
    editor.querySelectorAll("[data-part]").forEach(function (input) {
      input.addEventListener("input", function () {
        clearTimeout(timer);
        timer = setTimeout(ask, 400);
      });
    });
    ask();
  }

  // --- when: now, at a time, or some days after ---------------------------------------------
  var browserZone = "";
  try { browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { /* none */ }
  document.querySelectorAll("[data-when-form]").forEach(function (form) {
    var timeFields = form.querySelector("[data-when-fields]");
    var afterFields = form.querySelector("[data-after-fields]");
    var zone = form.querySelector("[data-time-zone]");
    if (zone && !zone.value && browserZone) zone.value = browserZone;
    var update = function () {
      var checked = form.querySelector("input[name=when]:checked");
      var when = checked ? checked.value : "now";
      if (timeFields) timeFields.hidden = when !== "later";
      if (afterFields) afterFields.hidden = when !== "after";
    };
    form.querySelectorAll("input[name=when]").forEach(function (radio) { radio.addEventListener("change", update); });
    update();
  });

  // --- the campaign's chart -------------------------------------------------------------------
  var chart = document.querySelector("[data-campaign-chart]");
  var source = document.getElementById("campaign-timeline");
  if (chart && source && window.uPlot) {
    var timeline = JSON.parse(source.textContent);
    var xs = [], sent = [], responded = [];
    timeline.points.forEach(function (p) {
      xs.push(Date.parse(p.at) / 1000);
      sent.push(p.sent);
      responded.push(p.responded);
    });
    var bars = window.uPlot.paths && window.uPlot.paths.bars ? window.uPlot.paths.bars({ size: [0.6, 40] }) : undefined;
    // One period either side, so that a campaign of one hour still reads as hours, not years.
    var pad = chart.getAttribute("data-unit") === "day" ? 86400 : 3600;
    var counts = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000, 500000, 1000000];
    // Times in the page's language and the browser's zone (uPlot's own labels are English, 12-hour).
    var lang = document.documentElement.lang || "en";
    var tick = function (u, splits) {
      var span = splits.length > 1 ? splits[splits.length - 1] - splits[0] : 0;
      var format = span > 2 * 86400 ? { month: "short", day: "numeric" } : { hour: "2-digit", minute: "2-digit" };
      return splits.map(function (ts) { return new Date(ts * 1000).toLocaleString(lang, format); });
    };
    var moment = function (u, ts) {
      return ts == null ? "–" : new Date(ts * 1000).toLocaleString(lang, { dateStyle: "short", timeStyle: "short" });
    };
    var options = {
      width: Math.max(chart.clientWidth, 300),
      height: 280,
      scales: {
        x: { time: true, auto: false, range: [xs[0] - pad, xs[xs.length - 1] + pad] },
        y: { range: function (u, min, max) { return [0, Math.max(max, 1) * 1.1]; } }
      },
      series: [
        { label: chart.getAttribute("data-label-time"), value: moment },
        { label: chart.getAttribute("data-label-sent"), stroke: "#3b5bdb", fill: "rgba(59,91,219,.25)", paths: bars },
        { label: chart.getAttribute("data-label-responded"), stroke: "#1f8a4c", width: 2, points: { size: 7 } }
      ],
      axes: [{ values: tick, space: 70 }, { size: 60, incrs: counts }]
    };
    var plot = new window.uPlot(options, [xs, sent, responded], chart);
    chart.setAttribute("data-drawn", "true");
    window.addEventListener("resize", function () {
      plot.setSize({ width: Math.max(chart.clientWidth, 300), height: 280 });
    });
  }
})();
