// Follow-up table glue: rows expand and collapse in place, "select all" ticks the page's rows.
// htmx loads a row's details; this only keeps a second click from reloading what is open.
(function () {
  "use strict";

  document.addEventListener("htmx:beforeRequest", function (event) {
    const row = event.detail.elt;
    if (!row.matches || !row.matches("tr.fu-row")) return;
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

  window.crmFollowUp = { ready: true };
})();
