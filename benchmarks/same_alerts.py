"""Same alerts at any scale: one recorded day through the broker into 1 hub and into 3 hubs,
against `pingan replay --offline` (issue 9, item 3).

    .venv/bin/python benchmarks/same_alerts.py [--homes 1000] [--minutes 6] [--recording DAY.jsonl]

1. `pingan simulate` of benchmarks/scenarios/community_1000.yaml (1,000 homes, one day, 60
   incidents; `--homes N` keeps the incidents of residents r-0001 … r-N), unless `--recording`
   names an existing one (its registry beside it as FILE.registry.yaml).
2. offline: `pingan replay --offline --json` of the day compressed as the broker replay
   delivers it (tests/faults/alert_sets.py `retime_recording`); also, for information, of the
   day at its own timing (deadline rules — falls, dead devices — fire only there).
3. A fresh PostgreSQL database `pingan_same_<pid>` (PINGAN_TEST_PG for the server; dropped at
   the end), schema created, registry imported; for each mode a fresh Mosquitto on a free port
   (no queue limits) and emptied tables:
   - one_hub: one `pingan serve` as shipped (no partitions, plain subscription);
   - three_hubs: three hubs, `scale.partitions: 16`, `$share/hubs/...` (tests/faults/helpers.py
     `Cluster`, lease 5 s, poll 100 ms).
   `pingan replay --speed S --retime` publishes the day in `--minutes` (S = 86400 / 60 / minutes);
   payload ts stay on the wall clock as long as the publisher keeps up, which is checked
   (`behind`: publishing took longer than the day's span / S).
4. The alerts (kind, resident, device, outcome; counted, ids aside) of each mode against the
   offline ones; differences listed; no alert or SMS doubled.

Every wait is bounded; only processes started here are ended, by their handle. Figures are
printed; the last line is

    same_alerts: homes=N messages=M offline=K one_hub=K three_hubs=K equal=yes|no

equal=no also when a mode was not all stored and ruled in time, or the publisher fell more than
a minute behind the day's timing (device ts then late at the hubs, whose battery rule ignores
late readings: the comparison would not be of the same input).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # tests/ for the fault suite's helpers

from conftest import Broker, free_port, write_broker_conf  # noqa: E402
from faults.alert_sets import AlertKey, differences, hub_alerts, offline_alerts, retime_recording  # noqa: E402
from faults.helpers import (  # noqa: E402
    Cluster,
    doubled_alerts,
    doubled_messages,
    events,
    import_registry,
    replay_to_broker,
    topic_lines,
    unruled,
)
from harness import scratch_database  # noqa: E402

from devices.messages import LATE_AFTER_S  # noqa: E402

SCENARIO = REPO / "benchmarks" / "scenarios" / "community_1000.yaml"
DAY_S = 86400.0
INCOMPLETE: list[str] = []  # modes whose comparison does not count (not all ruled, publisher behind)


def scenario_for(homes: int, work: Path) -> Path:
    """The 1,000-home scenario cut (or grown) to `homes`: incidents of residents beyond it dropped."""
    doc = yaml.safe_load(SCENARIO.read_text(encoding="utf-8"))
    if homes == doc["residents"]:
        return SCENARIO
    doc["residents"] = homes
    doc["incidents"] = [i for i in doc["incidents"] if int(i["resident"].split("-")[1]) <= homes]
    path = work / f"community_{homes}.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def simulate(homes: int, work: Path) -> Path:
    out = work / f"day{homes}.jsonl"
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "pingan", "simulate", "--scenario", str(scenario_for(homes, work)),
                    "--out", str(out)], cwd=REPO, check=True, capture_output=True, timeout=1200)
    print(f"simulated {homes} homes × 1 day in {time.monotonic() - started:.1f}s: {out}")
    return out


def fresh_schema(db_url: str, registry: Path) -> None:
    from hub.storage.db import make_engine, reset_schema

    engine = make_engine(db_url)
    reset_schema(engine)  # as `pingan db upgrade` builds it (events partitioned by day)
    engine.dispose()
    import_registry(db_url, registry)


def timed_offline(what: str, recording: Path, registry: Path) -> Counter[AlertKey]:
    started = time.monotonic()
    alerts = offline_alerts(recording, registry)
    print(f"  offline ({what}): {sum(alerts.values())} alerts in {time.monotonic() - started:.1f}s")
    return alerts


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def poll_until(condition: Callable[[], bool], progress: Callable[[], int], timeout_s: float,
               stall_s: float = 90.0) -> float | None:
    """Seconds until `condition` held; None at the timeout or after `stall_s` without `progress` moving."""
    started = moved_at = time.monotonic()
    last = progress()
    while time.monotonic() - started < timeout_s and time.monotonic() - moved_at < stall_s:
        if condition():
            return time.monotonic() - started
        time.sleep(1.0)
        if (now := progress()) != last:
            last, moved_at = now, time.monotonic()
    return None


def run_mode(label: str, hubs: list[str], partitions: int | None, recording: Path, registry: Path,
             db_url: str, speed: float, work: Path) -> Counter[AlertKey]:
    """One mode on a fresh broker and emptied tables: publish the day, wait until all is stored
    and ruled, return the alerts."""
    fresh_schema(db_url, registry)
    mode_dir = work / label
    mode_dir.mkdir(exist_ok=True)
    port = free_port()
    broker = Broker(port, write_broker_conf(mode_dir, port))
    broker.start()
    cluster = Cluster(mode_dir, broker, db_url, partitions=partitions)
    expected = topic_lines(recording)
    span_s = DAY_S / speed
    try:
        cluster.start(*hubs)
        print(f"{label}: {len(hubs)} hub(s), partitions {partitions}; {load()}")
        started = time.monotonic()
        replay = replay_to_broker(recording, broker, speed=speed)
        published_s = _wait_publisher(replay, span_s)
        limit_s = max(300.0, expected / 500)
        stored_s = poll_until(lambda: events(db_url) >= expected, lambda: events(db_url), limit_s)
        ruled_s = poll_until(lambda: unruled(db_url) == 0, lambda: unruled(db_url), limit_s)
        done = time.monotonic() - started
        print(f"  {expected} messages published in {published_s:.1f}s (the day's span at ×{speed:g}: {span_s:.1f}s,"
              f" behind {published_s - span_s:+.1f}s); all stored {_after(stored_s)},"
              f" all ruled {done - published_s:.1f}s after the publisher ended ({done:.1f}s in all); {load()}")
        if stored_s is None or ruled_s is None:
            print(f"  NOT DONE: stored {events(db_url)}/{expected}, unruled {unruled(db_url)}")
            INCOMPLETE.append(label)
        if published_s - span_s > LATE_AFTER_S / 2:  # device ts then late at the hubs: battery readings ignored
            print("  WARNING: the publisher fell behind the day's timing; choose more --minutes")
            INCOMPLETE.append(label)
        alerts = hub_alerts(db_url)
        doubled = doubled_alerts(db_url), doubled_messages(db_url)
        print(f"  {sum(alerts.values())} alerts; doubled alerts {len(doubled[0])}, doubled SMS {len(doubled[1])}")
        if partitions is not None:
            from ingest.helpers import rows

            print(f"  partitions per hub at the end: {rows(db_url, 'SELECT owner, count(*) FROM partition_leases GROUP BY owner ORDER BY owner')}")
        return alerts
    finally:
        cluster.stop_all()
        broker.stop()


def _wait_publisher(replay: subprocess.Popen[bytes], span_s: float) -> float:
    started = time.monotonic()
    try:
        code = replay.wait(span_s * 2 + 120)
    except subprocess.TimeoutExpired:
        replay.kill()
        replay.wait(10)
        raise SystemExit(f"the replay publisher did not finish within {span_s * 2 + 120:.0f}s") from None
    if code != 0:
        raise SystemExit(f"the replay publisher exited with {code}")
    return time.monotonic() - started


def _after(seconds: float | None) -> str:
    return "NOT within the timeout" if seconds is None else f"{seconds:.1f}s after the publisher ended"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--homes", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=6.0, help="wall minutes to publish the day in")
    parser.add_argument("--recording", type=Path, help="an existing recording (registry beside it) instead of simulating")
    parser.add_argument("--modes", default="one,three", help="one, three or both (comma separated)")
    parser.add_argument("--workdir", type=Path, help="keep recordings, configs and hub logs here (default: a temporary directory)")
    args = parser.parse_args()
    speed = DAY_S / (args.minutes * 60)
    with tempfile.TemporaryDirectory(prefix="pingan-same-") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        recording = args.recording or simulate(args.homes, work)
        registry = Path(f"{recording}.registry.yaml")
        messages = topic_lines(recording)
        print(f"recording: {messages} messages; replay speed ×{speed:g} (the day in {args.minutes:g} min,"
              f" {messages / (DAY_S / speed):.0f} msg/s); {load()}")
        compressed = work / "day.compressed.jsonl"
        retime_recording(recording, compressed, speed)
        offline = timed_offline("as the hubs receive it", compressed, registry)
        own_timing = timed_offline("at the day's own timing, for information", recording, registry)
        print("  own timing vs as received (+ only at the own timing):")
        print(differences(own_timing, offline) or "    (no difference)")
        modes = {"one": ("one_hub", ["solo"], None), "three": ("three_hubs", ["hub-1", "hub-2", "hub-3"], 16)}
        results: dict[str, Counter[AlertKey]] = {}
        with scratch_database(f"pingan_same_{os.getpid()}") as db_url:
            for key in args.modes.split(","):
                label, hubs, partitions = modes[key]
                results[label] = run_mode(label, hubs, partitions, recording, registry, db_url, speed, work)
                diff = differences(results[label], offline)
                print(f"  {label} vs offline (+ only in {label}): " + (f"DIFFERENT\n{diff}" if diff else "equal"))
    equal = not INCOMPLETE and all(alerts == offline for alerts in results.values())
    counts = " ".join(f"{label}={sum(a.values())}" for label, a in results.items())
    print(f"same_alerts: homes={args.homes} messages={messages} offline={sum(offline.values())} {counts}"
          f" equal={'yes' if equal else 'no'}")


if __name__ == "__main__":
    main()
