/* vexil console: small progressive enhancements. Every page works without this file; the server checks
   everything again (percentages, confirmations, CSRF). No inline handlers: the CSP forbids them. */
(function () {
  "use strict";

  function parsePercent(text) {
    var value = parseFloat(String(text).replace(",", "."));
    return isFinite(value) ? value : NaN;
  }

  /* Live total of a rollout's percentages: green at exactly 100, red otherwise. */
  function updateRollout(box) {
    var total = 0;
    var valid = true;
    box.querySelectorAll("input.js-pct").forEach(function (input) {
      var value = input.value.trim() === "" ? 0 : parsePercent(input.value);
      if (isNaN(value) || value < 0 || value > 100) {
        valid = false;
        input.setAttribute("aria-invalid", "true");
      } else {
        input.removeAttribute("aria-invalid");
        total += value;
      }
    });
    total = Math.round(total * 1000) / 1000;
    var out = box.querySelector(".rollout-total");
    if (!out) return;
    var ok = valid && total === 100;
    out.textContent = "Total " + total + "%" + (ok ? "" : " (must be 100%)");
    out.classList.toggle("ok", ok);
    out.classList.toggle("bad", !ok);
  }

  document.addEventListener("input", function (event) {
    var target = event.target;
    if (target.matches && target.matches("input.js-pct")) {
      var box = target.closest("[data-rollout]");
      if (box) updateRollout(box);
    }
    /* Typed confirmations: the button lights up when the text matches (the server checks it anyway). */
    if (target.matches && target.matches("input.js-expect")) {
      var ok = target.value.trim() === target.getAttribute("data-expect");
      target.classList.toggle("matches", ok);
    }
  });

  /* The project switcher submits itself; the "Go" button is for browsers without JavaScript. */
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches && target.matches("select.js-autosubmit") && target.form) {
      target.form.requestSubmit ? target.form.requestSubmit() : target.form.submit();
    }
  });

  /* After htmx re-renders an editor, keep the keyboard where it was when the element still exists. */
  document.addEventListener("htmx:afterSwap", function () {
    document.querySelectorAll("[data-rollout]").forEach(updateRollout);
    var alert = document.querySelector("#editor [role=alert]");
    if (alert && !alert.hasAttribute("tabindex")) {
      alert.setAttribute("tabindex", "-1");
    }
  });
})();
