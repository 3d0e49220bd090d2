"""Alerts compared across runs of one recorded day: hubs (the `alerts` table) against
`pingan replay --offline` of the day as the hubs received it.

Shared by tests/faults/test_hubs.py and benchmarks/same_alerts.py. An alert is compared as
(kind, resident, device, outcome) — ids and times aside — and counted, so a wandering that
happens twice must be raised twice.

A broker replay at `--speed S --retime` compresses the day S times and moves device ts onto the
wall clock, so deadline rules (inactivity, device offline) measured in wall seconds fire as
they would after S times less silence — in practice never within minutes. The offline
reference is therefore the same day compressed the same way (`retime_recording`): t and ts of
every message become t0 + (x − t0) / S, as the publisher computes ts."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from ingest.helpers import rows

from simulators.publisher import _retime_raw  # the publisher's own ts rewrite, so both agree
from simulators.recording import messages_only, read_recording

REPO = Path(__file__).resolve().parents[2]
AlertKey = tuple[Any, ...]  # (kind, resident, device, outcome)


def hub_alerts(db_url: str) -> Counter[AlertKey]:
    return Counter(tuple(r) for r in rows(db_url, "SELECT kind, resident_id, device_id, outcome FROM alerts"))


def offline_alerts(recording: Path, registry: Path) -> Counter[AlertKey]:
    """`pingan replay --offline --json` of a recording, as (kind, resident, device, outcome)."""
    out = subprocess.run(
        [sys.executable, "-m", "pingan", "replay", str(recording), "--offline", "--json", "--registry", str(registry)],
        cwd=REPO, check=True, capture_output=True, text=True, timeout=600,
    ).stdout
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    return Counter((a["kind"], a["resident"], a["device"], a["outcome"]) for a in lines if "kind" in a)


def retime_recording(source: Path, target: Path, speed: float) -> int:
    """The day as `pingan replay --speed S --retime` delivers it: t and payload ts compressed
    S times from the first message's t (the origin the publisher uses). Returns the messages."""
    t0: float | None = None
    count = 0
    with target.open("w", encoding="utf-8") as out:
        for t, topic, payload in messages_only(read_recording(source)):
            t0 = t if t0 is None else t0
            retimed = _retime_raw(payload, t0, t0, speed)
            out.write(json.dumps({"t": round(t0 + (t - t0) / speed, 3), "topic": topic,
                                  "payload": retimed.decode()}) + "\n")
            count += 1
    return count


def differences(a: Counter[AlertKey], b: Counter[AlertKey]) -> str:
    """What a has that b lacks and the reverse, one alert a line ('' when equal)."""
    only_a, only_b = a - b, b - a
    return "\n".join([*(f"    + {k} ×{n}" for k, n in sorted(only_a.items(), key=str)),
                      *(f"    - {k} ×{n}" for k, n in sorted(only_b.items(), key=str))])


def replay_speed(messages: int, span_s: float = 86400.0, rate_per_s: float = 1000.0, fastest_s: float = 20.0) -> float:
    """A broker replay speed for `messages` over `span_s`: at most `rate_per_s` messages a
    second (one the publisher, the broker and the hubs sustain on this machine, so device ts
    stay on the wall clock), and the span in no less than `fastest_s`."""
    return span_s / max(fastest_s, messages / rate_per_s)


def offline_as_replayed(recording: Path, speed: float, work: Path) -> Counter[AlertKey]:
    """`replay --offline` of the day as a broker replay at `speed` (retimed) delivers it."""
    compressed = work / f"{recording.stem}.x{speed:g}.jsonl"
    retime_recording(recording, compressed, speed)
    return offline_alerts(compressed, Path(f"{recording}.registry.yaml"))
