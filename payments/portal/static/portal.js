// Progressive help on the vendor's pages; nothing here is needed to read or to pay.
//  * Watches for a payment to land while a page with #owed[data-status] is open: asks the
//    server every few seconds (a small JSON answer) and, when a new payment appears, shows the
//    note and reloads the page (or opens data-then). Without JavaScript the page has a refresh
//    link.
//  * Copy buttons ([data-copy]) put a VA number on the clipboard; they stay hidden without
//    JavaScript, where the number can be selected by hand.
(function () {
  "use strict";
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    if (!navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(button.getAttribute("data-copy")).then(function () {
        button.textContent = button.getAttribute("data-copied") || button.textContent;
      });
    });
  });
  var owed = document.getElementById("owed");
  if (!owed || !owed.hasAttribute("data-status") || !window.fetch) { return; }
  var url = owed.getAttribute("data-status");
  var then = owed.getAttribute("data-then");
  var latest = Number(owed.getAttribute("data-latest"));
  var delayMs = 4000;
  var tries = 0;
  function schedule() { window.setTimeout(check, delayMs); }
  function check() {
    tries += 1;
    if (tries > 450) { return; }  // half an hour of asking is enough
    if (document.hidden) { schedule(); return; }
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (body && body.latest_payment_id > latest) {
          var note = document.getElementById("landed");
          if (note) { note.hidden = false; }
          window.setTimeout(function () {
            if (then) { window.location.assign(then); } else { window.location.reload(); }
          }, 1500);
          return;
        }
        schedule();
      })
      .catch(schedule);
  }
  schedule();
})();
