"""Ping'an Cat home unit: protocol v1 device logic (MicroPython and CPython).

Hardware-free: time, transport and the speaker are injected, so the same class runs on
the device (see main.py) and under CPython in the tests (see host_shim.py).

- `client_factory()` returns an umqtt.simple/robust compatible `MQTTClient` already built
  with the device's own client id, server, port, user, password and keepalive.
- `clock()` returns Unix epoch seconds, UTC (int or float).
- `speaker(what, detail)` plays a prompt: ("help_coming", "A7K2"), ("sos_sent", None), ...

Only MicroPython-compatible Python here: no typing, dataclasses, f-strings or
CPython-only modules.
"""

try:
    import ujson as json
except ImportError:  # CPython
    import json

ROOT = "pingan/v1"
FW = "1.0.0"
UINT32 = 0x100000000

# Events the ring buffer keeps in preference when it is full.
CRITICAL = ("sos", "sos_cancel", "fall", "smoke", "gas")


class RingBuffer:
    """Fixed-size FIFO of (channel, payload_bytes, type) kept while the hub is unreachable.

    When full, the oldest non-critical entry is evicted (the oldest entry if all are
    critical); evictions are counted in `dropped` and reported in the next heartbeat.
    """

    def __init__(self, size):
        self.size = size
        self.items = []
        self.dropped = 0

    def __len__(self):
        return len(self.items)

    def push(self, item):
        if len(self.items) >= self.size:
            victim = 0
            for i in range(len(self.items)):
                if self.items[i][2] not in CRITICAL:
                    victim = i
                    break
            self.items.pop(victim)
            self.dropped += 1
        self.items.append(item)

    def peek(self):
        return self.items[0] if self.items else None

    def pop(self):
        return self.items.pop(0)


class PinganCat:
    def __init__(self, device_id, client_factory, clock, speaker=None, root=ROOT,
                 heartbeat_s=300, keepalive_s=60, motion_debounce_s=60, sos_cancel_s=30,
                 buffer_size=64, fw=FW, battery=None, rssi=None, log=None):
        self.device_id = device_id
        self.client_factory = client_factory
        self.clock = clock
        self.speaker = speaker
        self.heartbeat_s = heartbeat_s
        self.keepalive_s = keepalive_s
        self.motion_debounce_s = motion_debounce_s
        self.sos_cancel_s = sos_cancel_s
        self.fw = fw
        self.battery = battery  # percent or None (mains powered)
        self.rssi = rssi
        self._log = log
        base = root + "/dev/" + device_id + "/"
        self.t_heartbeat = base + "heartbeat"
        self.t_event = base + "event"
        self.t_status = base + "status"
        self.t_cmd = base + "cmd"
        self.buffer = RingBuffer(buffer_size)
        self.seq = 0
        self.client = None
        self.connected = False
        self.next_heartbeat = None
        self.next_reconnect = 0
        self.backoff = 1
        self.last_motion = None
        self.sos_at = None
        self.last_tx = 0
        self.acks = []  # alert codes acknowledged by the hub, newest last

    # ---- helpers -------------------------------------------------------------
    def log(self, msg):
        if self._log:
            self._log(msg)

    def next_seq(self):
        s = self.seq
        self.seq = (self.seq + 1) % UINT32
        return s

    def now(self):
        return self.clock()

    def say(self, what, detail=None):
        if self.speaker:
            try:
                self.speaker(what, detail)
            except Exception as e:  # a broken speaker must not stop the unit
                self.log("speaker error " + repr(e))

    # ---- connection ----------------------------------------------------------
    def connect(self):
        """One connection attempt; returns True when online. Never raises."""
        now = self.now()
        try:
            c = self.client_factory()
            c.set_callback(self._on_message)
            c.set_last_will(self.t_status, b'{"state":"offline"}', True, 1)
            c.connect(False)  # clean_session=False: the broker keeps our cmd subscription
            c.publish(self.t_status, b'{"state":"online"}', True, 1)
            c.subscribe(self.t_cmd, 1)
        except Exception as e:
            self.log("connect failed: " + repr(e))
            self._drop()
            self.next_reconnect = now + self.backoff
            self.backoff = min(self.backoff * 2, 60)
            return False
        self.client = c
        self.connected = True
        self.backoff = 1
        self.last_tx = now
        self.log("online")
        if self.next_heartbeat is None:
            self.next_heartbeat = now
        self.flush()
        return self.connected

    def _drop(self):
        if self.client is not None:
            try:  # noqa: SIM105 (no contextlib on MicroPython)
                self.client.sock.close()
            except Exception:
                pass
        self.client = None
        if self.connected:
            self.log("offline, buffering")
        self.connected = False

    def _lost(self, e):
        self.log("connection lost: " + repr(e))
        self._drop()
        self.next_reconnect = self.now() + self.backoff

    def _send(self, topic, payload):
        """Publish QoS 1; returns True once the broker acknowledged it."""
        try:
            self.client.publish(topic, payload, False, 1)
        except Exception as e:
            self._lost(e)
            return False
        self.last_tx = self.now()
        return True

    # ---- buffered uplink -----------------------------------------------------
    def _event(self, type_):
        payload = json.dumps({"ts": self.now(), "seq": self.next_seq(), "type": type_})
        self.buffer.push((self.t_event, payload.encode(), type_))
        self.log("event " + payload)
        self.flush()

    def flush(self):
        """Send buffered messages oldest first; each leaves the buffer only once acked."""
        while self.connected and len(self.buffer):
            topic, payload, _ = self.buffer.peek()
            if not self._send(topic, payload):
                return False
            self.buffer.pop()
        return not len(self.buffer)

    def heartbeat(self):
        hb = {"ts": self.now(), "seq": self.next_seq(), "fw": self.fw}
        if self.battery is not None:
            hb["battery"] = self.battery
        if self.rssi is not None:
            hb["rssi"] = self.rssi
        if self.buffer.dropped:
            hb["dropped"] = self.buffer.dropped  # extension field: evicted buffered events
        if self._send(self.t_heartbeat, json.dumps(hb).encode()):
            self.buffer.dropped = 0
            return True
        return False

    # ---- inputs (call from the main loop; an ISR should only set a flag) -----
    def motion(self):
        """PIR trigger; at most one motion event per motion_debounce_s. True if reported."""
        now = self.now()
        if self.last_motion is not None and now - self.last_motion < self.motion_debounce_s:
            return False
        self.last_motion = now
        self._event("motion")
        return True

    def sos(self):
        self.sos_at = self.now()
        self._event("sos")
        self.say("sos_sent")

    def sos_cancel(self):
        """Cancel a pressed SOS; only within sos_cancel_s of it. True if sent."""
        if self.sos_at is None or self.now() - self.sos_at > self.sos_cancel_s:
            return False
        self.sos_at = None
        self._event("sos_cancel")
        self.say("sos_cancelled")
        return True

    # ---- commands ------------------------------------------------------------
    def _on_message(self, topic, msg):
        if isinstance(topic, bytes):
            topic = topic.decode()
        if topic != self.t_cmd:
            return
        try:
            cmd = json.loads(msg)
            name = cmd["cmd"]
        except Exception:
            self.log("bad cmd ignored")
            return
        if name == "alert_ack":
            alert = cmd.get("alert")
            self.acks.append(alert)
            self.log("cmd alert_ack " + str(alert))
            self.say("help_coming", alert)
        elif name == "config":
            hb = cmd.get("heartbeat_s")
            if isinstance(hb, int) and not isinstance(hb, bool) and 10 <= hb <= 86400:
                self.heartbeat_s = hb
                self.next_heartbeat = self.now() + hb
                self.log("cmd config heartbeat_s=" + str(hb))
            else:
                self.log("cmd config ignored")
        else:
            self.log("unknown cmd " + str(name))

    # ---- main loop -----------------------------------------------------------
    def tick(self):
        """Call often (e.g. every 100 ms). Reconnects, receives cmds, sends heartbeats."""
        now = self.now()
        if not self.connected and (now < self.next_reconnect or not self.connect()):
            return
        try:
            self.client.check_msg()
        except Exception as e:
            self._lost(e)
            return
        if self.next_heartbeat is not None and now >= self.next_heartbeat:
            self.next_heartbeat = now + self.heartbeat_s
            self.heartbeat()
        elif self.connected and now - self.last_tx >= self.keepalive_s // 2:
            try:
                self.client.ping()
                self.last_tx = now
            except Exception as e:
                self._lost(e)
                return
        if self.connected and len(self.buffer):
            self.flush()

    def stop(self):
        """Orderly shutdown: the hub sees `offline` without waiting for the keepalive."""
        if self.connected:
            try:
                self.client.publish(self.t_status, b'{"state":"offline"}', True, 1)
                self.client.disconnect()
            except Exception:
                pass
        self._drop()
