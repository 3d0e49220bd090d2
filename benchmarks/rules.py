"""Rules engine benchmark (not a test): offline replay rate and the deadline heap at scale.

    .venv/bin/python benchmarks/rules.py [--residents 2000] [--hours 24] [--devices 1000000]

1. Generates a recording of N residents (a home unit and a GPS tag each: heartbeats every
   5 min, motion through the day, GPS fixes on walks, some SOS) into a temp file, then times
   `hub.rules.replay.run_offline` on it (parsing, `devices.interpret`, engine, ticks): messages/s.
   Also times `devices.interpret` alone on the same lines, against a reference copy of the
   previous implementation (topic parsed every time, frozen DeviceMessage) in the same run.
2. Builds an engine whose registry holds 1,000,000 devices, arms them all, and measures with
   tracemalloc the engine's bytes per device; times single deadline re-arms (p99) and one tick
   that fires 10,000 due deadlines.

Last line: `rules: replay_rate=N msg/s deadline_p99_ms=N bytes_per_device=N interpret_us=N interpret_speedup=N`.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

from alerts.config import AlertsConfig, RulesConfig
from alerts.engine import Engine
from alerts.registry import Device, Point, RegistrySnapshot, Resident, Zone
from devices import Channel, DeviceKind, DeviceMessage, DeviceTopic, TopicError, interpret
from devices.messages import MAX_QUARANTINED_BYTES, Rejection, effective_time
from devices.payloads import Payload, ProtocolError, decode
from hub.config import load_config
from hub.rules.replay import _DECODE, run_offline

T0 = 1764115200.0  # 2025-11-26 08:00 Asia/Shanghai
HOME = Point(45.7512, 126.6421)


def registry(residents: int, tags: bool = True) -> RegistrySnapshot:
    people: dict[str, Resident] = {}
    devices: dict[str, Device] = {}
    for i in range(residents):
        rid = f"r-{i:07d}"
        home = Point(HOME.lat + (i % 100) * 0.001, HOME.lon + (i // 100 % 100) * 0.001)
        people[rid] = Resident(rid, "resident", "g01", "Asia/Shanghai", home, zones=(Zone("z", center=home, radius_m=800),))
        devices[f"cat-{i:07d}"] = Device(f"cat-{i:07d}", DeviceKind.PINGAN_CAT, rid, 300)
        if tags:
            devices[f"tag-{i:07d}"] = Device(f"tag-{i:07d}", DeviceKind.GPS_TAG, rid, 300)
    return RegistrySnapshot(people, devices)


def generate(path: Path, residents: int, hours: int, seed: int = 7) -> int:
    rnd = random.Random(seed)
    rows: list[tuple[float, str]] = []
    for i in range(residents):
        cat, tag = f"cat-{i:07d}", f"tag-{i:07d}"
        lat0, lon0 = HOME.lat + (i % 100) * 0.001, HOME.lon + (i // 100 % 100) * 0.001
        offset = rnd.uniform(0, 300)
        for k in range(hours * 12):
            t = T0 + offset + k * 300
            seq = k + 1
            rows.append((t, json.dumps({"t": t, "topic": f"pingan/v1/dev/{cat}/heartbeat",
                                        "payload": f'{{"ts":{t},"seq":{seq},"battery":{90 - k // 50},"rssi":-70}}'})))
            rows.append((t + 1, json.dumps({"t": t + 1, "topic": f"pingan/v1/dev/{tag}/heartbeat",
                                            "payload": f'{{"ts":{t + 1},"seq":{seq},"battery":80}}'})))
            hour = (8 + k // 12) % 24
            if 7 <= hour <= 21 and rnd.random() < 0.6:
                m = t + rnd.uniform(2, 290)
                rows.append((m, json.dumps({"t": m, "topic": f"pingan/v1/dev/{cat}/event",
                                            "payload": f'{{"ts":{m},"seq":{seq},"type":"motion"}}'})))
            if hour in (9, 16) and rnd.random() < 0.5:
                g = t + 150
                d = rnd.uniform(0, 0.006)  # up to ~670 m: inside the 800 m zone
                rows.append((g, json.dumps({"t": g, "topic": f"pingan/v1/dev/{tag}/gps",
                                            "payload": f'{{"ts":{g},"lat":{lat0 + d:.6f},"lon":{lon0:.6f},"acc":15,"speed":1.1}}'})))
        if rnd.random() < 0.01:
            s = T0 + rnd.uniform(0, hours * 3600)
            rows.append((s, json.dumps({"t": s, "topic": f"pingan/v1/dev/{cat}/event", "payload": f'{{"ts":{s},"type":"sos"}}'})))
    rows.sort(key=lambda r: r[0])
    path.write_text("".join(line + "\n" for _, line in rows), encoding="utf-8")
    return len(rows)


@dataclass(frozen=True, slots=True)
class _FrozenMessage:
    """DeviceMessage as it was before the cache (frozen): the reference for interpret_speed."""

    device_id: str
    channel: Channel
    payload: Payload
    received_at: float
    device_ts: float | None
    at: float
    late: bool
    skewed: bool
    raw: bytes


def reference_interpret(topic: str, raw: bytes, received_at: float, root: str = "pingan/v1") -> _FrozenMessage | Rejection:
    """The previous `devices.interpret`: topic parsed on every message, frozen dataclass."""
    device_id: str | None = None
    try:
        parsed = DeviceTopic.parse(topic, root)
        device_id = parsed.device_id
        if parsed.channel is Channel.CMD:
            raise TopicError("wrong_direction", "cmd is hub → device; devices must not publish it")
        payload = decode(parsed.channel, raw)
    except (TopicError, ProtocolError) as exc:
        return Rejection(topic, device_id, exc.reason, exc.message, received_at, raw[:MAX_QUARANTINED_BYTES])
    claimed = getattr(payload, "device_id", None)
    if claimed is not None and claimed != device_id:
        return Rejection(topic, device_id, "device_id_mismatch", "mismatch", received_at, raw[:MAX_QUARANTINED_BYTES])
    device_ts = getattr(payload, "ts", None)
    at, late, skewed = effective_time(device_ts, received_at)
    return _FrozenMessage(device_id, parsed.channel, payload, received_at, device_ts, at, late, skewed, raw)


def interpret_speed(path: Path, rounds: int = 3) -> tuple[float, float]:
    """µs per message of devices.interpret and of the reference, best of `rounds` (alternating)."""
    lines = [_DECODE(raw) for raw in path.read_bytes().splitlines()[:300_000]]
    items = [(line.topic or "", (line.payload or "").encode(), line.t) for line in lines]
    best = {"current": float("inf"), "reference": float("inf")}
    for _ in range(rounds):
        for name, fn in (("current", interpret), ("reference", reference_interpret)):
            gc.collect()
            start = time.perf_counter()
            for topic, raw, t in items:
                fn(topic, raw, t)
            best[name] = min(best[name], (time.perf_counter() - start) / len(items) * 1e6)
    print(f"devices.interpret: {best['current']:.2f} µs/message; reference (uncached topic, frozen dataclass) "
          f"{best['reference']:.2f} µs/message: ×{best['reference'] / best['current']:.2f} faster ({len(items):,} messages, best of {rounds})")
    return best["current"], best["reference"] / best["current"]


def replay_rate(residents: int, hours: int) -> tuple[float, float, float]:
    config = load_config(Path(__file__).parents[1] / "hub" / "default_config.yaml", environ={})
    reg = registry(residents)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "load.jsonl"
        count = generate(path, residents, hours)
        gc.collect()
        start = time.perf_counter()
        result = run_offline(path, reg, config)
        elapsed = time.perf_counter() - start
        engine_rate = engine_only(path, reg)
        interpret_us, speedup = interpret_speed(path)
    rate = count / elapsed
    print(f"replay: {count} messages, {residents} residents, {hours} h virtual in {elapsed:.2f} s = {rate:,.0f} msg/s; "
          f"{result.summary['alerts']} alerts {result.summary['alerts_by_kind']}")
    print(f"engine only (messages parsed beforehand, handle + ticks): {engine_rate:,.0f} msg/s; "
          f"whole replay / engine only = {rate / engine_rate:.2f}")
    return rate, interpret_us, speedup


def engine_only(path: Path, reg: RegistrySnapshot) -> float:
    """The same stream with parsing and devices.interpret done beforehand: the rules' own rate."""
    msgs = []
    for raw in path.read_bytes().splitlines():
        line = _DECODE(raw)
        msg = interpret(line.topic or "", (line.payload or "").encode(), line.t)
        if isinstance(msg, DeviceMessage):
            msgs.append(msg)
    engine = Engine(reg, RulesConfig(), AlertsConfig())
    gc.collect()
    start = time.perf_counter()
    for msg in msgs:
        now = msg.received_at
        while (due := engine.next_deadline()) is not None and due < now:
            engine.tick(due)
        engine.handle(msg, now)
    return len(msgs) / (time.perf_counter() - start)


def deadlines(devices: int) -> tuple[float, float]:
    reg = registry(devices, tags=False)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    engine = Engine(reg, RulesConfig(), AlertsConfig())
    engine.tick(T0)  # arms every device and resident
    getattr(engine, "take_dirty", lambda: None)()  # the units to save: the hub's first save drains them
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    per_device = (after - before) / devices
    heap = engine._ctx.deadlines
    rnd = random.Random(3)
    keys = [f"cat-{rnd.randrange(devices):07d}" for _ in range(100_000)]
    samples = []
    for n, key in enumerate(keys):
        s = time.perf_counter()
        heap.arm("d", key, T0 + 900 + n)
        samples.append(time.perf_counter() - s)
    samples.sort()
    p99_ms = samples[int(len(samples) * 0.99)] * 1000
    mean_us = sum(samples) / len(samples) * 1e6
    for n in range(10_000):
        heap.arm("d", f"cat-{n:07d}", T0 + 1)
    s = time.perf_counter()
    fired = engine.tick(T0 + 2)
    tick_s = time.perf_counter() - s
    print(f"deadlines: {devices:,} devices armed ({len(heap):,} deadlines incl. residents); re-arm mean {mean_us:.2f} µs, "
          f"p99 {p99_ms:.4f} ms; tick firing 10,000 due deadlines {tick_s * 1000:.1f} ms ({len(fired)} actions); "
          f"engine memory {per_device:.0f} bytes/device (device state + resident state + deadlines, tracemalloc)")
    return p99_ms, per_device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=2000)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--devices", type=int, default=1_000_000)
    args = parser.parse_args()
    rate, interpret_us, speedup = replay_rate(args.residents, args.hours)
    p99_ms, per_device = deadlines(args.devices)
    print(f"rules: replay_rate={rate:.0f} msg/s deadline_p99_ms={p99_ms:.4f} bytes_per_device={per_device:.0f} "
          f"interpret_us={interpret_us:.2f} interpret_speedup={speedup:.2f}")


if __name__ == "__main__":
    main()
