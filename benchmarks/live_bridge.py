"""The live board's bridge between hubs alone (dashboards/live_bridge.py): CPU per board event.

    .venv/bin/python benchmarks/live_bridge.py [--events 20000] [--repo PATH]

Two `PgLiveBus`es on a fresh PostgreSQL database (the server PINGAN_TEST_PG names, as the
tests): a thread publishes `events` device events on hub A in bursts of 200 (a batch of
ingestion's worth) every 20 ms, hub B's subscriber counts them. Printed: the CPU of each bridge
thread (A's notifier and its listener, which hears A's own notifications; B's listener, which
hands them to B's subscriber) and of the publishing thread, in µs per event, and how many
notifications carried them. `--repo` imports `dashboards.live_bridge` from another checkout
(main's, to compare; its interpreter must have the project's packages).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import threading
import time
from pathlib import Path

BURST, PAUSE_S = 200, 0.02


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.path.insert(0, str(args.repo.resolve()))
    from harness import create_database, drop_database

    from dashboards.live_bridge import PgLiveBus, libpq_url

    logging.disable(logging.WARNING)
    name = f"pingan_bench_live_{os.getpid()}"
    conninfo = libpq_url(create_database(name))
    a, b = PgLiveBus(conninfo), PgLiveBus(conninfo)
    try:
        for bus in (a, b):
            bus.start()
            assert bus.listening.wait(10)
        asyncio.run(measure(a, b, args.events))
    finally:
        a.stop()
        b.stop()
        drop_database(name)


async def measure(a: object, b: object, n: int) -> None:
    from dashboards.live_bridge import PgLiveBus

    assert isinstance(a, PgLiveBus) and isinstance(b, PgLiveBus)
    threads = [("A", t) for t in a._threads] + [("B", t) for t in b._threads]

    def cpu() -> list[float]:
        return [time.clock_gettime(time.pthread_getcpuclockid(t.ident)) for _, t in threads if t.ident is not None]

    publisher_cpu: list[float] = []

    def publish() -> None:
        started = time.thread_time()
        for i in range(n):
            a.publish("device", {"device": f"dev-{i % 10_000:05d}", "state": "online"})
            if i % BURST == BURST - 1:
                time.sleep(PAUSE_S)
        publisher_cpu.append(time.thread_time() - started)

    got = 0
    async with b.subscribe() as queue:
        queue._maxsize = 0  # type: ignore[attr-defined]  # unbounded: count every event
        before, wall = cpu(), time.monotonic()
        publisher = threading.Thread(target=publish)
        publisher.start()
        while got < n:
            try:
                await asyncio.wait_for(queue.get(), 5)
            except TimeoutError:
                break
            got += 1
        publisher.join()
        await asyncio.sleep(1.5)  # A's listener hears A's last notifications
        after = cpu()
    for (hub, thread), t0, t1 in zip(threads, before, after, strict=True):
        print(f"hub {hub} {thread.name:14s} {(t1 - t0) * 1e6 / n:6.2f} us/event")
    print(f"publishing thread    {publisher_cpu[0] * 1e6 / n:6.2f} us/event (hub A's publish, no local subscriber)")
    sent = getattr(a, "notifications_sent", None)
    print(f"events received by B: {got} of {n} in {time.monotonic() - wall:.1f} s; notifications: {sent if sent is not None else n}")


if __name__ == "__main__":
    main()
