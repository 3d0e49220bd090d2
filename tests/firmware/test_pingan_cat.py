"""The MicroPython Ping'an Cat stub, run under CPython over a umqtt shim, against real Mosquitto."""

from __future__ import annotations

import ast
import json
import sys
import time

import pytest
from fw_helpers import CAT_DIR, FakeClock, Recorder, assert_all_accepted, retained_status, wait_until

sys.path.insert(0, str(CAT_DIR))
from host_shim import MQTTClient
from pingan_cat import PinganCat

DEVICE = "cat-0001"
T0 = float(int(time.time()))


def make_cat(port: int, clock: FakeClock, said: list, **kw) -> PinganCat:
    def factory():
        return MQTTClient(DEVICE, "127.0.0.1", port=port, user=DEVICE, password="secret", keepalive=30)

    return PinganCat(DEVICE, factory, clock, speaker=lambda what, detail: said.append((what, detail)), **kw)


def run(cat: PinganCat, clock: FakeClock, seconds: int, step: int = 1) -> None:
    for _ in range(0, seconds, step):
        clock.advance(step)
        cat.tick()


def events(rec: Recorder) -> list[dict]:
    return rec.decoded("event")


@pytest.mark.timeout(60)
def test_cat_speaks_protocol_v1(broker):
    rec = Recorder(broker.port, DEVICE)
    clock, said = FakeClock(T0), []
    cat = make_cat(broker.port, clock, said, heartbeat_s=60, motion_debounce_s=30, sos_cancel_s=30)
    try:
        cat.tick()
        assert cat.connected
        assert cat.motion() is True
        run(cat, clock, 10)
        assert cat.motion() is False  # debounced: at most one motion event per 30 s
        run(cat, clock, 25)
        assert cat.motion() is True
        cat.sos()
        run(cat, clock, 5)
        assert cat.sos_cancel() is True
        cat.sos()
        run(cat, clock, 40)
        assert cat.sos_cancel() is False  # outside the cancel window
        run(cat, clock, 100)
        rec.wait_for(lambda r: len(r.on("event")) >= 5 and len(r.on("heartbeat")) >= 4, "events and heartbeats")
        time.sleep(0.2)  # let any stray extra message arrive before counting
    finally:
        cat.stop()
        rec.close()

    msgs = rec.snapshot()
    accepted = assert_all_accepted(msgs)
    assert [e["type"] for e in events(rec)] == ["motion", "motion", "sos", "sos_cancel", "sos"]
    status = [m for m in msgs if m.topic.endswith("/status")]
    assert json.loads(status[0].payload) == {"state": "online"}
    assert json.loads(status[-1].payload) == {"state": "offline"}  # orderly stop
    hb = rec.decoded("heartbeat")
    assert [h["ts"] - T0 for h in hb] == [0, 60, 120, 180]  # the heartbeat timer on the device clock
    seqs = [m.seq for m in accepted if m.seq is not None]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert all(not m.skewed for m in accepted)


@pytest.mark.timeout(60)
def test_cat_buffers_offline_and_flushes_with_original_ts_and_seq(broker):
    rec = Recorder(broker.port, DEVICE)
    clock, said = FakeClock(T0), []
    cat = make_cat(broker.port, clock, said, heartbeat_s=3600, motion_debounce_s=30)
    try:
        cat.tick()
        cat.motion()
        rec.wait_for(lambda r: len(r.on("event")) == 1, "first motion")

        broker.stop()
        sent_offline = []
        for i in range(6):
            run(cat, clock, 31)
            if i == 2:
                cat.sos()
            else:
                cat.motion()
            sent_offline.append(cat.buffer.items[-1][1])
        assert not cat.connected and len(cat.buffer) == 6
        run(cat, clock, 120)  # reconnect attempts fail with backoff, nothing is lost
        assert len(cat.buffer) == 6

        broker.start()
        rec.wait_connected()
        run(cat, clock, 61)
        assert cat.connected and len(cat.buffer) == 0
        rec.wait_for(lambda r: len(r.on("event")) >= 7, "flushed events", timeout_s=15)
        time.sleep(0.3)
    finally:
        cat.stop()
        rec.close()

    got = rec.on("event")
    assert_all_accepted(rec.snapshot())
    assert len(got) == 7, "none lost, none doubled"
    flushed = [json.loads(m.payload) for m in got[1:]]
    assert [m.payload for m in got[1:]] == sent_offline  # byte for byte: original ts and seq
    assert [f["type"] for f in flushed] == ["motion", "motion", "sos", "motion", "motion", "motion"]
    assert [f["ts"] - T0 for f in flushed] == [31 * (i + 1) for i in range(6)]
    late = [m.interpret() for m in got[1:]]
    assert all(m.device_ts == f["ts"] and m.seq == f["seq"] for m, f in zip(late, flushed, strict=True))


@pytest.mark.timeout(60)
def test_cat_last_will_and_alert_ack_while_offline(broker):
    rec = Recorder(broker.port, DEVICE)
    clock, said = FakeClock(T0), []
    cat = make_cat(broker.port, clock, said)
    try:
        cat.tick()
        assert retained_status(broker.port, DEVICE) == b'{"state":"online"}'

        cat.client.sock.close()  # power cut: no DISCONNECT, the broker fires the Last Will
        cat.connected = False
        rec.wait_for(lambda r: r.on("status") and r.on("status")[-1].payload == b'{"state":"offline"}',
                     "Last Will")
        assert retained_status(broker.port, DEVICE) == b'{"state":"offline"}'

        # The hub acknowledges an alert while the unit is away: the persistent session keeps it.
        rec.send_cmd(b'{"cmd": "alert_ack", "alert": "A7K2"}')
        run(cat, clock, 2)
        assert cat.connected
        wait_until(lambda: ("help_coming", "A7K2") in said, 5, "alert_ack after reconnect", poll=cat.tick)
        assert retained_status(broker.port, DEVICE) == b'{"state":"online"}'
    finally:
        cat.stop()
        rec.close()
    assert_all_accepted(rec.snapshot())


@pytest.mark.timeout(60)
def test_cat_cmds_alert_ack_and_config(broker):
    rec = Recorder(broker.port, DEVICE)
    clock, said = FakeClock(T0), []
    cat = make_cat(broker.port, clock, said, heartbeat_s=300)
    try:
        cat.tick()
        rec.send_cmd(b'{"cmd": "alert_ack", "alert": "A7K2"}')
        wait_until(lambda: said == [("help_coming", "A7K2")], 5, "speaker callback", poll=cat.tick)

        rec.send_cmd(b'not json')
        rec.send_cmd(b'{"cmd": "reboot"}')
        rec.send_cmd(b'{"cmd": "config", "heartbeat_s": 5}')  # below the protocol's minimum of 10
        rec.send_cmd(b'{"cmd": "config", "heartbeat_s": 20}')
        wait_until(lambda: cat.heartbeat_s == 20, 5, "config applied", poll=cat.tick)
        before = len(rec.on("heartbeat"))
        run(cat, clock, 60)
        rec.wait_for(lambda r: len(r.on("heartbeat")) == before + 3, "heartbeats every 20 s")
    finally:
        cat.stop()
        rec.close()
    assert said == [("help_coming", "A7K2")]
    assert_all_accepted(rec.snapshot())


MICROPYTHON_MODULES = {"json", "ujson", "time", "utime", "machine", "network", "ntptime", "config",
                       "pingan_cat", "umqtt.simple", "umqtt.robust", "micropython", "gc"}


@pytest.mark.parametrize("name", ["pingan_cat.py", "main.py", "config_example.py"])
def test_device_code_is_micropython_compatible(name):
    """The device files import only what a MicroPython board has, and use no CPython-only syntax."""
    tree = ast.parse((CAT_DIR / name).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert {a.name for a in node.names} <= MICROPYTHON_MODULES, ast.dump(node)
        elif isinstance(node, ast.ImportFrom):
            assert node.module in MICROPYTHON_MODULES, node.module
        assert not isinstance(node, ast.JoinedStr | ast.AnnAssign | ast.Match | ast.NamedExpr | ast.AsyncFunctionDef), (
            f"{name}:{getattr(node, 'lineno', '?')} uses {type(node).__name__}")
        if isinstance(node, ast.FunctionDef):
            assert node.returns is None and all(a.annotation is None for a in node.args.args), node.name
