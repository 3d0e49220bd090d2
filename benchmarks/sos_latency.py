"""An SOS at a city's size: from the device's PUBLISH to the SMS provider's request, by community size.

    .venv/bin/python benchmarks/sos_latency.py [--sizes 1000,20000,100000] [--sos 20] [--db sqlite|postgresql]
                                               [--partitions N]

For each size N, as a new user would run it (issue 18 item 1): a private Mosquitto, a registry of
N residents with one home unit each (benchmarks/ingest.py `make_database`) and a grid worker,
`pingan serve` sending SMS through the Twilio SDK to a local Twilio-compatible server
(tests/support/twilio_server.py); once ready, one message from every device (simulators/load.py:
heartbeats and GPS fixes round the devices) and all of it stored; then `--sos` SOS events, one at
a time from different residents, each timed from its PUBLISH to the provider's first request for
it. Printed per size, then the ratio of the largest community's p50 to the smallest's:

    sos_latency: residents=N p50_ms=N max_ms=N first_ms=N ready_s=N
    sos_latency: ratio_p50=R

`--partitions N`: the hub in scale-out mode (`scale.partitions`, PostgreSQL), where the partition's
owner rules stored events once they are `scale.settle_ms` old. first_ms: the first SOS after the flood. ready_s: from the hub process's start to /readyz. Bounded: every wait has a deadline; only the
processes started here are ended.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.append(str(REPO / "tests"))  # support.twilio_server; after benchmarks/ (its ingest.py)

import paho.mqtt.client as mqtt  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from backlog import add_responders, configure, private_world  # noqa: E402
from harness import wait_for  # noqa: E402
from ingest import Hub, make_database  # noqa: E402
from support.twilio_server import TwilioTestServer  # noqa: E402


def hear_every_device(port: int, devices: int, url: str, timeout_s: float) -> None:
    """One message from every device, all of it stored (the engine knows every device)."""
    cmd = [sys.executable, "-m", "simulators.load", "--url", f"mqtt://127.0.0.1:{port}", "--devices", str(devices),
           "--rate", "10000000", "--count", str(devices), "--connections", "2", "--window", "5000", "--no-events"]
    subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=timeout_s, check=True)
    engine = sa.create_engine(url)

    def all_stored() -> bool:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM events")).scalar() or 0) >= devices

    wait_for(all_stored, timeout_s, f"{devices} messages stored")
    engine.dispose()


def time_sos(port: int, server: TwilioTestServer, devices: int, count: int, timeout_s: float) -> list[float]:
    """Milliseconds from each SOS's PUBLISH to the provider's first request after it."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="sos-publisher")  # not bench-sos: the hub's own client id
    client.connect("127.0.0.1", port)
    client.loop_start()
    latencies = []
    try:
        for i in range(count):
            device = f"load-{2 + i * max(1, (devices - 2) // count):05d}"  # not r-00001: it has a family contact too
            before = len(server.accepted())
            sos = {"ts": round(time.time(), 3), "seq": 10**6 + i, "type": "sos"}
            sent = time.monotonic()
            client.publish(f"pingan/v1/dev/{device}/event", json.dumps(sos), qos=1)
            wait_for(lambda before=before: len(server.accepted()) > before, timeout_s, f"the text for {device}'s SOS")
            latencies.append((server.accepted()[before].received_mono - sent) * 1000)
            time.sleep(0.5)
    finally:
        client.loop_stop()
        client.disconnect()
    return latencies


def run_size(devices: int, args: argparse.Namespace) -> dict[str, float]:
    name = f"pingan_bench_sos_{os.getpid()}_{devices}"
    with private_world(args.db, name) as (workdir, port, url, hubs), TwilioTestServer() as server:
        make_database(url, devices)
        add_responders(url)
        hub = Hub(workdir, "sos", port, url)
        hubs.append(hub)
        configure(hub, server, critical_lane=True, partitions=args.partitions)
        started = time.monotonic()
        hub.start()
        wait_for(hub.ready, args.timeout, f"hub ready (log {hub.log})")
        ready_s = time.monotonic() - started
        hear_every_device(port, devices, url, args.timeout)
        latencies = time_sos(port, server, devices, args.sos, args.timeout)
        hub.stop()
    return {"p50": statistics.median(latencies), "max": max(latencies), "first": latencies[0], "ready_s": ready_s}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,20000,100000", help="community sizes (residents), comma-separated")
    parser.add_argument("--sos", type=int, default=20, help="SOS events timed per size")
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--partitions", type=int, help="scale.partitions (scale-out mode, PostgreSQL; docs/SCALE_OUT.md)")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    results = {}
    for size in sorted(int(s) for s in args.sizes.split(",")):
        r = results[size] = run_size(size, args)
        print(f"sos_latency: residents={size} p50_ms={r['p50']:.0f} max_ms={r['max']:.0f} first_ms={r['first']:.0f} "
              f"ready_s={r['ready_s']:.1f}",
              flush=True)
    sizes = sorted(results)
    print(f"sos_latency: ratio_p50={results[sizes[-1]]['p50'] / results[sizes[0]]['p50']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
