// Officer cash, on a bad connection: the form's idempotency key survives the page.
// When the form is sent, its key and figures are kept on the device until the receipt shows.
// If the answer never arrived (the signal dropped) and the officer opens the form again for the
// same vendor, the kept key is sent again with the same figures, so the server answers with the
// receipt of the cash it already recorded instead of recording it twice. Without JavaScript a
// resend of the same page (back, or the browser's "resubmit") carries the same key as well.
(function () {
  "use strict";
  var DAY_MS = 24 * 60 * 60 * 1000;
  function storage() {
    try { return window.localStorage; } catch (error) { return null; }
  }
  var store = storage();
  if (!store) { return; }
  var done = document.querySelector("[data-cash-done-vendor]");
  if (done) { store.removeItem("cash-pending:" + done.getAttribute("data-cash-done-vendor")); }
  var form = document.querySelector("form[data-cash-vendor]");
  if (!form) { return; }
  var slot = "cash-pending:" + form.getAttribute("data-cash-vendor");
  var fields = ["idempotency_key", "amount", "market", "bill_id"];
  var kept = null;
  try { kept = JSON.parse(store.getItem(slot) || "null"); } catch (error) { kept = null; }
  if (kept && Date.now() - kept.at < DAY_MS && kept.idempotency_key) {
    fields.forEach(function (name) {
      if (form.elements[name] && kept[name] !== undefined) { form.elements[name].value = kept[name]; }
    });
    var note = document.getElementById("cash-pending");
    if (note) { note.hidden = false; }
  }
  form.addEventListener("submit", function () {
    var sent = { at: Date.now() };
    fields.forEach(function (name) { if (form.elements[name]) { sent[name] = form.elements[name].value; } });
    store.setItem(slot, JSON.stringify(sent));
  });
})();
