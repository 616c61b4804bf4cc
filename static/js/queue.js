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

  // A call logged or a lead snoozed ([data-queue-action] forms). A listener here, not hx-on: the
  // Content-Security-Policy allows no eval, which hx-on needs.
  document.addEventListener("htmx:afterRequest", function (event) {
    const form = event.detail.elt;
    if (!form.matches || !form.matches("form[data-queue-action]")) return;
    if (event.detail.xhr && event.detail.xhr.status === 204) entryDone(form);
  });

  // The list refreshes itself (every 2 minutes, and after any change): an entry someone is
  // typing in or has focus in must not be replaced by a fresh copy that forgets what was typed.
  // Such an entry is kept as it is and the rest of the list refreshes around it; if the fresh list
  // no longer has it, the refresh waits until the entry is left, then runs.
  let refreshWaiting = false;

  function isDirty(field) {
    if (field.type === "checkbox" || field.type === "radio") return field.checked !== field.defaultChecked;
    if (field.type === "hidden" || field.tagName === "BUTTON") return false;
    return field.value !== field.defaultValue;
  }

  function busyEntries(list) {
    const active = document.activeElement;
    return Array.from(list.querySelectorAll("[data-entry]")).filter(function (entry) {
      if (active && active !== entry && entry.contains(active)) return true;
      return Array.from(entry.querySelectorAll("input, textarea, select")).some(isDirty);
    });
  }

  let kept = null;  // {entries, active, selection} between beforeSwap and afterSwap

  document.addEventListener("htmx:beforeSwap", function (event) {
    const target = event.detail.target;
    if (!target || target.id !== "queue-list" || !event.detail.shouldSwap) return;
    const busy = busyEntries(target);
    if (!busy.length) return;
    const fresh = event.detail.serverResponse || "";
    const allThere = busy.every(function (entry) { return fresh.indexOf('id="' + entry.id + '"') >= 0; });
    if (!allThere) {
      event.detail.shouldSwap = false;
      refreshWaiting = true;
      return;
    }
    const active = document.activeElement;
    kept = {
      entries: busy,
      active: active,
      selection: active && "selectionStart" in active ? [active.selectionStart, active.selectionEnd] : null,
    };
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (!kept || !event.detail.target || event.detail.target.id !== "queue-list") return;
    const saved = kept;
    kept = null;
    saved.entries.forEach(function (entry) {
      const copy = document.getElementById(entry.id);
      if (!copy || copy === entry) return;
      copy.replaceWith(entry);
      // htmx unbound the old element's requests when it swapped it out: bind them again.
      if (window.htmx) window.htmx.process(entry);
    });
    if (saved.active && document.contains(saved.active)) {
      saved.active.focus();
      if (saved.selection) {
        try { saved.active.setSelectionRange(saved.selection[0], saved.selection[1]); } catch (e) { /* not a text field */ }
      }
    }
  });

  // A refresh that waited runs once no entry is being worked on.
  function refreshIfWaiting() {
    if (!refreshWaiting) return;
    const list = document.getElementById("queue-list");
    if (list && busyEntries(list).length) return;
    refreshWaiting = false;
    if (list && window.htmx) window.htmx.trigger(document.body, "queue-changed");
  }
  document.addEventListener("focusout", function () { setTimeout(refreshIfWaiting, 0); });
  document.addEventListener("input", refreshIfWaiting);

  // A part's answer computed before the latest change must not be the last word. hx-sync lets a
  // newer refresh cancel an older one still on its way, but not one whose answer has already
  // arrived: that answer swaps in a new element, the newer refresh (sent from the old element) is
  // dropped with it, and the part would show the figures from before the change (a booking missing
  // from the side panel until the 2-minute refresh). So each self-refreshing part's request notes
  // how many changes it has seen; a part that swapped in an answer older than the latest change
  // asks once more.
  const SELF_REFRESHING = new Set(["queue-cards", "queue-list", "queue-side"]);
  let changes = 0;
  const changesSeen = new WeakMap();
  document.body.addEventListener("queue-changed", function () { changes += 1; });
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (event.detail.xhr) changesSeen.set(event.detail.xhr, changes);
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    const target = event.detail.target;
    const xhr = event.detail.xhr;
    if (!target || !SELF_REFRESHING.has(target.id) || !xhr || !changesSeen.has(xhr)) return;
    if (changesSeen.get(xhr) < changes && window.htmx) window.htmx.trigger(document.body, "queue-changed");
  });

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

  window.crmQueue = { entryDone: entryDone, refreshWaiting: function () { return refreshWaiting; } };
})();
