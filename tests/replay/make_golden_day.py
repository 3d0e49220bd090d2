"""Writes tests/replay/golden/day.jsonl: one hand-scripted day of two residents (run once, committed).

08:00 start · r-0001 presses SOS by mistake and cancels within 10 s · r-0002 last moves at 09:00
and stays silent (truth: inactivity) · r-0001 walks out of her 500 m zone 10:00-11:00 and back
(truth: geofence_exit at 10:15) · smoke at r-0002 at 12:00 (truth) · cat-0001's battery drops
to 15 % at 13:00 · tag-0001's Last Will at 14:00 · a malformed payload, an unknown device,
an unknown event type · a fall of r-0001 at 18:00 that no device reported (truth: missed).
"""

from __future__ import annotations

import json
from pathlib import Path

T = 1764115200.0  # 2025-11-26 08:00 Asia/Shanghai
H = 3600.0
OUT = Path(__file__).parent / "golden" / "day.jsonl"


def build() -> list[str]:
    lines: list[tuple[float, str]] = []
    seq: dict[str, int] = {}

    def put(t: float, obj: dict[str, object]) -> None:
        lines.append((t, json.dumps(obj, ensure_ascii=False, separators=(",", ":"))))

    def msg(t: float, dev: str, ch: str, payload: dict[str, object] | None, raw: str | None = None) -> None:
        put(t, {"t": t, "topic": f"pingan/v1/dev/{dev}/{ch}", "payload": raw if raw is not None else json.dumps(payload, separators=(",", ":"))})

    def truth(t: float, kind: str, res: str) -> None:
        put(t, {"t": t, "truth": {"kind": kind, "resident": res}})

    def nxt(dev: str) -> int:
        seq[dev] = seq.get(dev, 0) + 1
        return seq[dev]

    def ev(t: float, dev: str, type_: str) -> None:
        msg(t, dev, "event", {"ts": t, "seq": nxt(dev), "type": type_})

    def hb(t: float, dev: str, battery: int = 80) -> None:
        msg(t, dev, "heartbeat", {"ts": t, "seq": nxt(dev), "battery": battery, "rssi": -70, "fw": "1.4.2"})

    def gps(t: float, north_m: float, acc: float = 15.0) -> None:
        msg(t, "tag-0001", "gps", {"ts": t, "seq": nxt("tag-0001"), "lat": round(45.7512 + north_m / 111195, 6),
                                   "lon": 126.6421, "acc": acc, "speed": 1.0, "battery": 70})

    for k in range(15):
        t = T + k * H
        hb(t + 10, "cat-0001", battery=15 if k >= 5 else 80)
        hb(t + 20, "cat-0002")
        if k < 6:
            hb(t + 30, "tag-0001")
        if k not in (2, 3):  # out for a walk from 10:00 to 11:00
            ev(t + 600, "cat-0001", "motion")
    ev(T + 300, "cat-0002", "motion")
    ev(T + H, "cat-0002", "motion")
    truth(T + H + 60, "inactivity", "r-0002")
    ev(T + H + 100, "cat-0001", "sos")
    ev(T + H + 110, "cat-0001", "sos_cancel")
    truth(T + 2 * H + 900, "geofence_exit", "r-0001")
    for i, m in enumerate([100, 300, 450, 900, 1200, 1300]):
        gps(T + 2 * H + i * 300, m)
    gps(T + 2 * H + 1900, 1400, acc=400)  # poor fix: stored, does not decide
    for i, m in enumerate([1000, 600, 300, 100]):
        gps(T + 3 * H + i * 300, m)
    truth(T + 4 * H, "smoke", "r-0002")
    hb(T + 4 * H, "smoke-0002")
    ev(T + 4 * H + 5, "smoke-0002", "smoke")
    msg(T + 4 * H + 50, "cat-0001", "event", None, raw='{"type": 7}')  # wrong type: rejected
    msg(T + 4 * H + 60, "cat-9999", "event", {"type": "motion"})  # unknown device: counted by the rules
    msg(T + 6 * H, "tag-0001", "status", {"state": "offline"})  # Last Will
    ev(T + 7 * H, "cat-0001", "teleport")  # unknown event type: counted, not fatal
    truth(T + 10 * H, "fall", "r-0001")
    return [line for _, line in sorted(lines, key=lambda x: x[0])]


def build_flush() -> list[str]:
    """flush.jsonl: r-0002's cat loses its network 22:00-06:00, buffers motion and an SOS at 02:00,
    and flushes them on reconnect: offline alert (high once unwatched), cleared on reconnect,
    the SOS raised late, no inactivity alert (the silence is filled by the buffered motion)."""
    night = T + 12 * H  # 20:00 local
    out: list[str] = []
    seq = 0

    def event(t: float, ts: float, type_: str) -> None:
        nonlocal seq
        seq += 1
        payload = json.dumps({"ts": ts, "seq": seq, "type": type_}, separators=(",", ":"))
        out.append(json.dumps({"t": t, "topic": "pingan/v1/dev/cat-0002/event", "payload": payload}, separators=(",", ":")))

    for k in range(3):
        event(night + k * H, night + k * H, "motion")
    out.append(json.dumps({"t": night + 6 * H, "truth": {"kind": "sos", "resident": "r-0002"}}, separators=(",", ":")))
    reconnect = night + 10 * H  # 06:00
    out.append(json.dumps({"t": reconnect, "topic": "pingan/v1/dev/cat-0002/status", "payload": '{"state":"online"}'}, separators=(",", ":")))
    for k in range(1, 8):
        ts = night + 2 * H + k * H
        event(reconnect + k * 0.01, ts, "sos" if k == 4 else "motion")
    event(reconnect + 600, reconnect + 600, "motion")
    return out


if __name__ == "__main__":
    OUT.write_text("".join(line + "\n" for line in build()), encoding="utf-8")
    (OUT.parent / "flush.jsonl").write_text("".join(line + "\n" for line in build_flush()), encoding="utf-8")
