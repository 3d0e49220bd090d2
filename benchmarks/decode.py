"""Validation cost per device message: msgspec (what devices/ uses) vs pydantic vs json.loads + checks.

Every message the hub receives is decoded once, so this is the per-message floor of ingestion.
The three decoders are checked to agree (accept / reject) on every golden example before
timing; then each decodes the golden VALID payloads in a loop, best of several rounds.

    .venv/bin/python benchmarks/decode.py [--rounds 7] [--loops 2000]

Last line: `decode: msgspec_us=N pydantic_us=N ratio=R` (ratio = pydantic / msgspec).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from devices import Channel, ProtocolError, decode
from devices.examples import INVALID, VALID

# --- pydantic models equivalent to devices/payloads.py (strict: no "87" → 87 coercion) ---------

Ts = Annotated[float, Field(ge=0, le=4_102_444_800)]
Seq = Annotated[int, Field(ge=0, le=2**32 - 1)]
Battery = Annotated[int, Field(ge=0, le=100)]
DeviceId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{2,63}$")]


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")


class PHeartbeat(Strict):
    ts: Ts | None = None
    seq: Seq | None = None
    battery: Battery | None = None
    rssi: Annotated[int, Field(ge=-150, le=0)] | None = None
    fw: Annotated[str, Field(max_length=32)] | None = None
    device_id: DeviceId | None = None


class PEvent(Strict):
    type: Annotated[str, Field(min_length=1, max_length=32)]
    ts: Ts | None = None
    seq: Seq | None = None
    device_id: DeviceId | None = None


class PGps(Strict):
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    ts: Ts | None = None
    seq: Seq | None = None
    acc: Annotated[float, Field(ge=0, le=100_000)] | None = None
    speed: Annotated[float, Field(ge=0, le=1000)] | None = None
    battery: Battery | None = None
    device_id: DeviceId | None = None


class PStatus(Strict):
    state: Literal["online", "offline"]
    ts: Ts | None = None
    device_id: DeviceId | None = None


PYDANTIC: dict[Channel, TypeAdapter[Any]] = {
    Channel.HEARTBEAT: TypeAdapter(PHeartbeat),
    Channel.EVENT: TypeAdapter(PEvent),
    Channel.GPS: TypeAdapter(PGps),
    Channel.STATUS: TypeAdapter(PStatus),
}
MAX_BYTES = 16 * 1024

# --- json.loads + hand-written checks -------------------------------------------------------

NUMBER, INT, STR = "number", "int", "str"
# field: (type, min, max, required); strings use min/max as lengths
MANUAL_RULES: dict[Channel, dict[str, tuple[str, float, float, bool]]] = {
    Channel.HEARTBEAT: {
        "ts": (NUMBER, 0, 4_102_444_800, False), "seq": (INT, 0, 2**32 - 1, False), "battery": (INT, 0, 100, False),
        "rssi": (INT, -150, 0, False), "fw": (STR, 0, 32, False), "device_id": (STR, 3, 64, False),
    },
    Channel.EVENT: {
        "type": (STR, 1, 32, True), "ts": (NUMBER, 0, 4_102_444_800, False), "seq": (INT, 0, 2**32 - 1, False),
        "device_id": (STR, 3, 64, False),
    },
    Channel.GPS: {
        "lat": (NUMBER, -90, 90, True), "lon": (NUMBER, -180, 180, True), "ts": (NUMBER, 0, 4_102_444_800, False),
        "seq": (INT, 0, 2**32 - 1, False), "acc": (NUMBER, 0, 100_000, False), "speed": (NUMBER, 0, 1000, False),
        "battery": (INT, 0, 100, False), "device_id": (STR, 3, 64, False),
    },
    Channel.STATUS: {"state": (STR, 6, 7, True), "ts": (NUMBER, 0, 4_102_444_800, False), "device_id": (STR, 3, 64, False)},
}


def manual_decode(channel: Channel, raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_BYTES:
        raise ValueError("too_large")
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("not_object")
    for name, (kind, low, high, required) in MANUAL_RULES[channel].items():
        value = data.get(name)
        size: float
        if value is None:
            if required:
                raise ValueError("missing_field")
            continue
        if kind == STR:
            if not isinstance(value, str):
                raise ValueError("wrong_type")
            size = len(value)
        elif isinstance(value, bool) or not isinstance(value, int | float) or (kind == INT and not isinstance(value, int)):
            raise ValueError("wrong_type")
        else:
            size = value
        if not (low <= size <= high):
            raise ValueError("out_of_range")
    if channel is Channel.STATUS and data["state"] not in ("online", "offline"):
        raise ValueError("out_of_range")
    device_id = data.get("device_id")
    if device_id is not None and not (device_id[0].isalnum() and device_id == device_id.lower() and " " not in device_id):
        raise ValueError("out_of_range")
    return data


# --- running --------------------------------------------------------------------------------


def accepts(fn: Callable[[Channel, bytes], object], channel: Channel, raw: bytes) -> bool:
    try:
        fn(channel, raw)
    except (ProtocolError, ValidationError, ValueError, UnicodeDecodeError):
        return False
    return True


def pydantic_decode(channel: Channel, raw: bytes) -> object:
    if len(raw) > MAX_BYTES:
        raise ValueError("too_large")
    return PYDANTIC[channel].validate_json(raw)


def check_agreement() -> None:
    """The three decoders accept and reject the same golden examples, or the comparison is unfair."""
    for example in [*VALID, *INVALID]:
        verdicts = {name: accepts(fn, example.channel, example.raw) for name, fn in DECODERS.items()}
        expected = example.reason is None
        wrong = [name for name, ok in verdicts.items() if ok != expected]
        if wrong:
            raise SystemExit(f"decoders disagree on golden example {example.name}: {wrong}")


DECODERS: dict[str, Callable[[Channel, bytes], object]] = {
    "msgspec": decode,
    "pydantic": pydantic_decode,
    "manual": manual_decode,
}


def per_message_us(fn: Callable[[Channel, bytes], object], rounds: int, loops: int) -> float:
    payloads = [(e.channel, e.raw) for e in VALID]
    best = math.inf
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(loops):
            for channel, raw in payloads:
                fn(channel, raw)
        best = min(best, (time.perf_counter() - start) / (loops * len(payloads)))
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--loops", type=int, default=2000)
    args = parser.parse_args()
    check_agreement()
    print(f"machine: {platform.platform()}, Python {platform.python_version()}, {len(VALID)} golden VALID payloads")
    results = {name: per_message_us(fn, args.rounds, args.loops) for name, fn in DECODERS.items()}
    for name, us in results.items():
        print(f"{name:9s} {us:7.2f} µs/message  ({us / results['msgspec']:.1f}× msgspec)")
    ratio = results["pydantic"] / results["msgspec"]
    print(f"decode: msgspec_us={results['msgspec']:.2f} pydantic_us={results['pydantic']:.2f} ratio={ratio:.1f}")


if __name__ == "__main__":
    main()
