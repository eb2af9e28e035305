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

The pure protocol pieces (signatures, codes, messages) stay in :mod:`payments.va`; the contract
is ``docs/snap-va.md``.
"""
