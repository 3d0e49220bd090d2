"""Publishing to a broker: MQTT URLs and connections (paho-mqtt 2.x), paced publishing, live
simulation and broker replay of recordings.

All device traffic goes out at QoS 1 through one connection that speaks for every simulated
device (a gateway, in effect); `status` topics are published retained, as devices do. Timing:
a message simulated (or recorded) at `t` is published at `wall0 + (t - t0) / speed`;
`speed <= 0` publishes as fast as the broker acknowledges.

Live simulation and payload times: the payload `ts` of a simulated message is rewritten to the
wall-clock moment it is due, `ts = now0 + (ts_sim - sim_start) / speed` (sim start = now). At
`--speed 1` this is the simulated clock itself; at higher speeds the hub sees times consistent
with its own receive time (no clock skew, nothing late), only compressed: a 300 s heartbeat
arrives every 300/speed s. Broker replay keeps recorded payloads as they are unless `retime`.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import msgspec
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from devices.payloads import Payload
from simulators.engine import Message, Simulation, Truth, payload_bytes
from simulators.recording import messages_only, read_recording

Progress = Callable[[float], None]  # called with how far (seconds of recorded/simulated time) we got


class BrokerError(RuntimeError):
    """The broker could not be reached or refused us."""


@dataclass(frozen=True)
class BrokerUrl:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None


def parse_url(url: str) -> BrokerUrl:
    """`mqtt://[user:pass@]host[:port]` (also tcp://); `mqtts://` or `ssl://` for TLS."""
    parts = urlsplit(url if "://" in url else f"mqtt://{url}")
    if parts.scheme not in ("mqtt", "tcp", "mqtts", "ssl"):
        raise ValueError(f"broker URL {url!r}: scheme must be mqtt:// or mqtts://")
    tls = parts.scheme in ("mqtts", "ssl")
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return BrokerUrl(parts.hostname or "127.0.0.1", parts.port or (8883 if tls else 1883), tls, user, password)


class AckCounter:
    """Counts PUBACKs; lets a publisher wait until everything it sent is acknowledged."""

    def __init__(self) -> None:
        self.acked = 0
        self.sent = 0
        self._cond = threading.Condition()

    def on_publish(self, client: mqtt.Client, userdata: object, mid: int, rc: object, props: object) -> None:
        with self._cond:
            self.acked += 1
            self._cond.notify_all()

    def wait_all(self, timeout_s: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.acked >= self.sent, timeout_s)

    def wait_below(self, backlog: int, timeout_s: float = 30.0) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self.sent - self.acked < backlog, timeout_s)


def connect(
    url: str, client_id: str | None = None, max_inflight: int = 0, timeout_s: float = 10.0, threaded: bool = True
) -> mqtt.Client:
    """A connected client, or BrokerError. `threaded`: paho's network thread runs the loop;
    otherwise the caller calls `client.loop()`. `max_inflight` 0 lets paho send at once (its
    window bookkeeping costs O(window) per PUBACK): callers bound their own backlog instead."""
    broker = parse_url(url)
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id or f"pingan-sim-{uuid.uuid4().hex[:8]}", clean_session=True
    )
    if broker.username:
        client.username_pw_set(broker.username, broker.password)
    if broker.tls:
        client.tls_set()
    client.max_inflight_messages_set(max_inflight)
    client.max_queued_messages_set(0)
    connected = threading.Event()
    client.on_connect = lambda c, u, f, rc, p: connected.set() if not rc.is_failure else None
    try:
        client.connect(broker.host, broker.port, keepalive=30)
    except OSError as exc:
        raise BrokerError(f"cannot reach the broker at {broker.host}:{broker.port}: {exc}") from None
    if threaded:
        client.loop_start()
    else:
        _loop_until(client, connected, timeout_s)
    if not connected.wait(timeout_s):
        client.loop_stop()
        raise BrokerError(f"the broker at {broker.host}:{broker.port} did not accept the connection")
    return client


def _loop_until(client: mqtt.Client, event: threading.Event, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not event.is_set() and time.monotonic() < deadline:
        client.loop(0.05)


def disconnect(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()


class Pacer:
    """Sleeps so that time t (of the stream) is reached at wall0 + (t - t0) / speed."""

    def __init__(self, speed: float, t0: float) -> None:
        self.speed, self.t0, self.wall0 = speed, t0, time.monotonic()

    def wait(self, t: float) -> None:
        if self.speed <= 0:
            return
        delay = self.wall0 + (t - self.t0) / self.speed - time.monotonic()
        if delay > 0.002:
            time.sleep(delay)


def publish_stream(
    messages: Iterable[tuple[float, str, bytes, bool]],
    url: str,
    speed: float,
    on_progress: Progress | None = None,
    max_backlog: int = 2000,
) -> int:
    """Publish (t, topic, payload, retain) at QoS 1 paced by `speed`; returns messages acknowledged."""
    client = connect(url)
    acks = AckCounter()
    client.on_publish = acks.on_publish
    try:
        _pump(client, acks, messages, speed, on_progress, max_backlog)
        if not acks.wait_all(60):
            raise BrokerError(f"only {acks.acked} of {acks.sent} messages were acknowledged")
    finally:
        disconnect(client)
    return acks.acked


def _pump(
    client: mqtt.Client,
    acks: AckCounter,
    messages: Iterable[tuple[float, str, bytes, bool]],
    speed: float,
    on_progress: Progress | None,
    max_backlog: int,
) -> None:
    pacer: Pacer | None = None
    last = None
    for t, topic, payload, retain in messages:
        if pacer is None:
            pacer, last = Pacer(speed, t), t
        pacer.wait(t)
        if acks.sent - acks.acked >= max_backlog:
            acks.wait_below(max_backlog // 2)
        client.publish(topic, payload, qos=1, retain=retain)
        acks.sent += 1
        if on_progress is not None and last is not None and t - last >= 60:
            on_progress(t - last)
            last = t


def live_messages(sim: Simulation, speed: float, wall0: float) -> Iterator[tuple[float, str, bytes, bool]]:
    """The simulation's messages with payload ts moved onto the wall clock (see module doc)."""
    scale = speed if speed > 0 else 1.0
    for item in sim:
        if isinstance(item, Truth):
            continue
        yield item.t, item.topic, payload_bytes(_retimed(item, sim.start, wall0, scale)), item.retain


def _retimed(message: Message, sim_start: float, wall0: float, scale: float) -> Payload:
    ts = getattr(message.payload, "ts", None)
    if ts is None:
        return message.payload
    return msgspec.structs.replace(message.payload, ts=round(wall0 + (ts - sim_start) / scale, 3))


def publish_simulation(sim: Simulation, url: str, speed: float, on_progress: Progress | None = None) -> int:
    """Publish a simulation live at `speed`; returns messages acknowledged."""
    return publish_stream(live_messages(sim, speed, time.time()), url, speed, on_progress)


def recorded_messages(path: Path, retime_speed: float | None = None) -> Iterator[tuple[float, str, bytes, bool]]:
    """A recording's messages (truth skipped); status topics retained; optionally ts moved to now."""
    wall0 = time.time()
    t0: float | None = None
    for t, topic, payload in messages_only(read_recording(path)):
        if t0 is None:
            t0 = t
        if retime_speed is not None:
            payload = _retime_raw(payload, t0, wall0, retime_speed if retime_speed > 0 else 1.0)
        yield t, topic, payload, topic.endswith("/status")


def _retime_raw(payload: bytes, t0: float, wall0: float, scale: float) -> bytes:
    try:
        obj = msgspec.json.decode(payload)
    except msgspec.DecodeError:
        return payload
    if not isinstance(obj, dict) or not isinstance(obj.get("ts"), int | float):
        return payload
    obj["ts"] = round(wall0 + (obj["ts"] - t0) / scale, 3)
    return msgspec.json.encode(obj)


def replay_to_broker(
    path: Path, url: str, speed: float, on_progress: Progress | None = None, retime: bool = False
) -> int:
    """Publish a recording at its timing × speed (truth lines skipped); returns messages acknowledged."""
    return publish_stream(recorded_messages(path, speed if retime else None), url, speed, on_progress)
