"""The C GPS tag stub, built on the host over libmosquitto, against real Mosquitto."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from fw_helpers import TAG_DIR, Recorder, assert_all_accepted, require, retained_status, wait_until

DEVICE = "tag-0001"
T0 = int(time.time())


def have_libmosquitto() -> bool:
    if shutil.which("pkg-config"):
        return subprocess.run(["pkg-config", "--exists", "libmosquitto"]).returncode == 0
    return Path("/usr/include/mosquitto.h").exists()


@pytest.fixture(scope="module")
def tag_binary(tmp_path_factory) -> Path:
    require(shutil.which("cc") is not None and shutil.which("make") is not None, "a C compiler and make")
    require(have_libmosquitto(), "libmosquitto-dev")
    build = tmp_path_factory.mktemp("gps_tag_build")
    proc = subprocess.run(["make", "-C", str(TAG_DIR), f"BUILD_DIR={build}", f"{build}/gps_tag_host",
                           f"{build}/test_logic"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return build / "gps_tag_host"


class Tag:
    """The host program as a child process, driven through its standard input."""

    def __init__(self, binary: Path, port: int, *args: str) -> None:
        self.lines: list[str] = []
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(
            [str(binary), "--device", DEVICE, "--host", "127.0.0.1", "--port", str(port),
             "--username", DEVICE, "--password", "secret", "--start-ts", str(T0), *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.markers = 0

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self.lock:
                self.lines.append(line.rstrip("\n"))

    def output(self) -> list[str]:
        with self.lock:
            return list(self.lines)

    def wait_line(self, text: str, timeout_s: float = 10.0) -> str:
        def found() -> bool:
            return any(text in line for line in self.output())

        try:
            wait_until(found, timeout_s, repr(text))
        except AssertionError:
            raise AssertionError(f"no {text!r} in output:\n" + "\n".join(self.output())) from None
        return next(line for line in self.output() if text in line)

    def do(self, *commands: str, timeout_s: float = 15.0) -> None:
        """Send commands and wait until the program has carried them all out."""
        assert self.proc.stdin is not None
        self.markers += 1
        marker = f"echo mark-{self.markers}"
        self.proc.stdin.write("\n".join([*commands, marker]) + "\n")
        self.proc.stdin.flush()
        self.wait_line(marker, timeout_s)

    def sent(self, channel: str) -> list[str]:
        """Payloads the program reports as acknowledged by the broker on a channel."""
        return [line.split(" ", 4)[4] for line in self.output() if f"] sent {channel} seq=" in line]

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(5)

    def quit(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait(10)


@pytest.fixture
def tags():
    started: list[Tag] = []
    yield started
    for t in started:
        t.kill()


def start(tags: list[Tag], binary: Path, port: int, *args: str) -> Tag:
    t = Tag(binary, port, *args)
    tags.append(t)
    t.wait_line("online")
    return t


def ts_offsets(payloads: list[bytes | str]) -> list[int]:
    return [int(json.loads(p)["ts"]) - T0 for p in payloads]


@pytest.mark.timeout(60)
def test_logic_unit_tests(tag_binary):
    proc = subprocess.run([str(tag_binary.parent / "test_logic")], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 failed" in proc.stdout


@pytest.mark.timeout(60)
def test_tag_speaks_protocol_v1(broker, tag_binary, tags):
    rec = Recorder(broker.port, DEVICE)
    try:
        tag = start(tags, tag_binary, broker.port, "--heartbeat", "300", "--fix-moving", "30", "--fix-still", "300")
        tag.do("battery 64", "pos 45.7512 126.6421 12.5 1.2", "advance 90",  # walking: a fix every 30 s
               "pos 45.7520 126.6430 8 0", "advance 30",  # 100 m further: still counts as moving
               "advance 600",  # standing: every 300 s
               "battery 12", "pos 45.7600 126.6500 15 1.0", "advance 300",  # low battery: moving every 60 s
               "sos", "advance 10", "cancel", "advance 40", "sos", "advance 31", "cancel", "sync")
        tag.wait_line("sync ok")
        n = len(tag.sent("gps")) + len(tag.sent("event")) + len(tag.sent("heartbeat"))
        rec.wait_for(lambda r: len(r.snapshot()) >= n + 1, "all messages")
        tag.quit()
        rec.wait_for(lambda r: r.on("status")[-1].payload == b'{"state":"offline"}', "orderly offline")
    finally:
        rec.close()

    msgs = rec.snapshot()
    accepted = assert_all_accepted(msgs)
    assert msgs[0].payload == b'{"state":"online"}' and msgs[0].topic.endswith("/status")
    gps = rec.decoded("gps")
    assert [m.payload.decode() for m in rec.on("gps")] == tag.sent("gps")
    offsets = ts_offsets([m.payload for m in rec.on("gps")])
    # t=0: no fix yet (retry at 60), then the fix rate follows movement and the battery.
    assert offsets[:6] == [60, 90, 120, 150, 450, 750], offsets
    low = [o for o, g in zip(offsets, gps, strict=True) if g["battery"] == 12 and o <= 1020]
    assert low[1] - low[0] == 60, offsets
    assert [e["type"] for e in rec.decoded("event")] == ["sos", "sos_cancel", "sos"]  # the late cancel is ignored
    sos_ts = rec.decoded("event")[0]["ts"]
    assert any(g["ts"] == sos_ts for g in gps), "a fix is sent with the SOS"
    assert all("battery" in g for g in gps)
    assert ts_offsets([m.payload for m in rec.on("heartbeat")]) == [0, 300, 600, 900]
    seqs = [m.seq for m in accepted if m.seq is not None]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


@pytest.mark.timeout(60)
def test_tag_last_will_on_sigkill(broker, tag_binary, tags):
    rec = Recorder(broker.port, DEVICE)
    try:
        tag = start(tags, tag_binary, broker.port, "--keepalive", "5")
        tag.do("sync")
        assert retained_status(broker.port, DEVICE) == b'{"state":"online"}'
        tag.kill()
        rec.wait_for(lambda r: r.on("status") and r.on("status")[-1].payload == b'{"state":"offline"}', "Last Will")
        assert retained_status(broker.port, DEVICE) == b'{"state":"offline"}'
    finally:
        rec.close()
    assert_all_accepted(rec.snapshot())


@pytest.mark.timeout(60)
def test_tag_buffers_offline_and_flushes_with_original_ts_and_seq(broker, tag_binary, tags):
    rec = Recorder(broker.port, DEVICE)
    try:
        tag = start(tags, tag_binary, broker.port, "--heartbeat", "3600", "--fix-moving", "30")
        tag.do("battery 80", "pos 45.7512 126.6421 10 1.5", "advance 70", "sync")
        before = len(tag.sent("gps"))
        rec.wait_for(lambda r: len(r.on("gps")) == before, "fixes before the outage")

        broker.stop()
        tag.wait_line("offline (")
        tag.do("advance 100", "sos", "advance 20", "cancel", "advance 100")
        buffered = [line.split(" ", 5)[5] for line in tag.output() if "] buffered " in line]
        assert len(buffered) >= 8 and not tag.sent("event")
        assert "connect failed" in "\n".join(tag.output())

        broker.start()
        rec.wait_connected()
        tag.do("advance 61", "sync")
        tag.wait_line("sync ok")
        rec.wait_for(lambda r: len(r.on("gps")) + len(r.on("event")) >= before + len(buffered), "flushed messages")
        time.sleep(0.3)  # a doubled message would arrive now
    finally:
        rec.close()

    assert_all_accepted(rec.snapshot())
    got = [m.payload.decode() for m in rec.snapshot() if m.topic.endswith(("/gps", "/event"))][before:]
    assert got[: len(buffered)] == buffered, "buffered messages byte for byte (original ts and seq), in order"
    assert len(set(got)) == len(got), "none doubled"
    live = [json.loads(p) for p in got[len(buffered):]]  # fixes taken after the reconnect
    assert all(p["seq"] > json.loads(buffered[-1])["seq"] for p in live)
    events = [json.loads(p) for p in got if '"type"' in p]
    assert [e["type"] for e in events] == ["sos", "sos_cancel"]
    flushed = [m.interpret() for m in rec.snapshot() if m.topic.endswith("/event")]
    assert [f.device_ts for f in flushed] == [e["ts"] for e in events]


@pytest.mark.timeout(60)
def test_tag_cmds_alert_ack_and_config(broker, tag_binary, tags):
    rec = Recorder(broker.port, DEVICE)
    try:
        tag = start(tags, tag_binary, broker.port, "--heartbeat", "300")
        tag.do("sync")
        rec.send_cmd(b'{"cmd": "alert_ack", "alert": "A7K2"}')
        tag.wait_line("cmd alert_ack alert=A7K2: help is coming")
        tag.wait_line("indicate help_coming A7K2")
        rec.send_cmd(b"garbage")
        rec.send_cmd(b'{"cmd": "config", "heartbeat_s": 5}')
        rec.send_cmd(b'{"cmd": "config", "heartbeat_s": 20}')
        tag.wait_line("cmd config heartbeat_s=20")
        assert any("cmd ignored: malformed" in line for line in tag.output())
        assert any("cmd config ignored" in line for line in tag.output())
        tag.do("advance 60", "sync")
        rec.wait_for(lambda r: len(r.on("heartbeat")) >= 4, "heartbeats every 20 s")
    finally:
        rec.close()
    assert_all_accepted(rec.snapshot())
    hb = ts_offsets([m.payload for m in rec.on("heartbeat")])
    assert hb == [0, 20, 40, 60]


ACL = """user pingan-hub
topic read pingan/v1/dev/+/heartbeat
topic read pingan/v1/dev/+/event
topic read pingan/v1/dev/+/gps
topic read pingan/v1/dev/+/status
topic write pingan/v1/dev/+/cmd
pattern write pingan/v1/dev/%u/heartbeat
pattern write pingan/v1/dev/%u/event
pattern write pingan/v1/dev/%u/gps
pattern write pingan/v1/dev/%u/status
pattern read pingan/v1/dev/%u/cmd
"""


@pytest.mark.timeout(60)
def test_tag_per_device_credentials_and_acl(tmp_path, tag_binary, tags):
    """The ACL of docs/DEVICE_PROTOCOL.md: right password in, wrong one out, own topics only."""
    require(shutil.which("mosquitto") is not None and shutil.which("mosquitto_passwd") is not None, "mosquitto")
    from fw_helpers import _root_conftest

    root = _root_conftest()
    secured = tmp_path / "secured"
    secured.mkdir()
    passwd, acl = secured / "passwd", secured / "acl"
    passwd.write_text("")
    for user, password in [(DEVICE, "secret"), ("tag-0002", "other"), ("pingan-hub", "hubpw")]:
        subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, password], check=True, timeout=10)
    acl.write_text(ACL)
    port = root.free_port()
    conf = root.write_broker_conf(secured, port, f"password_file {passwd}\nacl_file {acl}\n")
    conf.write_text(conf.read_text().replace("allow_anonymous true", "allow_anonymous false").replace("log_dest none", f"log_dest file {secured}/log"))
    broker = root.Broker(port, conf)
    broker.start()
    try:
        rec = Recorder(port, DEVICE, username="pingan-hub", password="hubpw")
        try:
            wrong = Tag(tag_binary, port, "--password", "wrong")
            tags.append(wrong)
            wrong.wait_line("connect failed")
            assert not any("online" in line for line in wrong.output())
            wrong.kill()

            tag = start(tags, tag_binary, port)
            tag.do("battery 50", "pos 45.7512 126.6421 10 0", "advance 61", "sync")
            rec.wait_for(lambda r: len(r.on("gps")) == 1 and len(r.on("heartbeat")) == 1, "authorised messages")
            rec.send_cmd(b'{"cmd": "alert_ack", "alert": "A7K2"}')
            tag.wait_line("cmd alert_ack alert=A7K2")
            tag.quit()

            # tag-0002's credentials do not let it speak for tag-0001: Mosquitto drops the
            # connection on its first publish outside the ACL (the retained online status).
            impostor = Tag(tag_binary, port, "--username", "tag-0002", "--password", "other")
            tags.append(impostor)
            impostor.wait_line("connect failed")
            impostor.do("sos", "advance 5")
            impostor.kill()
            time.sleep(0.3)  # a leaked message would arrive now
            assert not any(" online" in line for line in impostor.output())
            assert rec.decoded("event") == []
            assert [m.payload for m in rec.on("status")] == [b'{"state":"online"}', b'{"state":"offline"}']
        finally:
            rec.close()
        assert_all_accepted(rec.snapshot())
    finally:
        broker.stop()
