"""Alert reasons in the reader's language.

The rules engine writes each alert's reason as one English sentence (alerts/ carries no
catalogue). The board reads it in Chinese by default, so the sentences the engine is known to
write are matched here and rendered from the i18n catalogues (keys `reason.*`); anything else
is shown as written, never hidden.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Translate = Callable[..., str]

# (pattern of the engine's sentence, catalogue key); named groups become the key's values.
PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), key)
    for p, key in (
        (r"^SOS button pressed on (?P<device>\S+)$", "reason.sos"),
        (r"^fall detected on (?P<device>\S+)$", "reason.fall"),
        (r"^smoke detected on (?P<device>\S+)$", "reason.smoke"),
        (r"^gas detected on (?P<device>\S+)$", "reason.gas"),
        (r"^\w+ (?P<device>\S+) battery at (?P<battery>\d+) ?%$", "reason.battery"),
        (r"^\w+ (?P<device>\S+) offline: no message for (?P<n>\d+) heartbeat intervals$", "reason.offline_missed"),
        (r"^no activity since (?P<since>\d\d:\d\d); allowed silence (?P<day>[\d.]+) h by day, (?P<night>[\d.]+) h at night \((?P<window>[^)]+)\)$",
         "reason.no_activity"),
        (r"^nothing heard since (?P<since>\d\d:\d\d); allowed silence (?P<day>[\d.]+) h by day, (?P<night>[\d.]+) h at night \((?P<window>[^)]+)\)$",
         "reason.nothing_heard"),
    )
)


def localized_reason(reason: str, t: Translate, device_name: Callable[[str], str] | None = None) -> str:
    """`device_name` turns a device id into words (`devices.labels.device_label`)."""
    for pattern, key in PATTERNS:
        match = pattern.match(reason.strip())
        if match:
            values = match.groupdict()
            if device_name is not None and "device" in values:
                values["device"] = device_name(values["device"])
            text = t(key, **values)
            return reason if text == key else text
    return reason
