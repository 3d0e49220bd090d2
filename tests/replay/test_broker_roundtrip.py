"""Round trip through a real Mosquitto: simulate → `pingan replay FILE --url … --speed 0` →
recorder → `replay --offline` of the recorded copy gives the alerts of the original.

The recorder stamps each line with its *wall-clock* receive time, so a day published at full
speed arrives within seconds: replayed offline as is, every message would be late and no
deadline would fall due. Both files are therefore put on the device clock before the offline
replay (`t` := the payload's `ts`; lines without one, the retained status, take the newest ts
before them or the first one of the file) — the same function for both, so the alerts must
match exactly (ids aside: kinds, severities, residents, devices, outcomes, opened and resolved
times on the device clock). The original, replayed on its own simulated receive times, must
give the same alerts to within a second.

Bounded: the publisher runs under a 120 s timeout, the recorder stops after 120 s at most.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import msgspec

from hub.config import Config, load_config
from hub.registry.file import load_registry_file, to_snapshot
from hub.rules.replay import ReplayResult, run_offline
from simulators import recorder
from simulators.community import registry_yaml
from simulators.engine import SimConfig, Simulation, write_recording
from simulators.incidents import Incident, parse_at
from simulators.recording import RecordingWriter, messages_only, read_recording

ROOT = Path(__file__).parents[2]
PINGAN = Path(sys.executable).with_name("pingan")
BOUND_S = 120.0


class _Ts(msgspec.Struct):
    ts: float | None = None


def on_device_clock(source: Path, out: Path) -> None:
    """Copy the messages of `source` with `t` set to the device clock (truth lines dropped)."""
    entries = list(messages_only(read_recording(source)))
    stamps = [_device_ts(raw) for _, _, raw in entries]
    last = next((ts for ts in stamps if ts is not None), 0.0)
    with RecordingWriter(out) as writer:
        for (_, topic, raw), ts in zip(entries, stamps, strict=True):
            last = ts if ts is not None else last
            writer.message(last, topic, raw)


def _device_ts(raw: bytes) -> float | None:
    try:
        return msgspec.json.decode(raw, type=_Ts).ts
    except msgspec.DecodeError:
        return None


def alert_keys(result: ReplayResult) -> list[tuple[Any, ...]]:
    return sorted(
        (a.kind.value, a.severity.value, a.resident, a.device, a.opened_at, a.resolved_at, a.outcome.value if a.outcome else None)
        for a in result.alerts
    )


def test_broker_round_trip_gives_the_same_alerts(broker, tmp_path: Path) -> None:
    incidents = [
        Incident("sos", "r-0004", parse_at("10:05")),
        Incident("fall", "r-0002", parse_at("11:20"), duration_s=9 * 3600),
    ]
    sim = Simulation(SimConfig(residents=5, days=1, seed=7, incidents=incidents, random_incidents=False))
    original = tmp_path / "original.jsonl"
    registry_file = tmp_path / "registry.yaml"
    registry_file.write_text(registry_yaml(sim.community), encoding="utf-8")
    write_recording(sim, original)
    sent = sum(1 for _ in messages_only(read_recording(original)))

    copy = tmp_path / "copy.jsonl"
    ready, recorded = threading.Event(), []
    thread = threading.Thread(
        target=lambda: recorded.append(recorder.record(broker.url, copy, count=sent, duration_s=BOUND_S, ready=ready)),
        daemon=True,
    )
    thread.start()
    assert ready.wait(10), "the recorder subscribed"
    publish = subprocess.run(
        [str(PINGAN), "replay", str(original), "--url", broker.url, "--speed", "0"],
        capture_output=True, text=True, timeout=BOUND_S, env={**os.environ, "NO_COLOR": "1"}, check=False,
    )
    thread.join(BOUND_S)
    assert publish.returncode == 0, publish.stderr
    assert f"published {sent} messages" in publish.stdout
    assert recorded == [sent]

    config: Config = load_config(ROOT / "hub" / "default_config.yaml", environ={})
    registry = to_snapshot(load_registry_file(registry_file))
    original_device_clock, copy_device_clock = tmp_path / "original.dev.jsonl", tmp_path / "copy.dev.jsonl"
    on_device_clock(original, original_device_clock)
    on_device_clock(copy, copy_device_clock)
    want = run_offline(original, registry, config)
    want_device_clock = run_offline(original_device_clock, registry, config)
    got = run_offline(copy_device_clock, registry, config)

    kinds = sorted(a.kind.value for a in want.alerts)
    assert "sos" in kinds and "inactivity" in kinds, kinds
    assert got.summary["messages"] == sent and got.summary["rejected"] == 0
    assert alert_keys(got) == alert_keys(want_device_clock)
    for mine, theirs in zip(alert_keys(got), alert_keys(want), strict=True):
        assert mine[:4] == theirs[:4] and mine[6] == theirs[6]
        assert abs(mine[4] - theirs[4]) < 1.0
