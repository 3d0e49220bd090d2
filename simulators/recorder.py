"""`pingan record`: subscribe to `<root>/dev/+/+` and write device traffic as a recording.

Each message becomes one line with its receive time `t` (this machine's wall clock, epoch
seconds, ms precision), its topic and its payload (text, or `payload_b64` when not UTF-8).
Retained messages the broker hands over on subscribing (stale `status` from earlier sessions)
are left out unless `include_retained`. Stops after `count` messages, after `duration_s`, when
`stop` is set, or on Ctrl-C; lines are flushed at least every second.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from devices.topics import DEFAULT_ROOT, every_device_filter
from simulators.publisher import BrokerError, parse_url
from simulators.recording import RecordingWriter

_Item = tuple[float, str, bytes]


def _client(url: str, topic_filter: str, inbox: queue.SimpleQueue[_Item], ready: threading.Event,
            include_retained: bool) -> mqtt.Client:
    broker = parse_url(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pingan-recorder-{id(inbox):x}", clean_session=True)
    if broker.username:
        client.username_pw_set(broker.username, broker.password)
    if broker.tls:
        client.tls_set()

    def on_connect(c: mqtt.Client, u: object, flags: object, rc: ReasonCode, props: object) -> None:
        if not rc.is_failure:
            c.subscribe(topic_filter, qos=1)

    def on_message(c: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
        if include_retained or not msg.retain:
            inbox.put((round(time.time(), 3), msg.topic, bytes(msg.payload)))

    client.on_connect = on_connect
    client.on_subscribe = lambda *args: ready.set()
    client.on_message = on_message
    try:
        client.connect(broker.host, broker.port, keepalive=30)
    except OSError as exc:
        raise BrokerError(f"cannot reach the broker at {broker.host}:{broker.port}: {exc}") from None
    return client


def record(
    url: str,
    out: Path,
    topic_root: str = DEFAULT_ROOT,
    duration_s: float | None = None,
    count: int | None = None,
    *,
    stop: threading.Event | None = None,
    ready: threading.Event | None = None,
    include_retained: bool = False,
    on_message: Callable[[int], None] | None = None,
) -> int:
    """Record until a stop condition; returns the number of messages written.

    `ready` is set once the subscription is acknowledged (tests publish after it).
    """
    inbox: queue.SimpleQueue[_Item] = queue.SimpleQueue()
    subscribed = ready or threading.Event()
    client = _client(url, every_device_filter(topic_root), inbox, subscribed, include_retained)
    client.loop_start()
    deadline = None if duration_s is None else time.monotonic() + duration_s
    writer = RecordingWriter(out, buffer_lines=1000)
    try:
        _drain(inbox, writer, deadline, count, stop, on_message)
    except KeyboardInterrupt:
        pass
    finally:
        writer.close()
        client.disconnect()
        client.loop_stop()
    return writer.count


def _drain(
    inbox: queue.SimpleQueue[_Item],
    writer: RecordingWriter,
    deadline: float | None,
    count: int | None,
    stop: threading.Event | None,
    on_message: Callable[[int], None] | None,
) -> None:
    last_flush = time.monotonic()
    while count is None or writer.count < count:
        now = time.monotonic()
        if (deadline is not None and now >= deadline) or (stop is not None and stop.is_set()):
            return
        if now - last_flush >= 1.0:
            writer.flush()
            last_flush = now
        try:
            t, topic, payload = inbox.get(timeout=0.1)
        except queue.Empty:
            continue
        writer.message(t, topic, payload)
        if on_message is not None:
            on_message(writer.count)
