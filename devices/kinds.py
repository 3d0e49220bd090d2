"""Device kinds and event types of protocol v1."""

from enum import StrEnum


class DeviceKind(StrEnum):
    PINGAN_CAT = "pingan_cat"  # home unit: PIR motion, SOS button, heartbeat
    DOOR_SENSOR = "door_sensor"
    GPS_TAG = "gps_tag"  # GPS, SOS, battery
    SMOKE_ALARM = "smoke_alarm"
    GAS_ALARM = "gas_alarm"
    WATER_METER = "water_meter"


class EventType(StrEnum):
    MOTION = "motion"
    DOOR_OPEN = "door_open"
    DOOR_CLOSE = "door_close"
    WATER_FLOW = "water_flow"
    BUTTON = "button"
    SOS = "sos"
    SOS_CANCEL = "sos_cancel"
    FALL = "fall"
    SMOKE = "smoke"
    GAS = "gas"
    TAMPER = "tamper"


#: Kinds whose events show that someone is moving about at home.
HOME_ACTIVITY_KINDS = frozenset(
    {DeviceKind.PINGAN_CAT, DeviceKind.DOOR_SENSOR, DeviceKind.WATER_METER}
)
