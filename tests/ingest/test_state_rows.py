"""The writer's device-state rows (store.state_rows) are the fold of StateDelta, whatever the mix
of channels, late, skewed and repeated devices in a batch: its one-message rows take a shorter
path (`_single_row`) that must not drift from `StateDelta.add`."""

from __future__ import annotations

import json
import random

from devices import DeviceMessage, interpret
from hub.ingest import store

NOW = 1_765_000_000.0


def payload(rng: random.Random, channel: str, seq: int) -> dict[str, object]:
    ts = rng.choice([None, NOW - rng.uniform(0, 60), NOW - rng.uniform(200, 90_000), NOW + rng.uniform(400, 900)])
    body: dict[str, object] = {} if ts is None else {"ts": round(ts, 3)}
    if rng.random() < 0.8:
        body["seq"] = seq
    if channel == "heartbeat":
        for key, value in (("battery", rng.randrange(0, 101)), ("rssi", -rng.randrange(0, 120)), ("fw", "1.4.2")):
            if rng.random() < 0.7:
                body[key] = value
    elif channel == "event":
        body["type"] = rng.choice(["motion", "tamper", "door_open", "sos", "low_battery"])
    elif channel == "gps":
        body.update(lat=45.75 + rng.uniform(-0.01, 0.01), lon=126.64 + rng.uniform(-0.01, 0.01))
        if rng.random() < 0.7:
            body["acc"] = round(rng.uniform(3, 50), 1)
        if rng.random() < 0.5:
            body["battery"] = rng.randrange(0, 101)
    else:
        body["state"] = rng.choice(["online", "offline"])
    return body


def messages(seed: int, count: int, devices: int) -> list[DeviceMessage]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        device = f"dev-{rng.randrange(devices):03d}"
        channel = rng.choice(["heartbeat", "heartbeat", "event", "gps", "status"])
        msg = interpret(f"pingan/v1/dev/{device}/{channel}", json.dumps(payload(rng, channel, i)).encode(),
                        NOW + rng.uniform(-5, 5))
        assert isinstance(msg, DeviceMessage), msg
        out.append(msg)
    return out


def test_state_rows_are_the_fold_of_state_deltas() -> None:
    for seed in range(40):
        # few devices: most fold several messages; many: most have one message in the batch
        for devices in (3, 50, 5_000):
            batch = messages(seed, 300, devices)
            assert store.state_rows(batch) == [d.values() for d in store.fold_state(batch)], (seed, devices)


def test_a_single_message_row_is_its_state_delta() -> None:
    for msg in messages(7, 2_000, 10_000):
        delta = store.StateDelta(msg.device_id)
        delta.add(msg)
        assert store._single_row(msg) == delta.values()
        assert [type(v) for v in store._single_row(msg)] == [type(v) for v in delta.values()]
