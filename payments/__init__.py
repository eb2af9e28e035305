"""One payment ledger for every channel, receipts, officer cash, and the QRIS and VA channels."""
