"""SMS texts: alert, done, reply confirmations and digest, in zh-CN (default) and en.

Owns the parameters of each template (alerts/templates.py holds the wording) and the SMS
length rules: a text should fit one segment (70 UCS-2 units when any character is outside
GSM-7, as every Chinese text is; 160 GSM-7 septets otherwise), always carries the alert code,
and shortens the address parameter (from the front: the street and flat matter to someone
nearby, the city does not), then the name, before it would spill into a second segment. An
alert text with its short responder link (`{public_url}/s/xxxxxx`) is one segment in Chinese
and at most two in English. Does not decide who gets a text (alerts/escalation.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from alerts.actions import Alert, AlertKind, Outcome
from alerts.reasons import ReasonCode, device_words, still_offline
from alerts.registry import Resident
from alerts.templates import render

ELLIPSIS = "…"

# GSM 03.38 basic set and the extension table (extension characters take two septets).
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")


class Lang(StrEnum):
    ZH = "zh"
    EN = "en"


def lang_of(value: str | None) -> Lang:
    """Recipient language; anything unknown falls back to Chinese, the product default."""
    return Lang.EN if value and value.lower().startswith("en") else Lang.ZH


@dataclass(frozen=True, slots=True)
class Segments:
    encoding: str  # "gsm7" or "ucs2"
    units: int  # septets (gsm7) or UTF-16 code units (ucs2)
    count: int  # SMS segments the text needs

    @property
    def single(self) -> bool:
        return self.count == 1


def segments(text: str) -> Segments:
    if all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text):
        units = sum(2 if c in GSM7_EXTENDED else 1 for c in text)
        return Segments("gsm7", units, 1 if units <= 160 else -(-units // 153))
    units = len(text.encode("utf-16-le")) // 2
    return Segments("ucs2", units, 1 if units <= 70 else -(-units // 67))


def single_segment_limit(text: str) -> int:
    return 160 if segments(text).encoding == "gsm7" else 70


# --- what happened, per kind ---------------------------------------------------------------

_KIND_ZH = {
    AlertKind.SOS: "按了SOS求救",
    AlertKind.FALL: "疑似跌倒",
    AlertKind.SMOKE: "家中烟雾报警",
    AlertKind.GAS: "家中燃气报警",
    AlertKind.DEVICE_OFFLINE: "设备离线",
    AlertKind.GEOFENCE_EXIT: "离开安全区",
    AlertKind.LOW_BATTERY: "设备电量低",
    AlertKind.MANUAL: "被报告需帮助",
}
_KIND_EN = {
    AlertKind.SOS: "SOS pressed",
    AlertKind.FALL: "may have fallen",
    AlertKind.SMOKE: "smoke alarm",
    AlertKind.GAS: "gas alarm",
    AlertKind.DEVICE_OFFLINE: "device offline",
    AlertKind.GEOFENCE_EXIT: "left safe zone",
    AlertKind.LOW_BATTERY: "battery low",
    AlertKind.MANUAL: "reported needing help",
}

_OUTCOME_ZH = {
    Outcome.OK: "已处理",
    Outcome.ASSISTED: "已协助",
    Outcome.HOSPITAL: "已送医",
    Outcome.FALSE_ALARM: "误报",
    Outcome.CLEARED: "已恢复活动",
    Outcome.RETURNED: "已回到安全区",
    Outcome.CANCELLED: "本人已取消求救",
}
_OUTCOME_EN = {
    Outcome.OK: "handled",
    Outcome.ASSISTED: "assisted",
    Outcome.HOSPITAL: "taken to hospital",
    Outcome.FALSE_ALARM: "false alarm",
    Outcome.CLEARED: "activity resumed",
    Outcome.RETURNED: "back in safe zone",
    Outcome.CANCELLED: "SOS cancelled",
}


def what_happened(alert: Alert, lang: Lang) -> str:
    if alert.kind is AlertKind.INACTIVITY:
        hours = int((alert.opened_at - alert.triggered_at) // 3600)
        if lang is Lang.EN:
            return f"no activity {hours}h" if hours >= 1 else "no activity"
        return f"{hours}小时无活动" if hours >= 1 else "长时间无活动"
    if alert.kind is AlertKind.DEVICE_OFFLINE:
        return f"{reason_device(alert, lang)} offline" if lang is Lang.EN else f"{reason_device(alert, lang)}离线"
    if alert.kind is AlertKind.GEOFENCE_EXIT and alert.reason.code == ReasonCode.LEFT_HOME_AT_NIGHT:  # the door saw her go (geofence.night_exit)
        return "went out at night, not back" if lang is Lang.EN else "夜间出门未归"
    return (_KIND_EN if lang is Lang.EN else _KIND_ZH)[alert.kind]


def outcome_text(outcome: Outcome | None, lang: Lang) -> str:
    if outcome is None:
        return "resolved" if lang is Lang.EN else "已解除"
    return (_OUTCOME_EN if lang is Lang.EN else _OUTCOME_ZH)[outcome]


# --- fitting -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rendered:
    """A text as the outbox stores it: template id and parameters, and the local rendering."""

    template: str
    params: dict[str, str]
    body: str
    lang: str = "zh"


def _message(tid: str, params: dict[str, str], lang: Lang) -> Rendered:
    return Rendered(tid, params, render(tid, params, lang.value), lang.value)


def _fit(tid: str, params: dict[str, str], lang: Lang, max_segments: int) -> Rendered:
    """Shorten the parameters, never the wording, until the text fits, in this order:
    a remark in brackets at the end of the address (`(东门进)`); the address from the front
    (the street and flat matter to someone nearby, the city does not) down to 8 characters;
    the name from the end down to 4 (`欧阳玉兰奶奶` → `欧阳玉…`); the address down to 4; the
    name down to 2.

    The responder link opens the full name and address, so what is cut here is not lost.
    """

    def fits(p: dict[str, str]) -> bool:
        return segments(render(tid, p, lang.value)).count <= max_segments

    params = dict(params)
    if not fits(params) and "address" in params:
        params["address"] = _REMARK.sub("", params["address"]) or params["address"]
    for key, floor in (("address", 8), ("name", 4), ("address", 4), ("name", 2)):
        while not fits(params) and len(params.get(key, "")) > floor:
            params[key] = _cut_address(params[key]) if key == "address" else _cut_name(params[key])
    return _message(tid, params, lang)


_REMARK = re.compile(r"\s*[(（][^()（）]*[)）]$")


def _cut_address(address: str) -> str:
    return ELLIPSIS + address.lstrip(ELLIPSIS)[1:]


def _cut_name(name: str) -> str:
    return name.rstrip(ELLIPSIS)[:-1] + ELLIPSIS


# --- texts ---------------------------------------------------------------------------------

#: The template of each alert kind (alerts/templates.py).
KIND_TEMPLATE = {
    AlertKind.SOS: "sos",
    AlertKind.FALL: "fall",
    AlertKind.SMOKE: "smoke",
    AlertKind.GAS: "gas",
    AlertKind.INACTIVITY: "inactivity",
    AlertKind.GEOFENCE_EXIT: "geofence_exit",
    AlertKind.DEVICE_OFFLINE: "device_offline",
    AlertKind.LOW_BATTERY: "low_battery",
    AlertKind.MANUAL: "manual",
}


def alert_message(alert: Alert, resident: Resident, lang: Lang, link: str | None = None) -> Rendered:
    """One segment in Chinese with its short link (70 UCS-2 units), two in English."""
    params = {"name": resident.name, "address": resident.address or "-", "code": alert.code, "link": link or ""}
    if alert.kind is AlertKind.INACTIVITY:
        # Inactivity alerts open after hours of silence; under an hour still reads "1".
        params["hours"] = str(max(1, int((alert.opened_at - alert.triggered_at) // 3600)))
    if alert.kind in (AlertKind.DEVICE_OFFLINE, AlertKind.LOW_BATTERY):
        params["device"] = reason_device(alert, lang)
    max_segments = 2 if lang is Lang.EN and link else 1
    return _fit(KIND_TEMPLATE[alert.kind], params, lang, max_segments)


def reason_device(alert: Alert, lang: Lang) -> str:
    """The device the alert's reason names, in words ("平安猫"); for an offline alert every kind
    of device it leaves offline ("平安猫、门磁"); "设备" / "device" for an alert stored before
    reason codes (its reason is a sentence)."""
    devices = still_offline((alert.reason, *alert.notes)) if alert.kind is AlertKind.DEVICE_OFFLINE else []
    device = alert.reason.params.get("device")
    if not devices and isinstance(device, dict):
        devices = [device]
    if not devices:
        return "device" if lang is Lang.EN else "设备"
    words = dict.fromkeys(device_words(d["kind"], lang.value) for d in devices)  # each kind once, in order
    return (", " if lang is Lang.EN else "、").join(words)


def alert_text(alert: Alert, resident: Resident, lang: Lang, link: str | None = None) -> str:
    return alert_message(alert, resident, lang, link).body


def voice_message(alert: Alert, resident: Resident, lang: Lang) -> Rendered:
    """The voice call of an alert (template `voice_alert`): said whole, nothing shortened."""
    params = {"name": resident.name, "event": what_happened(alert, lang), "address": resident.address or "-",
              "code": alert.code}
    return _message("voice_alert", params, lang)


def done_message(alert: Alert, resident: Resident, lang: Lang) -> Rendered:
    params = {"name": _short(resident.name), "outcome": outcome_text(alert.outcome, lang), "code": alert.code}
    return _message("resolved", params, lang)


def done_text(alert: Alert, resident: Resident, lang: Lang) -> str:
    return done_message(alert, resident, lang).body


def returned_message(alert: Alert, resident: Resident, lang: Lang) -> Rendered:
    """Told to responders when a wanderer is back in a safe zone but the alert stays open (acknowledged)."""
    return _message("returned", {"name": _short(resident.name), "code": alert.code}, lang)


def returned_text(alert: Alert, resident: Resident, lang: Lang) -> str:
    return returned_message(alert, resident, lang).body


def digest_message(lines: Sequence[tuple[str, Alert]], lang: Lang) -> Rendered:
    """A daily digest of low-severity alerts: (resident name, alert) pairs, oldest first.

    Fits one segment by listing as many as fit and counting the rest.
    """
    total = len(lines)
    items = [f"{_short(name)}{what_happened(alert, lang)}{alert.code}" for name, alert in lines]
    for shown in range(len(items), -1, -1):
        rest = total - shown
        if lang is Lang.EN:
            listed = "; ".join(items[:shown]) + (f" +{rest} more" if rest else "")
        else:
            listed = ";".join(items[:shown]) + (f"等{total}条" if rest else "")
        message = _message("digest", {"count": str(total), "items": listed}, lang)
        if segments(message.body).single or shown == 0:
            return message
    raise AssertionError("unreachable")


def digest_text(lines: Sequence[tuple[str, Alert]], lang: Lang) -> str:
    return digest_message(lines, lang).body


class ReplyOutcome(StrEnum):
    ACKNOWLEDGED = "acknowledged"
    BACKUP = "backup"
    ON_SITE = "on_site"
    RESOLVED = "resolved"
    NOT_ALLOWED = "not_allowed"  # the alert is not in a state that allows this
    UNKNOWN_CODE = "unknown_code"
    NO_OPEN_ALERT = "no_open_alert"
    NOT_UNDERSTOOD = "not_understood"
    CODE_NEEDED = "code_needed"  # "9" without a code for an alert the replier did not take on


def reply_message(
    outcome: ReplyOutcome, lang: Lang, code: str = "", resident_name: str = "", open_count: int = 1
) -> Rendered:
    """The confirmation of an SMS reply (template `reply`, its `result` one of the phrases below)."""
    return _message("reply", {"result": reply_result(outcome, lang, code, resident_name, open_count)}, lang)


def reply_text(outcome: ReplyOutcome, lang: Lang, code: str = "", resident_name: str = "", open_count: int = 1) -> str:
    return reply_message(outcome, lang, code, resident_name, open_count).body


def reply_result(outcome: ReplyOutcome, lang: Lang, code: str = "", resident_name: str = "", open_count: int = 1) -> str:
    """What a reply did, in a phrase. `open_count` > 1 says which alert was meant."""
    which = ""
    if open_count > 1:
        which = (
            f" (newest of {open_count}, add code)" if lang is Lang.EN else f"(您有{open_count}条,此为最新,可加码指定)"
        )
    who = _short(resident_name)
    if lang is Lang.EN:
        texts = {
            ReplyOutcome.ACKNOWLEDGED: f"Going to {who}: {code}{which}. 3 arrived, 9 done.",
            ReplyOutcome.BACKUP: f"Backup asked for {who}: {code}{which}.",
            ReplyOutcome.ON_SITE: f"On site at {who}: {code}{which}. 9 done.",
            ReplyOutcome.RESOLVED: f"Closed {code} for {who}{which}. Thanks.",
            ReplyOutcome.NOT_ALLOWED: f"{code} can't take that reply now{which}.",
            ReplyOutcome.UNKNOWN_CODE: f"No open alert with code {code} for you.",
            ReplyOutcome.NO_OPEN_ALERT: "You have no open alert.",
            ReplyOutcome.NOT_UNDERSTOOD: "Not understood. Reply 1 going, 2 backup, 3 arrived, 9 done, e.g. '1 A7K2'.",
            ReplyOutcome.CODE_NEEDED: f"To close an alert, reply 9 with its code, e.g. '9 {code}'.",
        }
        return texts[outcome]
    texts = {
        ReplyOutcome.ACKNOWLEDGED: f"已确认您前往{who}处,码{code}{which}。到达回复3,解决回复9。",
        ReplyOutcome.BACKUP: f"已为{who}求援,正在通知下一组,码{code}{which}。",
        ReplyOutcome.ON_SITE: f"已记录到达{who}处,码{code}{which}。解决后回复9。",
        ReplyOutcome.RESOLVED: f"{who}的警报{code}已结束{which}。谢谢。",
        ReplyOutcome.NOT_ALLOWED: f"警报{code}当前不能执行此操作{which}。",
        ReplyOutcome.UNKNOWN_CODE: f"没有发给您的未结警报{code}。",
        ReplyOutcome.NO_OPEN_ALERT: "您没有未结警报。",
        ReplyOutcome.NOT_UNDERSTOOD: "未识别。回复1前往,2求援,3到达,9解决,可加码如:1 A7K2",
        ReplyOutcome.CODE_NEEDED: f"结束警报请回复9加警报码,如:9 {code}",
    }
    return texts[outcome]


def _short(name: str, limit: int = 6) -> str:
    return name if len(name) <= limit else name[: limit - 1] + ELLIPSIS
