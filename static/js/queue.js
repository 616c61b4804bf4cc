// Call queue: keyboard work and moving on to the next lead once one is done.
(function () {
  "use strict";

  function entries() {
    return Array.from(document.querySelectorAll("[data-entry]"));
  }

  function current() {
    const active = document.activeElement;
    return active && active.closest ? active.closest("[data-entry]") : null;
  }

  function focusEntry(entry) {
    if (!entry) return;
    entry.focus();
    entry.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    const list = entries();
    if (!list.length) return;
    const index = list.indexOf(current());
    const next = index < 0 ? 0 : Math.min(list.length - 1, Math.max(0, index + step));
    focusEntry(list[next]);
  }

  // Called after a call is logged or a lead snoozed (the server answered 204): the entry leaves at
  // once and the next one takes focus; the list then refreshes itself on the queue-changed event.
  function entryDone(element) {
    const entry = element.closest("[data-entry]");
    if (!entry) return;
    const list = entries();
    const next = list[list.indexOf(entry) + 1] || list[list.indexOf(entry) - 1];
    entry.remove();
    focusEntry(next);
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target.matches && target.matches("input, textarea, select, [contenteditable]")) return;
    if (event.key === "j") { move(1); event.preventDefault(); return; }
    if (event.key === "k") { move(-1); event.preventDefault(); return; }
    const entry = current();
    if (!entry) return;
    const button = entry.querySelector('[data-key="' + event.key + '"]');
    if (!button) return;
    event.preventDefault();
    if (event.key === "c") {
      // A callback needs its time: open the field instead of submitting without it.
      const field = entry.querySelector('input[name="callback_at"]');
      if (field && !field.value) { field.focus(); return; }
    }
    button.click();
  });

  window.crmQueue = { entryDone: entryDone };
})();
