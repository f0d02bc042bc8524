// The segment form's live count: as the query is typed, ask the preview view (debounced) and show
// how many contacts match, or what is wrong with the query. Without script, the Preview button
// posts the form and the page shows the same.
(function () {
  "use strict";
  var box = document.querySelector("[data-segment-preview]");
  var input = document.querySelector("[data-segment-query]");
  if (!box || !input) return;
  var timer = null;
  var latest = 0;

  function show(data) {
    box.textContent = "";
    var p = document.createElement("p");
    if (data.ok) {
      p.className = "preview-count";
      var strong = document.createElement("strong");
      strong.setAttribute("data-testid", "preview-count");
      strong.textContent = String(data.count);
      p.appendChild(strong);
      p.appendChild(document.createTextNode(" " + box.getAttribute(data.count === 1 ? "data-text-one" : "data-text-many")));
      box.appendChild(p);
      if (data.contacts.length) {
        var ul = document.createElement("ul");
        ul.className = "preview-list small muted";
        data.contacts.forEach(function (email) {
          var li = document.createElement("li");
          li.textContent = email;
          ul.appendChild(li);
        });
        box.appendChild(ul);
      }
    } else {
      p.className = "field-error";
      p.setAttribute("data-testid", "preview-error");
      p.textContent = data.error;
      box.appendChild(p);
    }
  }

  function ask() {
    var query = input.value;
    if (!query.trim()) { box.textContent = ""; return; }
    var ticket = ++latest;
    fetch(box.getAttribute("data-url") + "?query=" + encodeURIComponent(query), {
      headers: { "Accept": "application/json" },
      credentials: "same-origin"
    })
      .then(function (response) { return response.json(); })
      .then(function (data) { if (ticket === latest) show(data); })
      .catch(function () { /* the Preview button still works */ });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(ask, 350);
  });
  if (input.value.trim() && !box.children.length) ask();
})();
