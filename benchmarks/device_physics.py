"""Device-physics sensitivity (not a test): the detection benchmark's recordings and the real homes,
rewritten as if their devices behaved like other field hardware, replayed and scored as
benchmarks/detection.py does — do our rules depend on our simulator's device physics?

    .venv/bin/python benchmarks/device_physics.py --profiles field,habits,falls,pets,leaks,sparse \
        --seeds 1 --workdir /tmp/det --out /tmp/physics --transforms none,blind120,blind300,hb900,hb1800 \
        [--real /tmp/real] [--details] "shipped:" ["name:ENV_KEY=value,..."]

Our simulators' home unit (PIR) sends one `motion` per 60 s debounce, home units and tags send a
heartbeat every 300 s, door sensors send both `door_open` and `door_close`, device clocks keep
fractions of a second. Field hardware differs. Each transform writes a copy of a recording (and
of its registry) into `--out` (never touching the originals; a copy already there is reused):

- `none`: the recording itself (no copy);
- `blindB` (e.g. blind120, blind300): a PIR blind time of B s after each trigger (battery Zigbee
  PIRs: 120-300 s) — every home-unit `motion` less than B s (receive time) after the last kept
  one of that device is dropped;
- `hbH` (e.g. hb900, hb1800): home units and tags send a heartbeat every H s (battery devices:
  600-3600 s) — heartbeats are dropped so that the kept ones are >= H s apart, and `heartbeat_s`
  of those devices is H in the registry copy;
- `openonly`: door sensors that report only `door_open` (every `door_close` dropped);
- `wholesec`: device timestamps (`ts`) in whole seconds (floored);
- a `+`-joined combination (e.g. `blind300+hb1800+openonly`: a battery field home), applied in order.

Truth lines are kept untouched; `seq` is left as it was (a gap in it means nothing to the rules).
The inactivity delay is measured from the resident's last movement in the *original* recording
(she moved then, whether or not the sensor said so). Rows as benchmarks/detection.py's, the
transform in the rules column as `transform/variant`; with `--details`, each missed incident and
false alert. With `--real DIR`, the real homes (DIR/*.jsonl, no truth: every alert is false) get
the same transforms: alerts per home and the total of the seven (elder-hourly apart), as
/work/notes/real.sh counts them.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import detection as d  # noqa: E402

from alerts.registry import RegistrySnapshot  # noqa: E402
from hub.config import load_config  # noqa: E402
from hub.registry.file import load_registry_file, to_snapshot  # noqa: E402
from hub.rules.replay import run_offline  # noqa: E402

REAL_HOMES = ("kasteren-a", "kasteren-b", "kasteren-c", "mit-d", "mit-e", "ordonez-a", "ordonez-b", "elder-hourly")
HEARTBEAT_KINDS = ("pingan_cat", "gps_tag")  # battery devices whose heartbeat `hbH` stretches
_KIND = re.compile(r"\bid: ([\w.-]+), kind: (\w+)")
_HB = re.compile(r"heartbeat_s: \d+")


class _Line(msgspec.Struct):
    t: float
    topic: str | None = None
    payload: str | None = None


_DECODE = msgspec.json.Decoder(_Line).decode
_ENCODE = msgspec.json.Encoder().encode
# A step sees (receive time, device, channel, raw line) and returns the line to keep or None.
Step = Callable[[float, str, str, bytes], bytes | None]


def device_kinds(registry_text: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in _KIND.finditer(registry_text)}


def _payload(raw: bytes) -> tuple[_Line, dict[str, object]]:
    line = _DECODE(raw)
    return line, msgspec.json.decode((line.payload or "{}").encode())


def _thinned(seconds: float, applies: Callable[[str, str, bytes], bool]) -> Step:
    """Of the messages `applies` to, per device, drop each that comes less than `seconds` after the last kept."""
    kept: dict[str, float] = {}

    def step(t: float, device: str, channel: str, raw: bytes) -> bytes | None:
        if not applies(device, channel, raw):
            return raw
        last = kept.get(device)
        if last is not None and 0 <= t - last < seconds:
            return None
        kept[device] = t
        return raw
    return step


def blind(seconds: float, kinds: dict[str, str]) -> Step:
    return _thinned(seconds, lambda device, channel, raw: channel == "event" and kinds.get(device) == "pingan_cat"
                    and b"motion" in raw and _payload(raw)[1].get("type") == "motion")


def heartbeats(seconds: float, kinds: dict[str, str]) -> Step:
    return _thinned(seconds, lambda device, channel, _raw: channel == "heartbeat" and kinds.get(device) in HEARTBEAT_KINDS)


def open_only(kinds: dict[str, str]) -> Step:
    def step(t: float, device: str, channel: str, raw: bytes) -> bytes | None:
        if channel == "event" and b"door_close" in raw and _payload(raw)[1].get("type") == "door_close":
            return None
        return raw
    return step


def whole_seconds(kinds: dict[str, str]) -> Step:
    def step(t: float, device: str, channel: str, raw: bytes) -> bytes | None:
        if b"ts" not in raw:
            return raw
        line, payload = _payload(raw)
        ts = payload.get("ts")
        if not isinstance(ts, (int, float)) or float(ts).is_integer():
            return raw
        payload["ts"] = math.floor(ts)
        return _ENCODE({"t": line.t, "topic": line.topic, "payload": _ENCODE(payload).decode()})
    return step


def steps(spec: str, kinds: dict[str, str]) -> tuple[list[Step], int | None]:
    """The steps of a transform spec and the heartbeat it sets in the registry (None: unchanged)."""
    out: list[Step] = []
    heartbeat = None
    for part in spec.split("+"):
        if m := re.fullmatch(r"blind(\d+)", part):
            out.append(blind(float(m.group(1)), kinds))
        elif m := re.fullmatch(r"hb(\d+)", part):
            heartbeat = int(m.group(1))
            out.append(heartbeats(float(heartbeat), kinds))
        elif part == "openonly":
            out.append(open_only(kinds))
        elif part == "wholesec":
            out.append(whole_seconds(kinds))
        else:
            raise ValueError(f"unknown transform {part!r}")
    return out, heartbeat


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        yield from fh


def transform(recording: Path, spec: str, out_dir: Path) -> tuple[Path, Path]:
    """The transformed copy of `recording` and its registry (made once)."""
    registry = recording.with_name(recording.name + ".registry.yaml")
    if spec == "none":
        return recording, registry
    target = out_dir / f"{recording.stem}.{spec}.jsonl"
    target_registry = target.with_name(target.name + ".registry.yaml")
    if target.exists() and target_registry.exists():
        return target, target_registry
    text = registry.read_text(encoding="utf-8")
    kinds = device_kinds(text)
    chain, heartbeat = steps(spec, kinds)
    partial = target.with_name("." + target.name + ".part")
    with partial.open("wb") as out:
        for raw in _lines(recording):
            if b'"truth"' in raw or b'"topic"' not in raw:
                out.write(raw)
                continue
            line = _DECODE(raw)
            _, _, rest = (line.topic or "").partition("/dev/")
            device, _, channel = rest.partition("/")
            kept: bytes | None = raw.rstrip(b"\n")
            for step in chain:
                kept = step(line.t, device, channel, kept)
                if kept is None:
                    break
            if kept is not None:
                out.write(kept + b"\n")
    if heartbeat is not None:
        text = "\n".join(_HB.sub(f"heartbeat_s: {heartbeat}", row) if (m := _KIND.search(row)) and m.group(2) in HEARTBEAT_KINDS
                         else row for row in text.split("\n"))
    target_registry.write_text(text, encoding="utf-8")
    partial.replace(target)
    return target, target_registry


def _offline_misses(recording: Path, reg: RegistrySnapshot, missed: list[str], allowed: int) -> str:
    """The missed `device_offline` incidents, and how many of them no rule could see: the
    device's silence around the truth line (receive time, last message before it to the first
    after) shorter than `allowed` × its heartbeat_s in the registry copy — an outage the
    simulator's 300 s heartbeat made an incident, shorter than three of the stretched ones."""
    wanted = {tuple(m.split()[1::2]) for m in missed if m.startswith("device_offline")}  # (resident, t)
    truths: dict[tuple[str, str], str] = {}
    heard: dict[str, list[float]] = {}
    for raw in _lines(recording):
        if b'"device_offline"' in raw:
            line = msgspec.json.decode(raw)
            key = (line["truth"].get("resident", ""), f"{line['t']:.0f}")
            if key in wanted:
                truths[key] = line["truth"].get("device", "")
                heard.setdefault(truths[key], [])
    for raw in _lines(recording):  # a second pass: the devices' messages before their truth lines too
        if b'"topic"' in raw:
            head = raw[:200].decode(errors="replace")
            device = head.partition("/dev/")[2].partition("/")[0]
            if device in heard:
                heard[device].append(_DECODE(raw).t)
    silent = 0
    for (_, t), device in truths.items():
        times = heard.get(device, [])
        before = max((x for x in times if x <= float(t)), default=None)
        after = min((x for x in times if x > float(t)), default=None)
        dev = reg.devices.get(device)
        if before is not None and after is not None and dev is not None and after - before < allowed * dev.heartbeat_s:
            silent += 1
    return (f"  offline missed: {len(wanted)}, of which {silent} silent for fewer than {allowed} heartbeats "
            f"of the copy's heartbeat_s (no rule can see them)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", default="field,habits,falls,pets,leaks,sparse")
    parser.add_argument("--seeds", default="1")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/det"), help="the recordings (made there when missing)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/physics"), help="where the transformed copies go")
    parser.add_argument("--transforms", default="none,blind120,blind300,hb900,hb1800")
    parser.add_argument("--days", type=float, default=14)
    parser.add_argument("--real", type=Path, default=None, help="also the real homes in this folder")
    parser.add_argument("--no-worlds", action="store_true", help="only the real homes")
    parser.add_argument("--details", action="store_true")
    parser.add_argument("variants", nargs="+")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    configs = {}
    for variant in args.variants:
        name, _, pairs = variant.partition(":")
        env = {"PINGAN_" + k: v for k, v in (p.split("=", 1) for p in pairs.split(",") if p)}
        configs[name] = load_config(ROOT / "hub" / "default_config.yaml", environ=env)
    transforms = args.transforms.split(",")
    if not args.no_worlds:
        print(d.HEADER)
        for profile in args.profiles.split(","):
            for seed in (int(x) for x in args.seeds.split(",")):
                original, reg_file = d.simulate(args.workdir, profile, 60, args.days, seed)
                reg0 = to_snapshot(load_registry_file(reg_file))
                moved = d.last_movements(original, {x.id: x.resident for x in reg0.devices.values() if x.resident})
                for spec in transforms:
                    rec, reg_path = transform(original, spec, args.out)
                    reg = to_snapshot(load_registry_file(reg_path))
                    for name, config in configs.items():
                        s = d.score(name, run_offline(rec, reg, config), len(reg.residents), moved)
                        print(d.row(profile, str(seed), f"{spec}/{name}", s, ""), flush=True)
                        if any(m.startswith("device_offline") for m in s.missed_detail):
                            print(_offline_misses(rec, reg, s.missed_detail, config.rules.offline_after_missed), flush=True)
                        if args.details:
                            for line in [f"  missed: {m}" for m in s.missed_detail] + [f"  false: {f[:160]}" for f in s.false_detail]:
                                print(line, flush=True)
    if args.real is not None:
        print("\n| real home | " + " | ".join(f"{t}/{n}" for t in transforms for n in configs) + " |")
        print("| --- |" + " ---: |" * (len(transforms) * len(configs)))
        totals = [0] * (len(transforms) * len(configs))
        details: list[str] = []
        for home in REAL_HOMES:
            if not (args.real / f"{home}.jsonl").exists():
                continue  # not converted in this folder (/tmp/real-rooms: kasteren-b has sensors without a room)
            cells = []
            for spec in transforms:
                rec, reg_path = transform(args.real / f"{home}.jsonl", spec, args.out)
                reg = to_snapshot(load_registry_file(reg_path))
                for name, config in configs.items():
                    alerts = run_offline(rec, reg, config).alerts
                    cells.append(len(alerts))
                    details += [f"  {home} {spec}/{name}: {a.kind.value} at {a.opened_at:.0f}: {a.reason}"[:200] for a in alerts]
            if home != "elder-hourly":
                totals = [x + y for x, y in zip(totals, cells, strict=True)]
            print(f"| {home} | " + " | ".join(map(str, cells)) + " |", flush=True)
        print("| total (7) | " + " | ".join(map(str, totals)) + " |")
        if args.details:
            print("\n".join(details))


if __name__ == "__main__":
    main()
