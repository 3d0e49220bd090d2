"""Devices named as people name them: by kind and place ("平安猫", "厨房燃气报警器"), not by id.

`device_label(kind, place, lang)` is the one way to say which device, for the board, reports,
SMS texts or alert reasons translated at the edges. A kind this table does not know is shown
as given (a new kind stays readable); `place` is where it is in the home, when known.
"""

from __future__ import annotations

KIND_NAMES: dict[str, tuple[str, str]] = {  # kind -> (zh, en)
    "pingan_cat": ("平安猫", "Ping'an Cat"),
    "door_sensor": ("门磁", "door sensor"),
    "gps_tag": ("定位器", "GPS tag"),
    "smoke_alarm": ("烟感", "smoke alarm"),
    "gas_alarm": ("燃气报警器", "gas alarm"),
    "water_meter": ("水表", "water meter"),
}


def device_label(kind: str | None, place: str | None = None, lang: str = "zh") -> str:
    """"平安猫", "厨房燃气报警器"; in English "Ping'an Cat", "gas alarm (kitchen)"."""
    english = lang.lower().startswith("en")
    names = KIND_NAMES.get(kind or "")
    name = (names[1] if english else names[0]) if names else (kind or "")
    place = (place or "").strip()
    if not place:
        return name
    return f"{name} ({place})" if english else f"{place}{name}"
