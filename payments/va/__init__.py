"""Virtual accounts over SNAP BI: the pure, HTTP-free and database-free parts.

* :mod:`payments.va.signature` - bank keys, B2B token signature, HMAC-SHA512 transaction
  signature, X-TIMESTAMP parsing and skew check, header extraction.
* :mod:`payments.va.numbering` - partnerServiceId / customerNo (Damm check digit) /
  virtualAccountNo, and normalising the padding variants banks send.
* :mod:`payments.va.codes` - responseCode table, inquiryStatus / paymentFlagStatus, reasons.
* :mod:`payments.va.messages` - request parsing and response building.

Every error raised for untrusted input is a :class:`payments.va.codes.SnapError`, which knows
its SNAP case; ``messages.error_response_for(service, error, payload=...)`` answers it.
The contract with the banks is in ``docs/snap-va.md``.
"""
