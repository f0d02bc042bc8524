// The double opt-in page (templates/front/preferences/confirm.html): a person's browser submits
// the confirmation at once, so one click on the link in the mail confirms. Only the POST
// confirms: a link scanner that merely fetches the link changes nothing (decision 005).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form[data-auto-submit]");
  if (form === null) return;
  const button = form.querySelector("button[type=submit]");
  if (button !== null) button.disabled = true;  // no second POST from an impatient click
  form.submit();
});
