// Small page glue. htmx does the work; this only tells the user when a request failed, since
// htmx leaves the page unchanged on a network error or a 4xx/5xx response.
(function () {
  "use strict";

  function showError(text) {
    var box = document.getElementById("messages");
    if (!box) return;
    var alert = document.createElement("div");
    alert.className = "alert alert--error";
    alert.setAttribute("role", "alert");
    alert.textContent = text;
    box.replaceChildren(alert);
  }

  document.addEventListener("htmx:sendError", function () {
    showError("Could not reach the server. Check your connection and try again.");
  });
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : "";
    showError(status === 403
      ? "Your session has expired or you may not do that. Reload the page and sign in again."
      : "Something went wrong (" + status + "). Please try again.");
  });
})();
