"""The front doors: the vendor's phone (what is owed, how to pay, receipts), the officer's
round."""
