// A little behaviour that plain HTML lacks; every page works without it.
(function () {
  "use strict";
  var body = document.body;
  var narrow = window.matchMedia("(max-width: 860px)");

  // The burger opens and closes the side menu; the wide layout remembers the choice.
  document.querySelectorAll("[data-nav-toggle]").forEach(function (button) {
    if (!narrow.matches && localStorage.getItem("openesp-nav") === "closed") {
      body.classList.add("nav-closed");
      button.setAttribute("aria-expanded", "false");
    }
    button.addEventListener("click", function () {
      if (narrow.matches) {
        button.setAttribute("aria-expanded", String(body.classList.toggle("nav-open")));
      } else {
        var closed = body.classList.toggle("nav-closed");
        localStorage.setItem("openesp-nav", closed ? "closed" : "open");
        button.setAttribute("aria-expanded", String(!closed));
      }
    });
  });

  // The user menu closes on a click elsewhere or on Escape.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details[data-menu][open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      document.querySelectorAll("details[data-menu][open]").forEach(function (menu) { menu.removeAttribute("open"); });
    }
  });

  // Destructive forms ask first.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });

  // A switch saves as soon as it is flipped; its Save button is only needed without script.
  document.querySelectorAll("input[data-autosubmit]").forEach(function (input) {
    var form = input.form;
    var button = form && form.querySelector("button");
    if (button) button.hidden = true;
    input.addEventListener("change", function () { form.requestSubmit ? form.requestSubmit() : form.submit(); });
  });

  // Attribute rows: "Another attribute" adds an empty row; without script the page has spare rows.
  document.querySelectorAll("[data-attr-rows]").forEach(function (box) {
    var add = box.querySelector("[data-attr-add]");
    if (!add) return;
    add.hidden = false;
    add.addEventListener("click", function () {
      var rows = box.querySelectorAll("[data-attr-row]");
      var row = rows[rows.length - 1].cloneNode(true);
      row.querySelectorAll("input").forEach(function (input) { input.value = ""; });
      row.querySelector("select").selectedIndex = 0;
      add.parentNode.insertBefore(row, add);
      row.querySelector("input").focus();
    });
  });
})();

// Copy buttons: data-copy names the input whose value goes to the clipboard.
(function () {
  "use strict";
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var input = document.getElementById(button.getAttribute("data-copy"));
      if (!input) return;
      input.select();
      var done = function () { button.textContent = button.getAttribute("data-copied") || button.textContent; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
      } else {
        document.execCommand("copy");
        done();
      }
    });
  });
})();
