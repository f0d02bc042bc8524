// The import page follows its job: poll the status view while it runs, move the bar and the
// counts, and reload once it has ended (for the warnings, the skipped rows and the report).
(function () {
  "use strict";
  var card = document.querySelector("[data-import-status]");
  if (!card || card.getAttribute("data-running") !== "true") return;
  var url = card.getAttribute("data-import-status");
  var bar = card.querySelector("[role=progressbar]");
  function set(name, value) {
    var el = card.querySelector('[data-testid="' + name + '"]');
    if (el) el.textContent = value;
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (state) {
        if (!state) { window.setTimeout(poll, 5000); return; }
        card.querySelector("[data-testid=progress-fill]").style.width = state.percent + "%";
        bar.setAttribute("aria-valuenow", String(Math.round(state.percent)));
        set("percent", String(Math.round(state.percent)));
        set("rows-done", String(state.rows_done));
        set("count-created", String(state.created));
        set("count-updated", String(state.updated));
        set("count-skipped", String(state.skipped));
        set("import-status", state.status_label);
        if (state.running) window.setTimeout(poll, 1000);
        else window.location.reload();
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
})();
