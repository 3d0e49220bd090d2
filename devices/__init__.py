"""Ping'an device protocol v1: topics, payloads, device kinds and golden examples.

Shared by the hub, the simulators and the firmware tests. Owns nothing but the
protocol itself: it imports no other package of the project.
"""

from devices.kinds import DeviceKind, EventType
from devices.messages import DeviceMessage, Rejection, interpret
from devices.payloads import (
    Command,
    Event,
    Gps,
    Heartbeat,
    ProtocolError,
    Status,
    decode,
)
from devices.topics import Channel, DeviceTopic, TopicError, subscription_filters

__all__ = [
    "Channel",
    "Command",
    "DeviceKind",
    "DeviceMessage",
    "DeviceTopic",
    "Event",
    "EventType",
    "Gps",
    "Heartbeat",
    "ProtocolError",
    "Rejection",
    "Status",
    "TopicError",
    "decode",
    "interpret",
    "subscription_filters",
]
