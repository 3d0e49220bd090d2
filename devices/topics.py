"""MQTT topics of protocol v1 as validated value objects (build, parse, match)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

DEFAULT_ROOT = "pingan/v1"
DEVICE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{2,63}$")


class Channel(StrEnum):
    HEARTBEAT = "heartbeat"
    EVENT = "event"
    GPS = "gps"
    STATUS = "status"
    CMD = "cmd"


#: Channels a device publishes and the hub subscribes to.
UPLINK_CHANNELS = (Channel.HEARTBEAT, Channel.EVENT, Channel.GPS, Channel.STATUS)


class TopicError(ValueError):
    """A topic that is not a protocol v1 device topic; `reason` is a stable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class DeviceTopic:
    device_id: str
    channel: Channel
    root: str = DEFAULT_ROOT

    def __post_init__(self) -> None:
        if not DEVICE_ID_RE.match(self.device_id):
            raise TopicError("bad_device_id", f"device id {self.device_id!r} does not match {DEVICE_ID_RE.pattern}")

    def __str__(self) -> str:
        return topic_of(self.device_id, self.channel, self.root)

    @classmethod
    def parse(cls, topic: str, root: str = DEFAULT_ROOT) -> DeviceTopic:
        prefix = f"{root}/dev/"
        if not topic.startswith(prefix):
            raise TopicError("bad_topic", f"topic {topic!r} is not under {prefix!r}")
        parts = topic[len(prefix) :].split("/")
        if len(parts) != 2:
            raise TopicError("bad_topic", f"topic {topic!r} is not {prefix}<id>/<channel>")
        device_id, channel = parts
        try:
            chan = Channel(channel)
        except ValueError:
            raise TopicError("unknown_channel", f"unknown channel {channel!r}") from None
        return cls(device_id, chan, root)


def topic_of(device_id: str, channel: Channel, root: str = DEFAULT_ROOT) -> str:
    """The topic of a device's channel, without validating the id (for ids already known good)."""
    return f"{root}/dev/{device_id}/{channel.value}"


def every_device_filter(root: str = DEFAULT_ROOT) -> str:
    """One filter for every device's every channel (recorders, monitors)."""
    return f"{root}/dev/+/+"


def subscription_filters(root: str = DEFAULT_ROOT, shared_group: str | None = None) -> list[str]:
    """The filters the hub subscribes to, optionally through a `$share/<group>/` shared subscription."""
    filters = [topic_of("+", channel, root) for channel in UPLINK_CHANNELS]
    if shared_group:
        filters = [f"$share/{shared_group}/{f}" for f in filters]
    return filters


def matches(topic_filter: str, topic: str) -> bool:
    """MQTT wildcard matching (`+`, `#`), aware of `$share/<group>/` prefixes."""
    if topic_filter.startswith("$share/"):
        topic_filter = topic_filter.split("/", 2)[2]
    fparts, tparts = topic_filter.split("/"), topic.split("/")
    for i, f in enumerate(fparts):
        if f == "#":
            return True
        if i >= len(tparts) or (f != "+" and f != tparts[i]):
            return False
    return len(fparts) == len(tparts)
