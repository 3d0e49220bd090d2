"""Reason codes (alerts/reasons.py): every code is worded in zh-CN and en from realistic values,
devices by kind (never by id), bad values are refused, and explanations survive storage."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.reasons import CAT, DOOR, GAS, SAMPLES, T0, TAG

from alerts.actions import Alert, AlertKind, AlertState, Severity
from alerts.reasons import CATALOGUE, Explanation, ParamType, ReasonCode, device_ref, device_words, explain, legacy
from alerts.registry import Point, Resident
from alerts.texts import Lang, alert_message, digest_message, segments, what_happened
from dashboards.i18n import translator
from dashboards.reasons import ReasonWords

TZ = "Asia/Shanghai"


def words(lang: str, now: float | None = T0) -> ReasonWords:
    return ReasonWords(translator(lang), lang, TZ, now)


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
@pytest.mark.parametrize("code", list(ReasonCode))
def test_every_code_is_worded_with_its_values(code: ReasonCode, lang: str) -> None:
    why = SAMPLES[code]
    text = words(lang).text(why)
    assert text and "{" not in text and not text.startswith(code.value + "(")  # a catalogue sentence, all filled in
    assert not re.search(r"\b(cat|door|tag|gas|smoke)-\d{4}\b", text), text  # devices by kind, never by id
    for p in CATALOGUE[code]:
        value = why.params[p.name]
        if p.type is ParamType.DEVICE:
            assert device_words(value["kind"], lang) in text
        if value is not None and p.type in (ParamType.COUNT, ParamType.PERCENT, ParamType.METRES):
            assert str(value) in text
    if code is not ReasonCode.LEGACY_TEXT:
        other = words("en" if lang == "zh-CN" else "zh-CN").text(why)
        assert text != other
        chinese = bool(re.search(r"[\u4e00-\u9fff]", text))
        names = any(p.type is ParamType.TEXT for p in CATALOGUE[code])  # a zone's name is as the registry holds it
        assert chinese if lang == "zh-CN" else (names or not chinese)


def test_the_silence_says_since_when_what_saw_it_how_long_and_why() -> None:
    why = SAMPLES[ReasonCode.SILENCE_EXCEEDED]
    assert words("zh-CN").text(why) == "04:00起无活动（最后由平安猫检测到）；允许静默6小时，白天固定阈值；依据：平安猫、门磁、定位器"
    assert words("en").text(why) == (
        "no activity since 04:00 (last seen by the Ping'an Cat); 6 h of silence allowed, fixed day threshold; "
        "judged on Ping'an Cat, door sensor, GPS tag")


def test_the_silence_variants_nothing_heard_and_learned() -> None:
    learned = explain(ReasonCode.SILENCE_EXCEEDED, since=T0 - 3 * 3600, last_activity=T0 - 3 * 3600, last_device=DOOR,
                      devices=[CAT, DOOR], threshold_s=3 * 3600, basis="learned", usual_hour=8, usual_days=13, history_days=14)
    assert words("zh-CN").text(learned) == (
        "07:00起无活动（最后由门磁检测到）；平时8点有活动（14天中13天），允许静默3小时，按作息学习；依据：平安猫、门磁")
    assert "usually active in the 8:00 hour (13 of 14 days), 3 h of silence allowed, learned" in words("en").text(learned)
    never = explain(ReasonCode.SILENCE_EXCEEDED, since=T0 - 12 * 3600, last_activity=None, last_device=None, devices=[CAT],
                    threshold_s=12 * 3600, basis="night")
    assert words("zh-CN").text(never) == "22:00起未收到任何活动；允许静默12小时，夜间固定阈值；依据：平安猫"
    assert words("en").text(never).startswith("nothing heard since 22:00; 12 h of silence allowed, fixed night threshold")


def test_an_alert_reads_as_its_reason_then_its_notes() -> None:
    alert = _alert(SAMPLES[ReasonCode.LEFT_SAFE_ZONES], (SAMPLES[ReasonCode.HOME_MOTION_WHILE_TAG_AWAY], SAMPLES[ReasonCode.RETURNED_TO_ZONE]))
    assert words("zh-CN").alert(alert) == (
        "定位器在安全区外420米（精度12米，连续2次定位），最后所在：小区周边；09:55家中有活动：请核实定位器；已回到小区周边")
    home = explain(ReasonCode.RETURNED_TO_ZONE, zone=None)
    assert words("en").text(home) == "back inside home" and words("zh-CN").text(home) == "已回到家中"


def test_a_time_more_than_a_day_away_carries_its_date() -> None:
    absence = SAMPLES[ReasonCode.ABSENCE_RECORDED]  # back in three days
    assert words("zh-CN").text(absence) == "已登记外出，预计12-08 10:00返回"
    assert words("zh-CN", now=T0 + 3 * 86400).text(absence) == "已登记外出，预计10:00返回"


def test_device_words_name_the_kind_and_the_residents_place() -> None:
    assert device_words("pingan_cat", "zh") == "平安猫" and device_words("pingan_cat", "en") == "Ping'an Cat"
    assert device_words("door_sensor", "zh-CN", "前门") == "前门门磁"
    assert device_words("door_sensor", "en", "front door") == "door sensor (front door)"
    door_only = SAMPLES[ReasonCode.DOOR_ONLY_ACTIVITY]
    placed = ReasonWords(translator("zh-CN"), "zh-CN", TZ, T0, places={"door-0001": "前门"})
    assert placed.text(door_only) == "10:20前门门磁有动静，此后家中无活动"


@pytest.mark.parametrize(
    ("code", "params", "problem"),
    [
        (ReasonCode.BATTERY_LOW, {"device": TAG}, "level is required"),
        (ReasonCode.BATTERY_LOW, {"device": TAG, "level": 18, "volts": 3}, "unknown parameter(s) volts"),
        (ReasonCode.BATTERY_LOW, {"device": TAG, "level": "18"}, "level is not a percent"),
        (ReasonCode.SOS_PRESSED, {"device": "tag-0001"}, "device is not a device"),
        (ReasonCode.SOS_PRESSED, {"device": {"id": "x-1", "kind": "toaster"}}, "device is not a device"),
        (ReasonCode.AWAY_TOO_LONG, {"since": T0, "by": "wifi", "limit_s": 86400}, "by is not a choice"),
    ],
)
def test_bad_values_are_refused_naming_the_code_and_parameter(code: ReasonCode, params: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"reason {code.value}: ") + ".*" + re.escape(problem)):
        explain(code, **params)


@pytest.mark.parametrize("code", list(ReasonCode))
def test_an_explanation_survives_storage(code: ReasonCode) -> None:
    why = SAMPLES[code]
    assert Explanation.from_dict(why.to_dict()) == why
    assert hash(Explanation.from_dict(why.to_dict())) == hash(why)


def test_an_alert_survives_the_engine_snapshot_and_an_old_snapshot_reads_as_legacy() -> None:
    alert = _alert(SAMPLES[ReasonCode.SOS_PRESSED], (SAMPLES[ReasonCode.DELIVERED_LATE],))
    assert Alert.from_dict(alert.to_dict()) == alert
    old = alert.to_dict() | {"reason": "SOS button pressed on tag-0001"}
    del old["notes"]
    restored = Alert.from_dict(old)
    assert restored.reason == legacy("SOS button pressed on tag-0001") and restored.notes == ()
    assert words("zh-CN").alert(restored) == "SOS button pressed on tag-0001"


def test_a_stored_silence_of_a_removed_basis_reads_as_the_night() -> None:
    """learned_day.own_night (removed) stored the basis `own_night` with her usual bedtime and
    wake-up: such an alert, in the database or the engine snapshot, still reads and is worded."""
    night = SAMPLES[ReasonCode.SILENCE_EXCEEDED].to_dict()
    night["params"] |= {"basis": "night", "threshold_s": 12 * 3600}
    stored = {"code": night["code"], "params": night["params"] | {"basis": "own_night", "usual_bed": T0 - 3600, "usual_wake": T0 + 7200}}
    assert Explanation.from_dict(stored) == Explanation.from_dict(night)
    assert "12 h of silence allowed, fixed night threshold" in words("en").text(Explanation.from_dict(stored))
    with pytest.raises(ValueError, match="parameter basis"):  # a rule may not write it any more
        explain(ReasonCode.SILENCE_EXCEEDED, **night["params"] | {"basis": "own_night"})


def test_a_diagnostic_line_names_devices_by_id() -> None:
    assert str(SAMPLES[ReasonCode.HEARTBEATS_MISSED]) == f"heartbeats_missed device=gas-0001 missed=3 last_seen={T0 - 900:.0f}"


@pytest.mark.parametrize(("kind", "words_zh", "words_en"), [(AlertKind.DEVICE_OFFLINE, "燃气报警器离线", "gas alarm offline"),
                                                           (AlertKind.LOW_BATTERY, "燃气报警器电量低", "gas alarm battery low")])
def test_the_sms_names_the_device_of_the_reason_by_kind(kind: AlertKind, words_zh: str, words_en: str) -> None:
    why = SAMPLES[ReasonCode.HEARTBEATS_MISSED if kind is AlertKind.DEVICE_OFFLINE else ReasonCode.BATTERY_LOW]
    assert why.params["device"] == GAS
    resident = Resident("r1", "欧阳玉兰奶奶", "g1", TZ, Point(45.75, 126.64), "黑龙江省哈尔滨市南岗区宣信街128号12单元1502室")
    zh = alert_message(_alert(why, kind=kind), resident, Lang.ZH, "https://hub.example.org/s/Ab3xK9")
    assert words_zh in zh.body and segments(zh.body).units <= 70
    assert words_en in alert_message(_alert(why, kind=kind), resident, Lang.EN).body
    legacy_row = alert_message(_alert(legacy("tag tag-0001 battery at 18 %"), kind=kind), resident, Lang.ZH)
    assert "设备" in legacy_row.body  # a row from before the catalogue names no device


def test_an_offline_alert_names_every_kind_of_device_it_leaves_offline() -> None:
    """One alert a resident (a power cut silences the unit and the door sensor): its SMS and digest
    line name what is still offline, from its reason and notes in order."""
    cat_off = explain(ReasonCode.HEARTBEATS_MISSED, device=CAT, missed=3)
    door_off = explain(ReasonCode.LAST_WILL, device=DOOR)
    second_door = explain(ReasonCode.LAST_WILL, device=device_ref("door-0002", "door_sensor"))
    heard = explain(ReasonCode.DEVICE_HEARD, device=CAT)
    resident = Resident("r1", "王阿姨", "g1", TZ, Point(45.75, 126.64), "宣信街128号")
    cases = [((), "平安猫离线", "Ping'an Cat offline"),
             ((door_off,), "平安猫、门磁离线", "Ping'an Cat, door sensor offline"),
             ((door_off, second_door), "平安猫、门磁离线", "Ping'an Cat, door sensor offline"),
             ((door_off, heard), "门磁离线", "door sensor offline"),
             ((door_off, heard, explain(ReasonCode.DEVICE_REMOVED, device=DOOR)), "平安猫离线", "Ping'an Cat offline")]
    for notes, zh, en in cases:
        alert = _alert(cat_off, notes, kind=AlertKind.DEVICE_OFFLINE)
        assert zh in alert_message(alert, resident, Lang.ZH).body, notes
        assert en in alert_message(alert, resident, Lang.EN).body, notes
        assert f"王阿姨{zh}" in digest_message([("王阿姨", alert)], Lang.ZH).body, notes


def test_a_night_exit_says_she_went_out_at_night_not_that_her_tag_left() -> None:
    """geofence.night_exit: the door saw her go (her tag may be on the table at home). The digest
    line says so; the SMS is the kind's registered template (mainland templates are approved one
    by one), and the board words the reason."""
    resident = Resident("r1", "王阿姨", "g1", TZ, Point(45.75, 126.64), "宣信街128号")
    night = _alert(explain(ReasonCode.LEFT_HOME_AT_NIGHT, at=T0 - 1200))
    tag = _alert(explain(ReasonCode.LEFT_SAFE_ZONES, device=TAG, outside_m=420, accuracy_m=12, fixes=2, zone=None))
    assert "王阿姨夜间出门未归A7K2" in digest_message([("王阿姨", night)], Lang.ZH).body
    assert what_happened(night, Lang.EN) == "went out at night, not back"
    assert "王阿姨离开安全区A7K2" in digest_message([("王阿姨", tag)], Lang.ZH).body
    assert "王阿姨(宣信街128号)离开安全区" in alert_message(night, resident, Lang.ZH).body


def _alert(reason: Explanation, notes: tuple[Explanation, ...] = (), kind: AlertKind = AlertKind.GEOFENCE_EXIT) -> Alert:
    return Alert(id="al-1", code="A7K2", kind=kind, severity=Severity.HIGH, state=AlertState.OPEN, resident="r1",
                 device="tag-0001", zone=None, opened_at=T0, triggered_at=T0, reason=reason, notes=notes)


def test_docs_list_every_code() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "RULES.md").read_text(encoding="utf-8")
    section = docs[docs.index("## Reason codes") : docs.index("## Rules")]
    for code, params in CATALOGUE.items():
        row = next((line for line in section.splitlines() if line.startswith(f"| `{code.value}` |")), None)
        assert row is not None, code
        assert all(f"`{p.name}`" in row for p in params), code
