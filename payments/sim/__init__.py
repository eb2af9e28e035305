"""The bank simulator for demos and tests (VA biller bank and QRIS acquirer)."""
