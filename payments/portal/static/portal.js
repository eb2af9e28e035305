// Watches for a payment to land while the vendor's page is open: asks the server every few
// seconds (a cheap JSON call) and reloads the page when a new payment appears. Without
// JavaScript the page has a refresh link; nothing here is needed to read or pay.
(function () {
  "use strict";
  var owed = document.getElementById("owed");
  if (!owed || !window.fetch) { return; }
  var url = owed.getAttribute("data-status");
  var latest = Number(owed.getAttribute("data-latest"));
  var delayMs = 4000;
  var tries = 0;
  function check() {
    tries += 1;
    if (tries > 450 || document.hidden) { schedule(); return; }  // at most half an hour of asking
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (body && body.latest_payment_id > latest) {
          var note = document.getElementById("landed");
          if (note) { note.hidden = false; }
          window.setTimeout(function () { window.location.reload(); }, 1500);
          return;
        }
        schedule();
      })
      .catch(schedule);
  }
  function schedule() { window.setTimeout(check, delayMs); }
  schedule();
})();
