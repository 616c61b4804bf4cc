// Follow-up table glue: rows expand and collapse in place, "select all" ticks the page's rows.
// htmx loads a row's details; this only keeps a second click from reloading what is open.
(function () {
  "use strict";

  document.addEventListener("htmx:beforeRequest", function (event) {
    const row = event.detail.elt;
    if (!row.matches || !row.matches("tr.fu-row")) return;
    // A click on a link, box or button in the row does its own job and leaves the row as it is
    // (here, not in an hx-trigger filter: the Content-Security-Policy allows no eval).
    const trigger = event.detail.requestConfig && event.detail.requestConfig.triggeringEvent;
    const clicked = trigger && trigger.target;
    if (clicked && clicked !== row && clicked.closest && clicked.closest("a, input, label, button, select")) {
      event.preventDefault();
      return;
    }
    const detail = document.getElementById("detail-" + row.dataset.row);
    if (detail && detail.childElementCount) {
      // Open already: a click closes it instead of fetching it again.
      event.preventDefault();
      detail.replaceChildren();
      row.setAttribute("aria-expanded", "false");
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    const target = event.detail.target;
    if (target && target.classList && target.classList.contains("fu-detail")) {
      const row = document.querySelector('tr.fu-row[data-row="' + target.id.replace("detail-", "") + '"]');
      if (row) row.setAttribute("aria-expanded", "true");
    }
  });

  document.addEventListener("keydown", function (event) {
    // Enter on a focused row opens it, like a click.
    const row = event.target;
    if (event.key === "Enter" && row.matches && row.matches("tr.fu-row")) {
      row.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    }
  });

  document.addEventListener("change", function (event) {
    const box = event.target;
    if (!box.matches || !box.matches("[data-select-all]")) return;
    document.querySelectorAll('input[name="contact"][form="reassign-form"]').forEach(function (row) {
      row.checked = box.checked;
    });
  });

  // The filter form lives outside the table, so a table loaded by a summary card, a setter in
  // the panel, a sort or a page link leaves the form as it was: the next filter change would then
  // drop what the card chose. Once the new URL is in the address bar, the form is set from it, so
  // the form, the cards and the URL always say the same.
  function formFromUrl() {
    const form = document.getElementById("follow-up-filters");
    if (!form) return;
    const params = new URLSearchParams(window.location.search);
    Array.from(form.elements).forEach(function (field) {
      if (!field.name || field.type === "hidden" || field.form !== form || field.tagName === "BUTTON") return;
      if (field.type === "checkbox" || field.type === "radio") {
        field.checked = params.getAll(field.name).indexOf(field.value) >= 0;
      } else if (field.name === "sort" || field.name === "page") {
        // carried by the table's own hidden input
      } else {
        field.value = params.get(field.name) || "";
      }
    });
  }
  document.addEventListener("htmx:pushedIntoHistory", formFromUrl);
  document.addEventListener("htmx:historyRestore", formFromUrl);

  window.crmFollowUp = { ready: true };
})();
