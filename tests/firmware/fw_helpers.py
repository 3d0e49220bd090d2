"""Helpers shared by the firmware stub tests: a recording subscriber, a fake clock."""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

import devices
from devices import DeviceMessage, Rejection
from devices.topics import UPLINK_CHANNELS

REPO = Path(__file__).resolve().parents[2]
CAT_DIR = REPO / "firmware_stubs" / "pingan_cat_micropython"
TAG_DIR = REPO / "firmware_stubs" / "gps_tag_c"
ROOT = "pingan/v1"


def _root_conftest():
    name = "_pingan_tests_root_conftest"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "tests" / "conftest.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def require(condition: bool, what: str) -> None:
    """tests/conftest.py's require(): skip locally, fail under CI=true."""
    _root_conftest().require(condition, what)


def wait_until(cond: Callable[[], bool], timeout_s: float = 10.0, what: str = "condition",
               poll: Callable[[], None] | None = None) -> None:
    """Wait for real network I/O (not for logic: that runs on injected clocks)."""
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        if poll is not None:
            poll()
        time.sleep(0.02)


class FakeClock:
    def __init__(self, start: float) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool
    received_at: float

    def interpret(self) -> DeviceMessage | Rejection:
        return devices.interpret(self.topic, self.payload, self.received_at)


class Recorder:
    """The hub's point of view: a persistent QoS 1 subscription to one device's topics."""

    def __init__(self, port: int, device_id: str, username: str | None = None, password: str | None = None) -> None:
        self.device_id = device_id
        self.messages: list[Received] = []
        self.redelivered = 0
        self.lock = threading.Lock()
        self.connected = threading.Event()
        self.client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                                  client_id=f"test-hub-{uuid.uuid4().hex[:8]}", clean_session=False)
        self.client.reconnect_delay_set(1, 1)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *a: self.connected.clear()
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        if not self.connected.wait(10):
            raise AssertionError("recorder could not connect")

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        # Subscribe on every connect: the session may not survive a broker restart.
        # Exactly what the hub subscribes to (the uplink channels), for this one device.
        client.subscribe([(f"{ROOT}/dev/{self.device_id}/{ch.value}", 1) for ch in UPLINK_CHANNELS])

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self.connected.set()  # ready: subscribed

    def _on_message(self, client, userdata, msg) -> None:
        payload = bytes(msg.payload)
        with self.lock:
            # The broker redelivers (DUP) what it had in flight to us when it stopped: QoS 1 is at
            # least once towards the hub too, which dedups on (device, seq, ts). Such a copy says
            # nothing about the device, which is what these tests judge.
            if msg.dup and any(m.topic == msg.topic and m.payload == payload for m in self.messages):
                self.redelivered += 1
                return
            self.messages.append(Received(msg.topic, payload, bool(msg.retain), time.time()))

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.messages)

    def on(self, channel: str) -> list[Received]:
        suffix = "/" + channel
        return [m for m in self.snapshot() if m.topic.endswith(suffix)]

    def decoded(self, channel: str) -> list[dict]:
        import json

        return [json.loads(m.payload) for m in self.on(channel)]

    def wait_for(self, cond: Callable[[Recorder], bool], what: str, timeout_s: float = 10.0,
                 poll: Callable[[], None] | None = None) -> None:
        wait_until(lambda: cond(self), timeout_s, what, poll)

    def wait_connected(self, timeout_s: float = 10.0) -> None:
        if not self.connected.wait(timeout_s):
            raise AssertionError("recorder did not reconnect")

    def send_cmd(self, payload: bytes) -> None:
        self.client.publish(f"{ROOT}/dev/{self.device_id}/cmd", payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def assert_all_accepted(messages: list[Received]) -> list[DeviceMessage]:
    accepted = []
    for m in messages:
        result = m.interpret()
        assert not isinstance(result, Rejection), f"hub rejects {m.topic} {m.payload!r}: {result}"
        accepted.append(result)
    return accepted


def retained_status(port: int, device_id: str, timeout_s: float = 5.0) -> bytes | None:
    """What a fresh subscriber gets as the retained status (None if nothing)."""
    got: list[bytes] = []
    done = threading.Event()
    c = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"probe-{uuid.uuid4().hex[:8]}")

    def on_message(client, userdata, msg):
        got.append(bytes(msg.payload))
        done.set()

    c.on_message = on_message
    c.on_connect = lambda client, *a: client.subscribe(f"{ROOT}/dev/{device_id}/status", qos=1)
    c.connect("127.0.0.1", port)
    c.loop_start()
    try:
        done.wait(timeout_s)
    finally:
        c.loop_stop()
        c.disconnect()
    return got[-1] if got else None
