"""The SNAP BI layer every inbound SNAP endpoint stands on (VA biller, QRIS notify).

* :mod:`payments.snap.models` - partner profiles (a bank or a QRIS acquirer), B2B tokens, the
  raw call log and its answers, the X-EXTERNAL-ID claims.
* :mod:`payments.snap.secrets` - the client secrets we issue, encrypted at rest (Fernet).
* :mod:`payments.snap.partners` - partner profile use cases (add, list, rotate the secret) and the
  read-only :class:`~payments.snap.partners.PartnerInfo` snapshot endpoints see.
* :mod:`payments.snap.tokens` - issuing and checking B2B access tokens (stored hashed).
* :mod:`payments.snap.calls` - storing each call raw before it is processed, and its answer.
* :mod:`payments.snap.endpoint` - :func:`~payments.snap.endpoint.snap_endpoint`, the decorator
  that authenticates a call (headers, timestamp window, token, signature, X-EXTERNAL-ID),
  logs it, runs the handler and maps every failure to its SNAP response code.
* :mod:`payments.snap.views` - ``POST /snap/v1.0/access-token/b2b``.

The pure protocol pieces, free of HTTP and the database:

* :mod:`payments.snap.signature` - bank keys, B2B token signature, HMAC-SHA512 transaction
  signature, X-TIMESTAMP parsing and skew check, header extraction.
* :mod:`payments.snap.numbering` - partnerServiceId / customerNo (Damm check digit) /
  virtualAccountNo, and normalising the padding variants banks send.
* :mod:`payments.snap.codes` - responseCode table, inquiryStatus / paymentFlagStatus, reasons.
* :mod:`payments.snap.messages` - request parsing and response building.

Every error raised for untrusted input is a :class:`payments.snap.codes.SnapError`, which knows
its SNAP case. Channels (:mod:`payments.va`, :mod:`payments.qris`) import this package, never
the reverse. The contract with the banks is ``docs/snap-va.md``.
"""
