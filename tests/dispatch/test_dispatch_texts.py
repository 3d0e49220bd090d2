"""SMS texts fit one segment for every kind and language with the longest realistic names;
replies parse the way people type them on a phone."""

from __future__ import annotations

import pytest
from support.reasons import OPENING

from alerts.actions import Alert, AlertKind, AlertState, Outcome, Severity
from alerts.registry import Point, Resident
from alerts.replies import ReplyCommand, parse_reply
from alerts.texts import Lang, ReplyOutcome, alert_text, digest_text, done_text, reply_text, returned_text, segments

LONG_NAME = "欧阳玉兰奶奶"  # compound surname, given name, honorific
LONG_ADDRESS = "黑龙江省哈尔滨市南岗区宣信街128号12单元1502室"
RESIDENTS = [
    Resident("r1", "李奶奶", "g", "Asia/Shanghai", Point(45.75, 126.64), address="宣信街12号3单元501"),
    Resident("r2", LONG_NAME, "g", "Asia/Shanghai", Point(45.75, 126.64), address=LONG_ADDRESS),
    Resident("r3", "司马玉兰花婆婆", "g", "Asia/Shanghai", Point(45.75, 126.64), address=LONG_ADDRESS + "(东门进)"),
    Resident(
        "r4",
        "Zhang Guilan",
        "g",
        "Asia/Shanghai",
        Point(45.75, 126.64),
        address="128 Xuanxin Street, Unit 12, Flat 1502, Nangang District, Harbin",
    ),
]


def alert(kind: AlertKind, silence_h: float = 12) -> Alert:
    return Alert(
        id="al-1",
        code="A7K2",
        kind=kind,
        severity=Severity.HIGH,
        state=AlertState.OPEN,
        resident="r1",
        device="cat-0001",
        zone="小区周边",
        opened_at=1e9 + silence_h * 3600,
        triggered_at=1e9,
        reason=OPENING[kind],
        outcome=Outcome.CLEARED,
    )


def test_the_product_example_is_reproduced_exactly() -> None:
    text = alert_text(alert(AlertKind.INACTIVITY), RESIDENTS[0], Lang.ZH)
    assert text == "【平安】李奶奶(宣信街12号3单元501)12小时无活动。回复1前往,2求援。码A7K2"
    assert segments(text).single


@pytest.mark.parametrize("kind", list(AlertKind))
@pytest.mark.parametrize("lang", list(Lang))
@pytest.mark.parametrize("resident", RESIDENTS, ids=lambda r: r.id)
def test_alert_texts_fit_one_segment_and_carry_the_code(kind: AlertKind, lang: Lang, resident: Resident) -> None:
    text = alert_text(alert(kind, silence_h=168), resident, lang)
    seg = segments(text)
    assert seg.count == 1, f"{seg}: {text}"
    assert seg.units <= (70 if seg.encoding == "ucs2" else 160)
    assert "A7K2" in text
    assert "1" in text and "2" in text  # the reply instructions survive shortening


def test_a_chinese_text_is_ucs2_and_an_english_one_with_latin_names_is_gsm7() -> None:
    assert segments(alert_text(alert(AlertKind.SOS), RESIDENTS[1], Lang.EN)).encoding == "ucs2"
    assert segments(alert_text(alert(AlertKind.SOS), RESIDENTS[3], Lang.EN)).encoding == "gsm7"
    assert segments("x" * 160).count == 1 and segments("x" * 161).count == 2
    assert segments("中" * 70).count == 1 and segments("中" * 71).count == 2
    assert segments("[" * 80).units == 160  # extension characters take two septets


def test_shortening_keeps_the_end_of_the_address() -> None:
    text = alert_text(alert(AlertKind.SOS), RESIDENTS[2], Lang.ZH)
    assert "1502室" in text or "东门进" in text


def test_a_link_is_appended_whole() -> None:
    link = "https://hub.example.org/r/al-0123456789abcdef_8613800000001_t6d62o.NMPhFfU-QPOfitFI"
    text = alert_text(alert(AlertKind.SOS), RESIDENTS[1], Lang.ZH, link)
    assert text.endswith(" " + link) and "A7K2" in text
    assert segments(text).count == 2


@pytest.mark.parametrize("outcome", list(Outcome))
@pytest.mark.parametrize("lang", list(Lang))
@pytest.mark.parametrize("resident", RESIDENTS, ids=lambda r: r.id)
def test_done_texts_fit_one_segment(outcome: Outcome, lang: Lang, resident: Resident) -> None:
    from dataclasses import replace

    text = done_text(replace(alert(AlertKind.SOS), outcome=outcome), resident, lang)
    assert segments(text).single, text
    assert "A7K2" in text
    assert segments(returned_text(alert(AlertKind.GEOFENCE_EXIT), resident, lang)).single


@pytest.mark.parametrize("outcome", list(ReplyOutcome))
@pytest.mark.parametrize("lang", list(Lang))
def test_reply_confirmations_fit_one_segment(outcome: ReplyOutcome, lang: Lang) -> None:
    text = reply_text(outcome, lang, "A7K2", LONG_NAME, open_count=3)
    assert segments(text).single, text


@pytest.mark.parametrize("lang", list(Lang))
def test_digest_lists_what_fits_and_counts_the_rest(lang: Lang) -> None:
    lines = [(RESIDENTS[i % 3].name, alert(AlertKind.LOW_BATTERY)) for i in range(12)]
    text = digest_text(lines, lang)
    assert segments(text).single, text
    assert "12" in text
    assert "A7K2" in digest_text(lines[:1], lang)


@pytest.mark.parametrize(
    ("text", "command", "code"),
    [
        ("1", ReplyCommand.ACKNOWLEDGE, None),
        ("1 A7K2", ReplyCommand.ACKNOWLEDGE, "A7K2"),
        ("a7k2 1", ReplyCommand.ACKNOWLEDGE, "A7K2"),
        ("1A7K2", ReplyCommand.ACKNOWLEDGE, "A7K2"),
        ("１，Ａ７Ｋ２", ReplyCommand.ACKNOWLEDGE, "A7K2"),  # full-width input method
        ("2", ReplyCommand.BACKUP, None),
        (" 3 ", ReplyCommand.ON_SITE, None),
        ("9 A7K2 谢谢", ReplyCommand.RESOLVE_OK, "A7K2"),
        ("好的 1", ReplyCommand.ACKNOWLEDGE, None),
        ("hello", None, None),
        ("1 2", None, None),  # ambiguous: do nothing
        ("12", None, None),
        ("5", None, None),
        ("", None, None),
    ],
)
def test_parse_reply(text: str, command: ReplyCommand | None, code: str | None) -> None:
    parsed = parse_reply(text)
    assert (parsed.command, parsed.code) == (command, code)
    assert parsed.reason
