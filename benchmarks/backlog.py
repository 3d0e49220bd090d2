"""Critical first: how long an SOS published behind a backlog takes to reach the SMS provider.

    .venv/bin/python benchmarks/backlog.py [--count 500000] [--devices 10000] [--db sqlite|postgresql]

A private Mosquitto (127.0.0.1, free port, `max_queued_messages 0`: the default of 1000 would
drop the backlog) and `pingan serve` on a registry of `devices` residents with one home unit
each, sending SMS through the Twilio SDK to a local Twilio-compatible server
(tests/support/twilio_server.py). The hub starts once, so the broker keeps its two persistent
sessions (main and `-critical`), and stops. While it is down, `count` ordinary messages
(simulators/load.py: heartbeats and GPS fixes, about 9:1, round the devices; with `--events` also its 15 %
of motion, door and other ordinary events, which the critical session must skip) are published, then one SOS. Then the hub
starts again and the script records when the provider receives the SOS text and when the
backlog is stored. The last line:

    backlog: n=N sos_to_sms_ms=N drain_s=N sos_cpu_s=N

sos_to_sms_ms: from the hub process's start to the provider's first request (the process's own
start-up — imports, registry, engine — included); sos_cpu_s: the hub process's CPU seconds by
then (its own work, which a shared machine's load does not stretch); drain_s: from the same start to the last of
the `count` + 1 events stored. Also printed: the SOS time from the first stored event (ingestion
running). `--no-critical-lane` runs the hub without the critical lane, for comparison; `--partitions N` runs it in
scale-out mode (`scale.partitions`, PostgreSQL; docs/SCALE_OUT.md), where there is no critical lane and
the partition's owner rules the stored events in device-time order.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.append(str(REPO / "tests"))  # support.twilio_server; after benchmarks/ (its ingest.py)

import paho.mqtt.client as mqtt  # noqa: E402
import sqlalchemy as sa  # noqa: E402
import yaml  # noqa: E402
from harness import drop_database, wait_for  # noqa: E402
from ingest import Hub, make_database, pg_database, start_broker  # noqa: E402
from support.twilio_server import TwilioTestServer  # noqa: E402

WORKER_PHONE = "+8613800000001"


def add_responders(url: str) -> None:
    """A grid worker for the grid and a family contact for the first resident: the SOS's texts."""
    from hub.storage.db import make_engine, make_sessions
    from hub.storage.models import Contact, Grid, Responder

    engine = make_engine(url)
    with make_sessions(engine).begin() as s:
        grid = s.get(Grid, "bench-g1")
        s.add(Responder(id="worker", name="grid worker", phone=WORKER_PHONE, role="grid_worker", language="zh",
                        available=True, grids=[grid]))
        s.add(Contact(resident_id="r-00001", name="son", phone="+8613900000001", relation="son", language="zh",
                      position=0))
    engine.dispose()


def configure(hub: Hub, server: TwilioTestServer, critical_lane: bool, partitions: int | None = None) -> None:
    """SMS through the local Twilio server; `partitions`: scale-out mode (docs/SCALE_OUT.md: no critical lane there)."""
    data = yaml.safe_load(hub.config.read_text())
    if partitions is not None:
        data["scale"]["partitions"] = partitions
    data["sms"].update({"provider": "twilio", "twilio": {"account_sid": server.account_sid, "from_number": "+15005550006",
                                                         "api_base_url": server.base_url}})
    data["ingest"]["critical_lane"] = critical_lane
    hub.config.write_text(yaml.safe_dump(data, allow_unicode=True))
    os.environ["PINGAN_SMS__TWILIO__AUTH_TOKEN"] = server.auth_token


def publish_backlog(port: int, count: int, devices: int, events: bool) -> str:
    """`count` messages from the load generator (heartbeats and fixes; with `events`, also its 15 %
    of motion, door and other ordinary events), then one SOS from load-00001."""
    cmd = [sys.executable, "-m", "simulators.load", "--url", f"mqtt://127.0.0.1:{port}", "--devices", str(devices),
           "--rate", "10000000", "--count", str(count), "--connections", "2", "--window", "5000"]
    load = subprocess.run(cmd + ([] if events else ["--no-events"]), capture_output=True, text=True, cwd=REPO,
                          timeout=3600, check=True)
    stats = json.loads(load.stdout.strip().splitlines()[-1])
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="backlog-sos")
    client.connect("127.0.0.1", port)
    client.loop_start()
    sos = {"ts": round(time.time(), 3), "seq": 10**6, "type": "sos"}
    client.publish("pingan/v1/dev/load-00001/event", json.dumps(sos), qos=1).wait_for_publish(60)
    client.loop_stop()
    client.disconnect()
    return f"{stats['acked']} of {stats['sent']} acknowledged at {stats['rate']:.0f} msg/s, {stats['by_channel']}"


@contextlib.contextmanager
def private_world(db: str, name: str) -> Iterator[tuple[Path, int, str, list[Hub]]]:
    """A work dir, a private Mosquitto and a database (SQLite there, or PostgreSQL `name`); the hubs
    the caller appends are killed if still running, the broker ended and the database dropped."""
    workdir = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    broker, port = start_broker(workdir)
    url = pg_database(name) if db == "postgresql" else f"sqlite:///{workdir}/bench.db"
    if url is None:
        raise SystemExit(1)
    hubs: list[Hub] = []
    try:
        yield workdir, port, url, hubs
    finally:
        for hub in hubs:
            hub.kill()
        broker.terminate()
        broker.wait(10)
        if db == "postgresql":
            drop_database(name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=500_000)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--no-critical-lane", action="store_true")
    parser.add_argument("--events", action="store_true", help="the backlog also holds ordinary events (15 %%)")
    parser.add_argument("--partitions", type=int, help="scale.partitions (scale-out mode, PostgreSQL): the SOS as its owner rules it")
    args = parser.parse_args()

    with private_world(args.db, f"pingan_bench_backlog_{os.getpid()}") as (workdir, port, url, hubs), TwilioTestServer() as server:
        make_database(url, args.devices)
        add_responders(url)
        hub = Hub(workdir, "backlog", port, url)
        hubs.append(hub)
        configure(hub, server, critical_lane=not args.no_critical_lane, partitions=args.partitions)
        hub.start()  # once, so the broker keeps the hub's sessions while it is down
        wait_for(hub.ready, 120, f"hub ready (log {hub.log})")
        time.sleep(1.0)  # both sessions' SUBSCRIBEs handled (the critical one connects alongside)
        hub.stop()

        published = publish_backlog(port, args.count, args.devices, args.events)
        print(f"published: {published}, then 1 SOS", flush=True)

        from hub.storage.db import make_engine

        engine = make_engine(url)

        def stored() -> int:
            with engine.connect() as conn:
                return int(conn.execute(sa.text("SELECT count(*) FROM events")).scalar() or 0)

        started = time.monotonic()
        started_wall = time.time()
        hub.start()
        wait_for(server.accepted, args.timeout, "the SOS text at the provider")
        sms_at = server.accepted()[0].received_mono
        sos_cpu_s = hub.cpu_s()  # the hub's own work until then, whatever the machine's load
        sos_ms = (sms_at - started) * 1000
        print(f"SOS text at the provider {sos_ms:.0f} ms after the hub process started "
              f"({sos_cpu_s:.2f} s of the hub's CPU by then); events stored by then: {stored()}", flush=True)
        deadline = time.monotonic() + args.timeout
        while (n := stored()) < args.count + 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        drained = time.monotonic() - started
        with engine.connect() as conn:
            first = float(conn.execute(sa.text("SELECT min(received_at) FROM events")).scalar() or started_wall)
        print(f"ingestion running {first - started_wall:.2f} s after the start; SOS text "
              f"{sos_ms - (first - started_wall) * 1000:.0f} ms after the first stored event; "
              f"backlog stored in {drained:.1f} s ({n} events, {n / max(drained, 1e-9):.0f} msg/s with start-up)",
              flush=True)
        engine.dispose()
        hub.stop()
    complete = n >= args.count + 1
    if not complete:
        print("INCOMPLETE: the backlog was not stored before the deadline", flush=True)
    print(f"backlog: n={args.count} sos_to_sms_ms={sos_ms:.0f} drain_s={drained:.1f} sos_cpu_s={sos_cpu_s:.2f}")
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
