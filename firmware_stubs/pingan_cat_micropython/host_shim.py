"""CPython stand-in for MicroPython's `umqtt.simple.MQTTClient`, built on paho-mqtt.

Host-only (never copied to a board): lets pingan_cat.py run unchanged against a real
broker in tests and on a developer's machine. Semantics follow umqtt.simple:
synchronous calls, `publish(qos=1)` returns only after the PUBACK, every network failure
raises OSError, and nothing is retransmitted behind the caller's back (each `connect()`
starts a fresh paho client; the broker keeps the session when clean_session=False).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

TIMEOUT_S = 5.0


class MQTTException(Exception):
    pass


class _Sock:
    """`client.sock` as umqtt exposes it; close() drops the TCP connection abruptly."""

    def __init__(self, owner: MQTTClient) -> None:
        self.owner = owner

    def close(self) -> None:
        c = self.owner._paho
        if c is not None:
            s = c.socket()
            if s is not None:
                s.close()
        self.owner._paho = None


class MQTTClient:
    def __init__(self, client_id: str, server: str, port: int = 1883, user: str | None = None,
                 password: str | None = None, keepalive: int = 0, ssl: bool = False,
                 ssl_params: dict | None = None) -> None:
        self.client_id = client_id
        self.server = server
        self.port = port or 1883
        self.user = user
        self.pswd = password
        self.keepalive = keepalive
        self.cb: Callable[[bytes, bytes], None] | None = None
        self.lw: tuple[str, bytes, bool, int] | None = None
        self._paho: paho.Client | None = None
        self._inbox: list[tuple[bytes, bytes]] = []
        self._connack: int | None = None
        self._session_present = False
        self._suback = False
        self.sock = _Sock(self)

    def set_callback(self, f: Callable[[bytes, bytes], None]) -> None:
        self.cb = f

    def set_last_will(self, topic: str, msg: bytes, retain: bool = False, qos: int = 0) -> None:
        self.lw = (topic, msg, retain, qos)

    def connect(self, clean_session: bool = True) -> bool:
        c = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=self.client_id,
                        clean_session=clean_session, protocol=paho.MQTTv311, reconnect_on_failure=False)
        if self.user is not None:
            c.username_pw_set(self.user, self.pswd)
        if self.lw is not None:
            topic, msg, retain, qos = self.lw
            c.will_set(topic, msg, qos, retain)
        c.on_connect = self._on_connect
        c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        self._connack = None
        self._inbox = []
        c.connect(self.server, self.port, self.keepalive or 60)  # raises OSError when refused
        self._paho = c
        self._pump(lambda: self._connack is not None, "CONNACK")
        if self._connack != 0:
            self._paho = None
            raise MQTTException(self._connack)
        return self._session_present

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connack = reason_code.value
        self._session_present = bool(flags.session_present)

    def _on_message(self, client, userdata, msg) -> None:
        self._inbox.append((msg.topic.encode(), msg.payload))

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self._suback = True

    def _loop(self, timeout: float) -> None:
        if self._paho is None:
            raise OSError("not connected")
        rc = self._paho.loop(timeout)
        if rc != paho.MQTT_ERR_SUCCESS:
            self._paho = None
            raise OSError(f"connection lost ({paho.error_string(rc)})")

    def _pump(self, done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + TIMEOUT_S
        while not done():
            if time.monotonic() > deadline:
                self._paho = None
                raise OSError(f"timeout waiting for {what}")
            self._loop(0.05)
        self._deliver()

    def _deliver(self) -> None:
        inbox, self._inbox = self._inbox, []
        for topic, payload in inbox:
            if self.cb is not None:
                self.cb(topic, payload)

    def publish(self, topic: str, msg: bytes, retain: bool = False, qos: int = 0) -> None:
        if self._paho is None:
            raise OSError("not connected")
        info = self._paho.publish(topic, msg, qos, retain)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            self._paho = None
            raise OSError(f"publish failed ({paho.error_string(info.rc)})")
        if qos:
            self._pump(info.is_published, "PUBACK")
        else:
            self._loop(0)

    def subscribe(self, topic: str, qos: int = 0) -> None:
        if self._paho is None:
            raise OSError("not connected")
        self._suback = False
        self._paho.subscribe(topic, qos)
        self._pump(lambda: self._suback, "SUBACK")

    def check_msg(self) -> None:
        self._loop(0)
        self._deliver()

    def wait_msg(self) -> None:
        self._loop(1.0)
        self._deliver()

    def ping(self) -> None:
        self._loop(0)  # paho sends PINGREQ itself when the keepalive is due

    def disconnect(self) -> None:
        if self._paho is not None:
            self._paho.disconnect()
            self._paho.loop(0.1)
            self._paho = None
