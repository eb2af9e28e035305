"""QRIS benchmark: build + CRC, decode, SVG and PNG per code, against the DESIGN.md targets.

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
