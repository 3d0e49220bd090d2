"""Every text is a template of the catalogue plus parameters; with its short responder link an
alert text is one segment in Chinese and at most two in English, for long names and addresses;
the catalogue in docs/DISPATCH.md is the one in the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.reasons import OPENING

from alerts.actions import Alert, AlertKind, AlertState, Outcome, Severity
from alerts.registry import Point, Resident
from alerts.templates import CATALOGUE, aliyun_form, render, tencent_form
from alerts.texts import (
    KIND_TEMPLATE,
    Lang,
    ReplyOutcome,
    alert_message,
    digest_message,
    done_message,
    reply_message,
    returned_message,
    segments,
)
from hub.dispatch.links import SHORT_CODE_LEN, is_short_code, new_short_code, short_url

DOCS = Path(__file__).resolve().parents[2] / "docs" / "DISPATCH.md"
LONG_ADDRESS = "黑龙江省哈尔滨市南岗区宣信街128号12单元1502室(东门进)"
RESIDENTS = [
    Resident("r1", "李奶奶", "g", "Asia/Shanghai", Point(45.75, 126.64), address="宣信街12号3单元501"),
    Resident("r2", "欧阳玉兰奶奶", "g", "Asia/Shanghai", Point(45.75, 126.64), address=LONG_ADDRESS),
    Resident("r3", "司马玉兰花婆婆老人家", "g", "Asia/Shanghai", Point(45.75, 126.64), address=LONG_ADDRESS * 2),
    Resident(
        "r4",
        "Zhang Guilan-Ouyang Xiaohua",
        "g",
        "Asia/Shanghai",
        Point(45.75, 126.64),
        address="128 Xuanxin Street, Unit 12, Flat 1502, Nangang District, Harbin, Heilongjiang",
    ),
]
#: A realistic public address: a city's hub under a government domain.
LINKS = [
    short_url("https://hub.example.org", "Ab3xK9"),
    short_url("https://pingan.nangang.gov.cn", "Ab3xK9"),
]


def alert(kind: AlertKind, silence_h: float = 168) -> Alert:
    return Alert(
        id="al-1",
        code="A7K2",
        kind=kind,
        severity=Severity.HIGH,
        state=AlertState.OPEN,
        resident="r1",
        device="cat-0001",
        zone=None,
        opened_at=1e9 + silence_h * 3600,
        triggered_at=1e9,
        reason=OPENING[kind],
        outcome=Outcome.HOSPITAL,
    )


@pytest.mark.parametrize("link", LINKS)
@pytest.mark.parametrize("kind", list(AlertKind))
@pytest.mark.parametrize("resident", RESIDENTS, ids=lambda r: r.id)
def test_every_alert_template_fits_one_segment_in_chinese_and_two_in_english_with_its_link(
    kind: AlertKind, resident: Resident, link: str
) -> None:
    zh = alert_message(alert(kind), resident, Lang.ZH, link)
    en = alert_message(alert(kind), resident, Lang.EN, link)
    assert segments(zh.body).count == 1, f"{segments(zh.body)}: {zh.body}"
    assert segments(en.body).count <= 2, f"{segments(en.body)}: {en.body}"
    for message in (zh, en):
        assert message.template == KIND_TEMPLATE[kind]
        assert message.body.endswith(" " + link)  # the link whole, last
        assert message.params["link"] == link and message.params["code"] == "A7K2"
        assert "A7K2" in message.body and "1" in message.body and "2" in message.body
        assert message.body == render(message.template, message.params, message.lang)
        assert message.params["name"][:1] == resident.name[:1]  # a shortened name keeps its start


def test_the_address_is_shortened_from_the_front_then_the_name() -> None:
    msg = alert_message(alert(AlertKind.SOS), RESIDENTS[1], Lang.ZH, LINKS[1])
    address, name = msg.params["address"], msg.params["name"]
    # The remark in brackets goes first, then the front: the flat survives.
    assert address == "…1502室", msg.body
    assert name == "欧阳玉…"  # then the name, from the end, keeping the part people know
    roomy = alert_message(alert(AlertKind.SOS), RESIDENTS[1], Lang.ZH, LINKS[0])
    assert (roomy.params["name"], roomy.params["address"]) == ("欧阳玉兰奶奶", "…12单元1502室")
    short = alert_message(alert(AlertKind.SOS), RESIDENTS[0], Lang.ZH)
    assert short.params["address"] == RESIDENTS[0].address  # nothing cut without need


def test_the_product_example_keeps_its_whole_address_with_a_short_link() -> None:
    msg = alert_message(alert(AlertKind.INACTIVITY, silence_h=12), RESIDENTS[0], Lang.ZH, LINKS[0])
    assert msg.body == "【平安】李奶奶(宣信街12号3单元501)12小时无活动。回复1前往,2求援。码A7K2 hub.example.org/s/Ab3xK9"
    assert segments(msg.body).units == 69


def test_without_a_link_the_product_example_is_unchanged() -> None:
    msg = alert_message(alert(AlertKind.INACTIVITY, silence_h=12), RESIDENTS[0], Lang.ZH)
    assert msg.body == "【平安】李奶奶(宣信街12号3单元501)12小时无活动。回复1前往,2求援。码A7K2"
    assert (msg.template, msg.params["hours"]) == ("inactivity", "12")


@pytest.mark.parametrize("lang", list(Lang))
@pytest.mark.parametrize("resident", RESIDENTS, ids=lambda r: r.id)
def test_the_other_templates_fit_one_segment(lang: Lang, resident: Resident) -> None:
    lines = [(resident.name, alert(kind)) for kind in (AlertKind.LOW_BATTERY, AlertKind.DEVICE_OFFLINE)] * 4
    messages = [
        done_message(alert(AlertKind.SOS), resident, lang),
        returned_message(alert(AlertKind.GEOFENCE_EXIT), resident, lang),
        digest_message(lines, lang),
        *(reply_message(o, lang, "A7K2", resident.name, open_count=3) for o in ReplyOutcome),
    ]
    for message in messages:
        assert segments(message.body).single, message.body
        assert message.body == render(message.template, message.params, message.lang)
        assert set(message.params) == set(CATALOGUE[message.template].params)


def test_every_template_id_is_used_and_every_placeholder_is_a_parameter() -> None:
    used = set(KIND_TEMPLATE.values()) | {"resolved", "returned", "digest", "reply"}
    assert used == set(CATALOGUE)
    for t in CATALOGUE.values():
        for wording in (t.zh, t.en):
            assert set(re.findall(r"\{(\w+)\}", wording)) == set(t.params), t.id


def test_docs_list_the_catalogue_as_filed_with_aliyun_and_tencent() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    section = docs[docs.index("## Template catalogue") :]
    for t in CATALOGUE.values():
        assert f"`{t.id}`" in section, t.id
        assert aliyun_form(t.zh) in section, t.id
        assert tencent_form(t, t.zh) in section, t.id
        assert ", ".join(t.params) in section, t.id


def test_short_codes_are_random_and_checked() -> None:
    codes = {new_short_code() for _ in range(200)}
    assert len(codes) == 200 and all(is_short_code(c) and len(c) == SHORT_CODE_LEN for c in codes)
    assert not is_short_code("abc") and not is_short_code("abc/..") and not is_short_code("a" * 7)
    assert short_url("https://hub.example.org/", "Ab3xK9") == "hub.example.org/s/Ab3xK9"
    assert short_url("http://127.0.0.1:8000", "Ab3xK9") == "http://127.0.0.1:8000/s/Ab3xK9"
