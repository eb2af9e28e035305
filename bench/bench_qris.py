"""QRIS benchmark: build + CRC, decode, SVG and PNG per code, against the DESIGN.md targets, and
the printable stall cards (a block's A6 PDF) per card, which has no target.

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_qris.py``. Each figure is the mean time per code
of the fastest of five rounds (as ``timeit`` reports), so a busy neighbour on a shared machine
does not make a fast path look slow. Exits 1 if a target is missed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from payments.qris import (
    MerchantCriteria,
    MerchantIdentity,
    build_dynamic,
    build_static,
    compose_merchant_pan,
    decode,
    decode_report,
    qr_png,
    qr_svg,
)

ROUNDS = 5
IDENTITY = MerchantIdentity(
    acquirer_guid="ID.CO.BANKJATENG.WWW",
    merchant_pan=compose_merchant_pan("93600113", "1234567"),
    merchant_id="RETPSRSKA01",
    merchant_criteria=MerchantCriteria.URE,
    nmid="ID1026123456789",
    merchant_name="DISDAG KOTA SURAKARTA",
    merchant_city="SURAKARTA",
    postal_code="57111",
)


def dynamic(index: int) -> str:
    return build_dynamic(
        IDENTITY,
        amount_idr=15_000 + index,
        bill_number=f"SKRD/2026/01/{index:06d}",
        reference=f"Q{index:09d}",
    )


def per_call_s(work: Callable[[int], object], calls: int) -> float:
    """Fastest round's mean seconds per call; each call gets a different index (no caching)."""
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for index in range(calls):
            work(index)
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def card_s(payloads: list[str], cards: int) -> float:
    """Seconds per card of one PDF of ``cards`` stall cards (best of the rounds)."""
    import tempfile

    from payments.qris.cards import Card, cards_pdf
    from retribusi import create_app

    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/b.db", "TESTING": True})
        batch = [
            Card(
                payload=payloads[i],
                market_name="Pasar Legi",
                block_name="Blok A",
                stall_reference=f"LEGI-A-{i:03d}",
                stall_type="kios",
                holder_name="Sri Rahayu",
                va_lines=("Bank Jateng 888100000000013",),
            )
            for i in range(cards)
        ]
        with app.test_request_context():
            best = min(_timed(lambda: cards_pdf(batch, IDENTITY, title="Blok A")) for _ in range(3))
    return best / cards


def _timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def main() -> int:
    payloads = [dynamic(i) for i in range(2_000)]
    rows: list[tuple[str, float, str, float | None]] = [
        ("build + CRC, dynamic", per_call_s(dynamic, 20_000) * 1e6, "µs", 50),
        (
            "build + CRC, static",
            per_call_s(lambda i: build_static(IDENTITY, stall_reference=f"PSGEDE-{i}"), 20_000)
            * 1e6,
            "µs",
            50,
        ),
        ("decode", per_call_s(lambda i: decode(payloads[i % 2_000]), 10_000) * 1e6, "µs", 100),
        (
            "decode_report (CLI)",
            per_call_s(lambda i: decode_report(payloads[i % 2_000]), 10_000) * 1e6,
            "µs",
            None,
        ),
        ("SVG", per_call_s(lambda i: qr_svg(payloads[i]), 40) * 1e3, "ms", 20),
        ("PNG (10 px/module)", per_call_s(lambda i: qr_png(payloads[i]), 40) * 1e3, "ms", None),
        ("A6 card, 200 per PDF", card_s(payloads, 200) * 1e3, "ms", None),
    ]
    print(f"QRIS benchmark: {len(payloads[0])}-character dynamic payloads, best of {ROUNDS} rounds")
    failed = False
    for name, value, unit, target in rows:
        if target is None:
            verdict = "(no target)"
        else:
            ok = value < target
            failed |= not ok
            verdict = f"target < {target} {unit}  {'PASS' if ok else 'FAIL'}"
        print(f"  {name:<22} {value:9.1f} {unit}/code   {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
