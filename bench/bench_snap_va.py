"""SNAP VA payment flags under load: gunicorn on PostgreSQL, the simulated bank as the load.

    .venv/bin/python bench/bench_snap_va.py [--rate 200] [--duration 60] [--vendors 2000]

* A scratch database (``bench_va`` on ``BENCH_DATABASE_URL``, default
  ``postgresql://postgres@127.0.0.1:5432/bench_va``) is dropped, migrated and seeded: vendors
  with a month billed, and a bank profile (open VA) whose key and secret the simulator holds.
* gunicorn serves ``wsgi:app`` on a free port.
* Warm-up, untimed: 100 flags at 25/s (each server thread's first flags open its database
  connection and fill its caches), and every load thread opens its connection before a timed
  schedule starts. The warm-up's flags are verified with the others.
* Open loop: ``--rate`` payment flags per second for ``--duration`` s, each signed as the bank
  signs (HMAC-SHA512 over the body) when it is sent, 10 % of them repeated later with
  ``flagAdvise=Y``; latency p50/p95/p99 from the moment a flag was due to be sent to its
  answer, so a server that falls behind shows the queue it builds (measured from the send, the
  load generator's busy threads would hide it); the rate printed is the rate achieved. The same
  rate against ``/healthz`` (a constant JSON answer on the same server) is the floor. Then a
  closed loop for the throughput ceiling.
* Afterwards: every flag answered ``2002500`` (0 lost), one payment per paymentRequestId
  (0 double), retries answered the first answer, and ``ledger verify`` passes.

Target (DESIGN.md): 200/s sustained, p99 < 100 ms, on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from payments.sim.client import (  # noqa: E402
    HttpTransport,
    PartnerIdentity,
    SnapClient,
    generate_key_pair,
)

PAYMENT = "/v1.0/transfer-va/payment"
AMOUNT_IDR = 5_000
WARM_RATE, WARM_S = 25, 4  # flags a second, seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare(url: str, env: dict[str, str], vendors: int) -> tuple[PartnerIdentity, list[str]]:
    """Scratch database, schema, vendors with bills, the bank profile. Returns the bank's
    identity and the VA digits of every vendor."""
    admin = sa.create_engine(
        sa.make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    name = sa.make_url(url).database
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    os.environ.update(env)
    from flask_migrate import upgrade

    from payments.snap.models import PartnerKind, VaType
    from payments.snap.partners import PartnerInput, add_partner
    from payments.va.services import va_numbers_for_vendor
    from retribusi import create_app
    from retribusi.extensions import db
    from retribusi.levy.billing import issue_bills
    from tests.levy import factories as f

    app = create_app()
    key = generate_key_pair()
    with app.app_context():
        upgrade()
        f.illustrative_tariffs()
        ids = []
        for n in range(vendors):
            ids.append(f.holding("KLEWER", area_m2="5", block_code=f"B{n // 500}").vendor.id)
        today = datetime.now(UTC).date()
        issue_bills(today.strftime("%Y-%m"), actor="bench", issued_on=today)
        issued = add_partner(
            PartnerInput(
                code="BENCH",
                kind=PartnerKind.BANK,
                name="Bench bank",
                client_id="bench-client",
                public_key_pem=PartnerIdentity("", "", key).public_key_pem,
                company_code="88810",
                va_type=VaType.OPEN,
            ),
            actor="bench",
        )
        vas = [va_numbers_for_vendor(i)[0].digits for i in ids]
        db.session.remove()
        db.engine.dispose()
    identity = PartnerIdentity(
        client_id="bench-client",
        partner_id=issued.partner.partner_id,
        private_key=key,
        client_secret=issued.client_secret,
    )
    return identity, vas


def flag_body(va: str, request_id: str, retry: bool) -> bytes:
    customer = va[5:]
    return json.dumps(
        {
            "partnerServiceId": "   88810",
            "customerNo": customer,
            "virtualAccountNo": "   88810" + customer,
            "paymentRequestId": request_id,
            "paidAmount": {"value": f"{AMOUNT_IDR}.00", "currency": "IDR"},
            "flagAdvise": "Y" if retry else "N",
        },
        separators=(",", ":"),
    ).encode()


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


Job = tuple[float, str, bytes]  # when (s from the start), paymentRequestId, body (b"": /healthz)
Result = tuple[str, float, int, dict[str, Any]]  # id, latency (s), HTTP status, answer


def open_loop(
    base: str, jobs: list[Job], sign: Callable[[bytes], dict[str, str]], threads: int = 48
) -> tuple[list[Result], float, float]:
    """Send each job at its scheduled offset, signed then; the results (latency from the
    scheduled moment), the seconds from the start to the last answer, and the CPU seconds the
    load itself took (this process: signing, HTTP client), which the server did not have."""
    results: list[Result] = []
    lock = threading.Lock()
    cursor = iter(range(len(jobs)))
    # Each thread opens its connection before the schedule starts, as a bank's client keeps its
    # connections open: 48 connections set up in the first quarter second otherwise make the
    # slowest 1 % of a run (the floor's p99 was 142-241 ms with them, 4-6 ms without). The
    # schedule's clock starts once all are open, not when the threads start: opening them took
    # up to a second on a busy machine, and every job due meanwhile was counted late by as much
    # (the floor's p99 418-928 ms that way, 4.7-13.6 ms this way, alternately on one machine).
    ready = threading.Barrier(threads + 1)
    go = threading.Event()
    start = 0.0

    def worker() -> None:
        client = httpx.Client(base_url=base, timeout=30)
        client.get("/healthz")
        ready.wait()
        go.wait()
        while True:
            with lock:
                index = next(cursor, None)
            if index is None:
                break
            at, ident, body = jobs[index]
            due = start + at
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            try:
                if body:
                    reply = client.post("/snap" + PAYMENT, headers=sign(body), content=body)
                else:
                    reply = client.get("/healthz")
                status, answer = reply.status_code, reply.json()
            except ValueError:
                status, answer = 0, {"error": f"{reply.status_code} {reply.text[:200]!r}"}
            except httpx.HTTPError as exc:
                status, answer = 0, {"error": str(exc)}
            with lock:
                results.append((ident, time.perf_counter() - due, status, answer))
        client.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    ready.wait()
    start = time.perf_counter() + 0.1
    go.set()
    cpu = time.process_time()
    for thread in pool:
        thread.join()
    return results, time.perf_counter() - start, time.process_time() - cpu


def report(label: str, results: list[Result], seconds: float, cpu: float) -> None:
    latencies = [r[1] * 1000 for r in results]
    print(
        f"{label:<28} n={len(results):>6}  {len(results) / seconds:7.1f}/s  "
        f"p50={percentile(latencies, 50):6.1f} ms  p95={percentile(latencies, 95):6.1f} ms  "
        f"p99={percentile(latencies, 99):6.1f} ms  max={max(latencies):6.1f} ms\n"
        f"{'':<28} the load's own CPU {cpu * 1000 / len(results):.2f} ms a request,"
        f" {cpu / seconds:.0%} of a core"
    )


def closed_loop(base: str, make: Any, seconds: float, concurrency: int) -> tuple[int, list[float]]:
    done = 0
    lat: list[float] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def worker(n: int) -> None:
        nonlocal done
        client = httpx.Client(base_url=base, timeout=30)
        i = 0
        while time.perf_counter() < stop:
            path, headers, body = make(n, i)
            i += 1
            sent = time.perf_counter()
            reply = client.post(path, headers=headers, content=body) if body else client.get(path)
            ok = reply.status_code == 200
            with lock:
                done += ok
                lat.append((time.perf_counter() - sent) * 1000)
        client.close()

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(concurrency)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return done, lat


def main() -> None:
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--vendors", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--ceiling-seconds", type=int, default=15)
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/bench_va")
    instance = tempfile.mkdtemp(prefix="bench-va-")
    env = {
        "DATABASE_URL": url,
        "RETRIBUSI_INSTANCE_PATH": instance,
        "RETRIBUSI_PARTNER_SECRET_KEY": Fernet.generate_key().decode(),
        "RETRIBUSI_SECRET_KEY": "bench-secret",
        "RETRIBUSI_SIM_BANK_ENABLED": "false",
    }
    print(f"load average before: {os.getloadavg()}  cores: {os.cpu_count()}")
    t0 = time.perf_counter()
    identity, vas = prepare(url, env, args.vendors)
    print(f"seeded {len(vas)} vendors in {time.perf_counter() - t0:.1f} s")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(  # noqa: S603 - our own gunicorn, fixed arguments
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "-w",
            str(args.workers),
            "-k",
            "gthread",
            "--threads",
            str(args.threads),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "wsgi:app",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
    )
    try:
        for _ in range(100):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        run(base, identity, vas, args)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    verify(url, env)


def run(base: str, identity: PartnerIdentity, vas: list[str], args: argparse.Namespace) -> None:
    client = SnapClient(identity, HttpTransport(base), now=lambda: datetime.now(UTC))
    client.external_id_prefix = f"B{int(time.time())}"
    total = args.rate * args.duration
    rng = random.Random(7)
    jobs: list[Job] = []
    originals = []
    for n in range(total):
        request_id = f"BENCH{n:08d}"
        va = vas[n % len(vas)]
        body = flag_body(va, request_id, retry=False)
        at = n / args.rate
        jobs.append((at, request_id, body))
        originals.append((at, request_id, va))
    # 10 % retries of earlier flags, 0.2-2 s later, flagAdvise=Y and a new X-EXTERNAL-ID.
    for at, request_id, va in rng.sample(originals, total // 10):
        body = flag_body(va, request_id, retry=True)
        jobs.append((at + rng.uniform(0.2, 2.0), request_id, body))
    jobs.sort(key=lambda job: job[0])
    floor_jobs = [(n / args.rate, f"h{n}", b"") for n in range(args.rate * min(args.duration, 20))]
    print(
        f"scheduled {len(jobs)} flags ({total} + {total // 10} retries);"
        f" load average {os.getloadavg()}"
    )

    def sign(body: bytes) -> dict[str, str]:
        return client.signed_headers(PAYMENT, body, external_id=client.next_external_id())

    # Warm-up, untimed: each server thread's first flags open its database connection and fill
    # its statement caches (the first 20 flags of a run took 0.3-1.0 s, the rest 25 ms at 30/s),
    # which a server that has been up for a while has done long ago. It pays the last vendors
    # first, so the timed flags find the first ones as before.
    warm_jobs = [
        (n / WARM_RATE, f"WARM{n:05d}", flag_body(vas[-1 - n % len(vas)], f"WARM{n:05d}", False))
        for n in range(WARM_RATE * WARM_S)
    ]
    warm, _seconds, _cpu = open_loop(base, warm_jobs, sign)
    warm_codes = Counter(r[3].get("responseCode", f"http {r[2]}") for r in warm)
    print(f"warm-up: {len(warm)} flags at {WARM_RATE}/s, untimed: {dict(warm_codes)}")
    floor, seconds, cpu = open_loop(base, floor_jobs, sign)
    report(f"floor GET /healthz @{args.rate}/s", floor, seconds, cpu)
    results, seconds, cpu = open_loop(base, jobs, sign)
    report(f"payment flags @{args.rate}/s", results, seconds, cpu)
    codes = Counter(r[3].get("responseCode", f"http {r[2]}") for r in results)
    first: dict[str, dict[str, Any]] = {}
    mismatched = 0
    for ident, _lat, _status, answer in sorted(results, key=lambda r: r[0]):
        if ident in first and first[ident] != answer:
            mismatched += 1
        first.setdefault(ident, answer)
    errors = [r[3] for r in results if r[2] == 0][:1]
    if errors:
        print(f"first transport error: {errors[0]}")
    print(f"answers: {dict(codes)}; retries answered differently from the first: {mismatched}")
    print(f"load average after the run: {os.getloadavg()}")
    # Throughput ceiling: closed loop with new flags (the open loop's rate is what we ask for).
    counter = iter(range(10**9))

    def make_flag(n: int, i: int) -> tuple[str, dict[str, str], bytes]:
        k = next(counter)
        body = flag_body(vas[k % len(vas)], f"CEIL{k:09d}", retry=False)
        return "/snap" + PAYMENT, sign(body), body

    done, lat = closed_loop(base, make_flag, args.ceiling_seconds, concurrency=24)
    print(
        f"ceiling (closed loop, 24 clients): {done / args.ceiling_seconds:7.1f} flags/s, "
        f"p50={percentile(lat, 50):.1f} ms p99={percentile(lat, 99):.1f} ms"
    )
    done, lat = closed_loop(base, lambda n, i: ("/healthz", {}, b""), 5, concurrency=24)
    print(
        f"ceiling /healthz (closed loop, 24 clients): {done / 5:7.1f} req/s,"
        f" p99={percentile(lat, 99):.1f} ms"
    )
    expected = set(first) | {r[0] for r in warm}
    RESULT.update(expected=expected, codes=codes + warm_codes, mismatched=mismatched)


RESULT: dict[str, Any] = {}


def verify(url: str, env: dict[str, str]) -> None:
    os.environ.update(env)
    from payments.models import Payment
    from payments.verify import verify_ledger
    from retribusi import create_app
    from retribusi.extensions import db

    app = create_app()
    with app.app_context():
        refs = Counter(
            db.session.scalars(sa.select(Payment.external_ref).where(Payment.sender == "BENCH"))
        )
        report_ = verify_ledger(db.session)
        expected = set(RESULT["expected"])
        lost = len(expected - set(refs))
        double = sum(1 for c in refs.values() if c > 1)
        print(
            f"payments recorded: {len(refs)}; lost: {lost}; double: {double}; "
            f"retries answered differently: {RESULT['mismatched']}"
        )
        print(
            f"ledger verify: {'OK' if report_.ok else report_.violations[:5]} "
            f"({report_.payments} payments, {report_.bills} bills)"
        )
        ok = lost == 0 and double == 0 and report_.ok and RESULT["mismatched"] == 0
        db.session.remove()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
