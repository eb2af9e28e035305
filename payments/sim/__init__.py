"""Simulated partners for the demo, the tests and the benchmarks.

* :mod:`payments.sim.client` - the SNAP client side any partner needs: keys, token, signing,
  HTTP or in-process transport (shared with the QRIS acquirer simulator).
* :mod:`payments.sim.bank` - a bank paying vendors' bills by VA: inquiry, payment flag,
  retries, its journal and the day's MT940 statement.

Nothing here is used by the platform's own request handling except the demo-only "pay via the
simulated bank" button (``payments.sim.views``), which production configuration switches off.
"""
