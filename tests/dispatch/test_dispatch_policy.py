"""Pure escalation decisions: role resolution, step plans with reasons, digests, the
home unit's alert_ack command, signed responder links."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from alerts.actions import AlertKind, Severity
from alerts.config import Role
from alerts.directory import Directory, Responder
from alerts.escalation import (
    SkipReason,
    StepReason,
    ack_command_for,
    next_digest_at,
    next_step_index,
    plan_step,
    replacement_for,
)
from alerts.registry import Contact, Device, Point, RegistrySnapshot, Resident
from devices.kinds import DeviceKind
from hub.dispatch.links import sign_responder_link, verify_responder_link

from .conftest import DEG_PER_M, HOME, PHONES, T0, make_alert, policy

RESIDENT = Resident(
    "r-0001",
    "李奶奶",
    "g01",
    "Asia/Shanghai",
    Point(*HOME),
    address="宣信街12号3单元501",
    contacts=(Contact("李明", PHONES["son"], "son"),),
)


def at(north_m: float) -> Point:
    return Point(HOME[0] + north_m * DEG_PER_M, HOME[1])


DIRECTORY = Directory(
    (
        Responder("wang", "王网格员", PHONES["wang"], Role.GRID_WORKER, ("g01",), at(100)),
        Responder("other-worker", "钱网格员", PHONES["other-worker"], Role.GRID_WORKER, ("g02",), at(50)),
        Responder("zhao", "赵组长", PHONES["zhao"], Role.GRID_LEADER, ("g01",), at(300)),
        Responder("v4", "志愿者四", PHONES["v4"], Role.VOLUNTEERS, (), at(1200)),
        Responder("v3", "志愿者三", PHONES["v3"], Role.VOLUNTEERS, (), at(800)),
        Responder("v2", "志愿者二", PHONES["v2"], Role.VOLUNTEERS, (), at(500)),
        Responder("v1", "志愿者一", PHONES["v1"], Role.VOLUNTEERS, (), at(200)),
        Responder("v-away", "志愿者休", PHONES["v-away"], Role.VOLUNTEERS, (), at(20), available=False),
        Responder("v-far", "志愿者远", PHONES["v-far"], Role.VOLUNTEERS, (), at(5000)),
        Responder("v-nohome", "志愿者无", "+8613700000009", Role.VOLUNTEERS, (), None),
        Responder("op", "值班员", PHONES["op"], Role.OPERATOR),
    )
)


def keys(plan) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.key for r in plan.recipients]


def test_critical_timeline_of_plans() -> None:
    alert = make_alert()
    first = plan_step(alert, 0, policy(), DIRECTORY, RESIDENT, T0)
    assert keys(first) == ["wang", "family:r-0001:0"]  # the other grid's worker is not told
    assert first.reason is StepReason.ALERT_OPENED and first.next_at == T0 + 300 and first.has_next
    assert first.validity == timedelta(minutes=5)  # never longer than the wait

    second = plan_step(alert, 1, policy(), DIRECTORY, RESIDENT, T0 + 300, StepReason.WAIT_ELAPSED, {PHONES["wang"]})
    # leader + the 3 nearest available volunteers in the radius, nearest first
    assert keys(second) == ["zhao", "v1", "v2", "v3"]
    assert [round(r.distance_m or 0) for r in second.recipients[1:]] == [200, 500, 800]
    assert second.next_at == T0 + 600

    third = plan_step(alert, 2, policy(), DIRECTORY, RESIDENT, T0 + 600, StepReason.WAIT_ELAPSED)
    assert keys(third) == ["op"] and third.next_at is None and not third.has_next


def test_volunteers_outside_the_radius_or_unavailable_are_never_chosen() -> None:
    far_resident = Resident("r-9", "张爷爷", "g01", "Asia/Shanghai", Point(HOME[0] + 0.5, HOME[1]))
    plan = plan_step(make_alert(), 1, policy(), DIRECTORY, far_resident, T0)
    assert keys(plan) == ["zhao"]
    assert [(s.role, s.reason) for s in plan.skipped] == [(Role.VOLUNTEERS, SkipReason.NO_VOLUNTEER_IN_RADIUS)]


def test_roles_nobody_fills_are_named_in_the_plan() -> None:
    lonely = Resident("r-2", "孤老", "g99", "Asia/Shanghai", Point(*HOME))
    plan = plan_step(make_alert(), 0, policy(), DIRECTORY, lonely, T0)
    assert plan.recipients == ()
    assert {(s.role, s.reason) for s in plan.skipped} == {
        (Role.GRID_WORKER, SkipReason.NOBODY_IN_ROLE),
        (Role.FAMILY, SkipReason.NO_CONTACTS),
    }


def test_someone_told_at_an_earlier_step_is_not_told_again() -> None:
    plan = plan_step(
        make_alert(severity=Severity.HIGH),
        1,
        policy(),
        DIRECTORY,
        RESIDENT,
        T0,
        StepReason.WAIT_ELAPSED,
        {PHONES["son"]},
    )
    assert keys(plan) == ["zhao"]
    assert (Role.FAMILY, SkipReason.ALREADY_TOLD) in {(s.role, s.reason) for s in plan.skipped}


def test_low_severity_goes_to_the_digest() -> None:
    plan = plan_step(make_alert(AlertKind.LOW_BATTERY, Severity.LOW), 0, policy(), DIRECTORY, RESIDENT, T0)
    assert plan.digest and keys(plan) == ["wang"] and plan.next_at is None


def test_escalation_stays_on_its_last_step() -> None:
    assert [next_step_index(i, 3) for i in range(3)] == [1, 2, 2]


def test_replacement_is_the_next_nearest_volunteer_not_yet_told() -> None:
    told = {PHONES[k] for k in ("wang", "son", "zhao", "v1", "v2", "v3")}
    found = replacement_for(Role.VOLUNTEERS, policy(), DIRECTORY, RESIDENT, told)
    assert found is not None and found.key == "v4"
    assert replacement_for(Role.GRID_LEADER, policy(), DIRECTORY, RESIDENT, told) is None


def test_next_digest_is_nine_in_the_morning_local_time() -> None:
    zone = ZoneInfo("Asia/Shanghai")
    morning = datetime(2026, 11, 26, 8, 0, tzinfo=zone).timestamp()
    assert datetime.fromtimestamp(next_digest_at(morning, "Asia/Shanghai"), zone) == datetime(
        2026, 11, 26, 9, 0, tzinfo=zone
    )
    evening = datetime(2026, 11, 26, 9, 0, tzinfo=zone).timestamp()
    assert datetime.fromtimestamp(next_digest_at(evening, "Asia/Shanghai"), zone) == datetime(
        2026, 11, 27, 9, 0, tzinfo=zone
    )


def test_ack_command_goes_to_the_residents_home_unit() -> None:
    registry = RegistrySnapshot(
        residents={RESIDENT.id: RESIDENT},
        devices={
            "tag-0001": Device("tag-0001", DeviceKind.GPS_TAG, RESIDENT.id),
            "cat-0001": Device("cat-0001", DeviceKind.PINGAN_CAT, RESIDENT.id),
        },
    )
    topic, payload = ack_command_for(make_alert(), registry) or ("", b"")
    assert topic == "pingan/v1/dev/cat-0001/cmd"
    assert payload == b'{"cmd":"alert_ack","alert":"A7K2"}'
    no_cat = RegistrySnapshot(
        residents={RESIDENT.id: RESIDENT}, devices={"tag-0001": Device("tag-0001", DeviceKind.GPS_TAG, RESIDENT.id)}
    )
    assert ack_command_for(make_alert(), no_cat) is None


def test_responder_links_verify_only_untampered_and_unexpired() -> None:
    token = sign_responder_link("secret", "al-0123456789abcdef", PHONES["wang"], T0 + 3600)
    assert len(token) < 64
    link = verify_responder_link("secret", token, T0)
    assert link is not None and (link.alert_id, link.responder_phone) == ("al-0123456789abcdef", PHONES["wang"])
    assert verify_responder_link("secret", token, T0 + 3601) is None
    assert verify_responder_link("other-secret", token, T0) is None
    assert verify_responder_link("secret", token.replace("8613800000001", "8613800000002"), T0) is None
    assert verify_responder_link("secret", token[:-1] + ("A" if token[-1] != "A" else "B"), T0) is None
    assert verify_responder_link("secret", "garbage", T0) is None


def test_great_circle_distance_is_geopys() -> None:
    """alerts.directory's own formula (geopy's import is too slow for start-up) gives geopy's
    distances: across a street, a city, a country, the antimeridian and near a pole."""
    from geopy.distance import great_circle

    from alerts.directory import great_circle_m

    pairs = [((45.7512, 126.6421), (45.7513, 126.6422)), ((45.7512, 126.6421), (45.80, 126.53)),
             ((45.75, 126.64), (22.54, 114.06)), ((10.0, 179.9), (-10.0, -179.9)), ((89.9, 0.0), (89.9, 180.0)),
             ((0.0, 0.0), (0.0, 0.0))]
    for a, b in pairs:
        expected = great_circle(a, b).meters
        assert abs(great_circle_m(Point(*a), Point(*b)) - expected) <= 1e-6 * max(expected, 1.0), (a, b)
