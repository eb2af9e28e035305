"""Virtual accounts over SNAP BI: a VA per vendor and bank, inquiry, payment flag and status
(:mod:`payments.va.services`), their pages and partner administration. The protocol itself
(signatures, numbering, codes, messages) is :mod:`payments.snap`; the contract with the banks is
``docs/snap-va.md``.
"""
