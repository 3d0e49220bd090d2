"""Dispatch benchmark: outbox sender throughput and commit-to-request latency, against the local
Twilio-compatible server on 127.0.0.1, with baselines measured in the same run.

- baseline `requests`: a bare loop of the same HTTP POST the SDK makes (form body, basic auth,
  one keep-alive session), no database — the floor set by HTTP and the server;
- `sdk`: `TwilioProvider.send` in a loop, no database — what the official SDK adds;
- `sender`: `OutboxSender.run_once` draining N queued rows — claim (lease) transaction, SDK
  request, record transaction per message;
- latency: a running sender thread, one outbox row committed at a time followed by `wake()`,
  measured from the commit to the moment the server receives the request (both monotonic
  clocks of this process). This is the dispatch share of "SOS to SMS request": ingestion and
  the rules engine are measured in their own sections.
- the duplicate window: for every message, the time between the provider's answer and the
  commit of `sent` (a crash inside it sends that message twice).

Usage: .venv/bin/python benchmarks/dispatch.py [--messages 500] [--latency-samples 200] [--db-url URL]
Bounded: a fixed number of messages, stops by itself.
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # tests/support, without relying on a top-level "tests" name

from support.twilio_server import TwilioTestServer  # noqa: E402

from alerts.config import EscalationConfig, VolunteersConfig  # noqa: E402
from alerts.escalation import EscalationPolicy  # noqa: E402
from hub.clock import SystemClock  # noqa: E402
from hub.dispatch.dispatcher import Dispatcher  # noqa: E402
from hub.dispatch.feedback import OutboxOnly  # noqa: E402
from hub.dispatch.providers.twilio import TwilioProvider  # noqa: E402
from hub.dispatch.sender import OutboxSender, SenderSettings  # noqa: E402
from hub.storage import models as m  # noqa: E402
from hub.storage.db import make_engine, make_sessions  # noqa: E402

FROM = "+15005550006"
BODY = "【平安】李奶奶(宣信街12号3单元501)按了SOS求救。回复1前往,2求援。码A7K2"
ESCALATION = {
    "critical": [{"notify": ["grid_worker"], "wait": "5m"}],
    "high": [{"notify": ["grid_worker"], "wait": "15m"}],
    "low": [{"notify": ["grid_worker"], "digest": "daily"}],
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bare_requests(server: TwilioTestServer, n: int) -> float:
    url = f"{server.base_url}/2010-04-01/Accounts/{server.account_sid}/Messages.json"
    auth = "Basic " + base64.b64encode(f"{server.account_sid}:{server.auth_token}".encode()).decode()
    with requests.Session() as session:
        start = time.perf_counter()
        for i in range(n):
            form = {"To": f"+86136{i:08d}", "From": FROM, "Body": BODY, "ValidityPeriod": "300"}
            response = session.post(url, data=form, headers={"Authorization": auth}, timeout=10)
            response.raise_for_status()
        return n / (time.perf_counter() - start)


def sdk_only(provider: TwilioProvider, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        provider.send(f"+86135{i:08d}", BODY, 300, None)
    return n / (time.perf_counter() - start)


def queue_rows(sessions, n: int, now: float, prefix: str) -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as session:
        for i in range(n):
            session.add(
                m.Notification(
                    purpose="bench",
                    step=0,
                    role="operator",
                    phone=f"+{prefix}{i:08d}",
                    body=BODY,
                    state="queued",
                    created_at=now,
                    next_attempt_at=now,
                    valid_until=now + 300,
                )
            )


def sender_drain(sessions, provider: TwilioProvider, dispatcher: Dispatcher, n: int) -> tuple[float, list[float]]:  # type: ignore[no-untyped-def]
    clock = SystemClock()
    queue_rows(sessions, n, clock.now(), "86134")
    sender = OutboxSender(sessions, provider, OutboxOnly(sessions, dispatcher, clock), clock, SenderSettings(owner="bench", batch=50))
    start = time.perf_counter()
    while sender.run_once():
        pass
    elapsed = time.perf_counter() - start
    assert sender.stats.sent == n, sender.stats
    return n / elapsed, list(sender.stats.record_windows_s or [])


def commit_to_request(
    sessions, server: TwilioTestServer, provider: TwilioProvider, dispatcher: Dispatcher, samples: int
) -> list[float]:  # type: ignore[no-untyped-def]
    clock = SystemClock()
    sender = OutboxSender(sessions, provider, OutboxOnly(sessions, dispatcher, clock), clock, SenderSettings(owner="latency", idle_wait_s=1.0))
    sender.start()
    latencies = []
    try:
        for i in range(samples):
            phone = f"+86133{i:08d}"
            with sessions.begin() as session:
                now = clock.now()
                session.add(
                    m.Notification(
                        purpose="bench",
                        step=0,
                        role="operator",
                        phone=phone,
                        body=BODY,
                        state="queued",
                        created_at=now,
                        next_attempt_at=now,
                        valid_until=now + 300,
                    )
                )
            committed = time.monotonic()
            sender.wake()  # what the integrator calls after committing new outbox rows
            deadline = committed + 10
            while time.monotonic() < deadline:
                hit = next((msg for msg in reversed(server.messages) if msg.to == phone), None)
                if hit is not None:
                    latencies.append(hit.received_mono - committed)
                    break
                time.sleep(0.0005)
            else:
                raise RuntimeError(f"message {i} never reached the server")
    finally:
        sender.stop()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument("--db-url", default=None, help="default: a fresh SQLite file (WAL)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, TwilioTestServer() as server:
        url = args.db_url or f"sqlite:///{tmp}/bench.db"
        engine = make_engine(url)
        m.Base.metadata.drop_all(engine)
        m.Base.metadata.create_all(engine)
        sessions = make_sessions(engine)
        provider = TwilioProvider(server.account_sid, server.auth_token, FROM, server.base_url)
        dispatcher = Dispatcher(EscalationPolicy(EscalationConfig.model_validate(ESCALATION), VolunteersConfig()))

        bare_requests(server, 50)  # warm-up: connections, imports, server threads
        baseline = bare_requests(server, args.messages)
        sdk = sdk_only(provider, args.messages)
        rate, windows = sender_drain(sessions, provider, dispatcher, args.messages)
        latencies = commit_to_request(sessions, server, provider, dispatcher, args.latency_samples)
        engine.dispose()

    db_kind = url.split(":", 1)[0]
    print(f"database: {db_kind}; messages: {args.messages}; latency samples: {args.latency_samples}")
    print(f"{'loop':<36} {'msg/s':>8} {'x baseline':>11}")
    print(f"{'bare requests.Session POST':<36} {baseline:8.0f} {1.0:11.2f}")
    print(f"{'twilio SDK send (no database)':<36} {sdk:8.0f} {sdk / baseline:11.2f}")
    print(f"{'OutboxSender (claim, send, record)':<36} {rate:8.0f} {rate / baseline:11.2f}")
    ms = [x * 1000 for x in latencies]
    print(
        f"commit -> provider request ms: p50={statistics.median(ms):.1f} p90={percentile(ms, 0.9):.1f} p99={percentile(ms, 0.99):.1f} max={max(ms):.1f}"
    )
    w = [x * 1000 for x in windows]
    print(
        f"duplicate window (provider answer -> commit) ms: p50={statistics.median(w):.2f} p99={percentile(w, 0.99):.2f} max={max(w):.2f}"
    )
    print(f"dispatch: sos_to_request_p99_ms={percentile(ms, 0.99):.1f} sender_rate={rate:.0f} msg/s")


if __name__ == "__main__":
    main()
