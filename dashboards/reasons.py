"""Alert reasons in the reader's language, from the engine's codes and values.

The engine explains every alert as a reason code with typed values (alerts/reasons.py); the
board, the responder page and the API word it here, from the i18n catalogues (key
`reason.<code>`, a variant `reason.<code>.<variant>` where a value changes the sentence), each
value formatted for the reader: a device by its kind (`alerts.reasons.device_words`, never
its id), a time in the community's local time (with the date when it is not within a day of
now), a duration in hours or minutes. An optional value that is absent reads as
`reason.none.<code>.<param>` (e.g. a return "home"), else `reason.none`. An alert reads as its
opening reason followed by its notes. A code the catalogue lacks is shown as its code and
values, never hidden.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from alerts.reasons import CATALOGUE, Explanation, Param, ParamType, ReasonCode, device_words
from dashboards.i18n import catalogue, pick_language

Translate = Callable[..., str]
DAY_S = 86400.0


class Explained(Protocol):
    """Anything with an opening reason and notes: the core's Alert, the hub's AlertView."""

    @property
    def reason(self) -> Explanation: ...

    @property
    def notes(self) -> Sequence[Explanation]: ...


class ReasonWords:
    """Words an explanation in one language and time zone; `now` decides when a time needs its
    date; `places` (device id → the resident's word for where it is) adds the place to a device."""

    def __init__(self, t: Translate, lang: str, tz: ZoneInfo | str, now: float | None = None,
                 places: Mapping[str, str] | None = None) -> None:
        self.t, self.lang, self.now, self.places = t, lang, now, places or {}
        self.tz = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)

    def alert(self, alert: Explained) -> str:
        """The opening reason, then each note, as one text."""
        separator = "; " if self.lang.startswith("en") else "；"
        return separator.join(self.text(why) for why in (alert.reason, *alert.notes))

    def text(self, why: Explanation) -> str:
        values = {p.name: self.value(why.code, p, why.params.get(p.name)) for p in CATALOGUE[why.code]}
        variant = _variant(why)
        key = f"reason.{why.code.value}" + (f".{variant}" if variant else "")
        text = self.t(key, **values)
        if text == key:  # no wording yet: the code and its values, never nothing
            return f"{why.code.value}(" + ", ".join(f"{k}={v}" for k, v in values.items()) + ")"
        return text

    def value(self, code: ReasonCode, p: Param, value: Any) -> str:
        if value is None:  # most absent values are not in the sentence at all: no missing-key warning
            key = f"reason.none.{code.value}.{p.name}"
            return self.t(key) if key in catalogue(pick_language(self.lang)) else self.t("reason.none")
        if p.type is ParamType.DEVICE:
            return self.device(value)
        if p.type is ParamType.DEVICES:
            if not value:
                return self.t("reason.none.devices")
            return ("、" if not self.lang.startswith("en") else ", ").join(self.device(d) for d in value)
        if p.type is ParamType.TIME:
            return self.time(value)
        if p.type is ParamType.SECONDS:
            return self.duration(value)
        if p.type is ParamType.CHOICE:
            return self.t(f"reason.{p.name}.{value}")
        return str(value)

    def device(self, ref: Mapping[str, str]) -> str:
        return device_words(ref["kind"], self.lang, self.places.get(ref["id"]))

    def time(self, t: float) -> str:
        local = datetime.fromtimestamp(t, self.tz)
        near = self.now is None or abs(self.now - t) < DAY_S
        return local.strftime("%H:%M" if near else "%m-%d %H:%M")

    def duration(self, seconds: float) -> str:
        """6 h, 1.5 h, 40 min, 25 s: thresholds read as hours, short delays as minutes or seconds."""
        if seconds >= 3600:
            return self.t("reason.hours", h=f"{round(seconds / 3600, 1):g}")
        if seconds >= 60:
            return self.t("time.minutes", n=round(seconds / 60))
        return self.t("time.seconds", n=round(seconds))


def _variant(why: Explanation) -> str:
    """The sentence variant a value selects: a silence with nothing heard, a learned allowance."""
    if why.code is not ReasonCode.SILENCE_EXCEEDED:
        return ""
    params = why.params
    heard = params["last_activity"] is not None and params["last_activity"] >= params["since"]
    parts = [] if heard else ["nothing_heard"]
    if params["basis"] == "learned" and params["usual_hour"] is not None:
        parts.append("usual")
    return "_".join(parts)
