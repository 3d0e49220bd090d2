"""The SMS template catalogue: every text the hub sends is a template id plus named parameters.

Domestic providers (Aliyun, Tencent) only send templates an office filed and had approved:
they get the template's code (config `sms.<provider>.templates.<id>`) and the parameters, and
their approved template holds the wording and the sign name. Twilio and the console render
the same template here, from this catalogue, in zh-CN or en, behind the brand `【平安】` /
`Ping'an: ` (for domestic providers the sign name plays that part). docs/DISPATCH.md
"Template catalogue" lists it in the providers' own notations (`${name}` for Aliyun, `{1}`
for Tencent, parameters numbered in the order given here); a test keeps the two in step.

The parameter order below is part of the contract: Tencent's TemplateParamSet is positional.

Voice calls (the fallback of a critical step, hub/dispatch/providers/voice.py) have their own
small catalogue, `VOICE_CATALOGUE`: text-to-speech templates filed with Aliyun Dyvms or
Tencent VMS (config `voice.<provider>.templates.<id>`), spoken without a brand or a link.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

BRAND_ZH = "【平安】"
BRAND_EN = "Ping'an: "

_ALERT_PARAMS = ("name", "address", "code", "link")
_REPLY_ZH = "。回复1前往,2求援。码{code} {link}"
_REPLY_EN = ". Reply 1 go,2 help. Code {code} {link}"


@dataclass(frozen=True, slots=True)
class Template:
    id: str
    params: tuple[str, ...]  # names, in the positional order Tencent numbers them
    zh: str  # wording without the sign name, `{param}` placeholders
    en: str
    purpose: str  # what it is sent for, for the office filing it
    branded: bool = True  # rendered behind the brand (domestic providers always add their sign name)


def _alert(tid: str, what_zh: str, what_en: str, extra: tuple[str, ...] = ()) -> Template:
    return Template(
        tid,
        _ALERT_PARAMS[:2] + extra + _ALERT_PARAMS[2:],
        "{name}({address})" + what_zh + _REPLY_ZH,
        "{name} ({address}) " + what_en + _REPLY_EN,
        "alert to a responder, with its reply instructions, code and responder link",
    )


CATALOGUE: dict[str, Template] = {
    t.id: t
    for t in (
        _alert("sos", "按了SOS求救", "SOS pressed"),
        _alert("fall", "疑似跌倒", "may have fallen"),
        _alert("smoke", "家中烟雾报警", "smoke alarm"),
        _alert("gas", "家中燃气报警", "gas alarm"),
        _alert("inactivity", "{hours}小时无活动", "no activity {hours}h", ("hours",)),
        _alert("geofence_exit", "离开安全区", "left safe zone"),
        _alert("device_offline", "{device}离线", "{device} offline", ("device",)),
        _alert("low_battery", "{device}电量低", "{device} battery low", ("device",)),
        _alert("manual", "被报告需帮助", "reported needing help"),
        Template(
            "resolved",
            ("name", "outcome", "code"),
            "{name}的警报已解除:{outcome}。谢谢。码{code}",
            "{name}: alert over, {outcome}. Thanks. Code {code}",
            "to everyone who was told of an alert, when it is resolved",
        ),
        Template(
            "returned",
            ("name", "code"),
            "{name}已回到安全区。码{code}",
            "{name} is back in a safe zone. Code {code}",
            "to responders when a resident who wandered off is back in a safe zone",
        ),
        Template(
            "digest",
            ("count", "items"),
            "今日低级警报{count}条:{items}。详见看板",
            "Daily: {count} low alerts: {items}. See board.",
            "daily digest of low-severity alerts",
        ),
        Template(
            "reply",
            ("result",),
            "回复结果:{result}",
            "{result}",
            "the confirmation of an SMS reply (`result` is one of the phrases listed below)",
            branded=False,  # an answer to the responder's own text, as short as it can be
        ),
    )
}

#: Text-to-speech templates of the voice fallback: said, not read, so no link and no brand.
VOICE_CATALOGUE: dict[str, Template] = {
    t.id: t
    for t in (
        Template(
            "voice_alert",
            ("name", "event", "address", "code"),
            "平安紧急通知:{name}{event},地址{address},警报码{code}。您前往处理请按1。",
            "Ping'an emergency: {name}, {event}, at {address}, alert code {code}. Press 1 if you are going.",
            "the voice call of an unanswered critical alert; `event` says what happened",
            branded=False,
        ),
        Template(
            "voice_acknowledged",
            ("code",),
            "已确认您前往,警报码{code}。谢谢。",
            "Confirmed: you are going, alert code {code}. Thank you.",
            "said after the callee pressed 1 (Aliyun IvrCall's answer to key 1)",
            branded=False,
        ),
    )
}

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def template(tid: str) -> Template:
    found = CATALOGUE.get(tid) or VOICE_CATALOGUE.get(tid)
    if found is None:
        raise ValueError(f"no template {tid!r}; the catalogue has {', '.join([*CATALOGUE, *VOICE_CATALOGUE])}")
    return found


def render(tid: str, params: Mapping[str, str], lang: str) -> str:
    """The text as a handset shows it: brand + wording with the parameters filled in."""
    t = template(tid)
    missing = [p for p in t.params if p not in params]
    if missing:
        raise ValueError(f"template {tid!r} needs parameters {', '.join(missing)}")
    wording = t.en if lang == "en" else t.zh
    brand = "" if not t.branded else BRAND_EN if lang == "en" else BRAND_ZH
    return (brand + wording.format(**{p: params[p] for p in t.params})).rstrip()


def aliyun_form(text: str) -> str:
    """`{name}` → `${name}`: how the wording is filed with Aliyun."""
    return _PLACEHOLDER.sub(r"${\1}", text)


def tencent_form(t: Template, text: str) -> str:
    """`{name}` → `{1}`: Tencent numbers parameters in the catalogue's order."""
    return _PLACEHOLDER.sub(lambda mt: "{" + str(t.params.index(mt.group(1)) + 1) + "}", text)


def ordered_params(tid: str, params: Mapping[str, str]) -> list[str]:
    """The parameters in catalogue order (Tencent's TemplateParamSet)."""
    return [params[p] for p in template(tid).params]
