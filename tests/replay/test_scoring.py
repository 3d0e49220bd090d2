"""Backtest scoring (`hub.rules.replay.score`): a cancelled SOS is found by an sos alert resolved
`cancelled`, not reported as a missed incident plus a false sos; other kinds match literally.

Each case replays a short recording on the golden registry (two residents, hourly heartbeats),
so the alerts scored are the engine's own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from alerts.registry import RegistrySnapshot
from hub.config import Config, load_config
from hub.registry.file import load_registry_file, to_snapshot
from hub.rules.replay import ReplayResult, Truth, answers, match, run_offline

GOLDEN = Path(__file__).parent / "golden"
ROOT = Path(__file__).parents[2]
T0 = 1764118800.0  # 2025-11-26 09:00 Asia/Shanghai


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(ROOT / "hub" / "default_config.yaml", environ={})


def event(t: float, device: str, seq: int, type_: str) -> dict[str, Any]:
    return {"t": t, "topic": f"pingan/v1/dev/{device}/event", "payload": json.dumps({"ts": t, "seq": seq, "type": type_})}


def truth(t: float, kind: str, resident: str = "r-0001") -> dict[str, Any]:
    return {"t": t, "truth": {"kind": kind, "resident": resident}}


def replay(lines: list[dict[str, Any]], config: Config, tmp_path: Path) -> ReplayResult:
    recording = tmp_path / "recording.jsonl"
    recording.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return run_offline(recording, to_snapshot(load_registry_file(GOLDEN / "registry.yaml")), config)


def sos_pressed_and_cancelled(cancel_after_s: float, truth_kind: str) -> list[dict[str, Any]]:
    return [
        event(T0, "cat-0001", 1, "motion"),
        truth(T0 + 60, truth_kind),
        event(T0 + 60, "cat-0001", 2, "sos"),
        event(T0 + 60 + cancel_after_s, "cat-0001", 3, "sos_cancel"),
        event(T0 + 600, "cat-0001", 4, "motion"),
    ]


def test_cancelled_sos_is_found_by_the_sos_alert_resolved_cancelled(config: Config, tmp_path: Path) -> None:
    result = replay(sos_pressed_and_cancelled(10, "sos_cancelled"), config, tmp_path)
    (sos,) = [a for a in result.alerts if a.kind == "sos"]
    assert sos.outcome == "cancelled"
    scored = result.summary["truth"]
    assert (scored["incidents"], scored["detected"], scored["missed"]) == (1, 1, 0)
    assert scored["false_alerts_by_kind"].get("sos") is None
    assert scored["per_kind"]["sos_cancelled"] == {
        "incidents": 1, "detected": 1, "missed": 0, "delay_median_s": 0.0, "delay_p90_s": 0.0,
    }


def test_cancel_too_late_leaves_the_incident_missed_and_the_sos_false(config: Config, tmp_path: Path) -> None:
    """The hub should have cancelled it: an sos still open does not answer a cancelled SOS."""
    result = replay(sos_pressed_and_cancelled(config.rules.sos_cancel_s + 30, "sos_cancelled"), config, tmp_path)
    (sos,) = [a for a in result.alerts if a.kind == "sos"]
    assert sos.outcome is None
    scored = result.summary["truth"]
    assert (scored["detected"], scored["missed"]) == (0, 1)
    assert scored["false_alerts_by_kind"]["sos"] == 1


def test_a_real_sos_still_matches_by_kind(config: Config, tmp_path: Path) -> None:
    result = replay(sos_pressed_and_cancelled(10, "sos"), config, tmp_path)
    scored = result.summary["truth"]
    assert (scored["detected"], scored["missed"], scored["false_alerts"]) == (1, 0, 0)


def test_match_pairs_incidents_in_time_order_and_leaves_the_rest_false(config: Config, tmp_path: Path) -> None:
    lines = [
        *sos_pressed_and_cancelled(10, "sos_cancelled"),
        truth(T0 + 3600, "sos_cancelled", "r-0002"),  # nothing happens for r-0002: missed
        event(T0 + 7200, "cat-0001", 5, "sos"),  # a second sos, no truth: false
    ]
    result = replay(lines, config, tmp_path)
    matches, false = match(result.alerts, result.truths)
    assert [(m.truth.resident, m.alert is not None) for m in matches] == [("r-0001", True), ("r-0002", False)]
    assert matches[0].delay_s == 0.0 and matches[1].delay_s is None
    assert [(a.kind, a.opened_at) for a in false] == [("sos", T0 + 7200)]
    cancelled = matches[0].alert
    assert cancelled is not None
    assert not answers(cancelled, Truth(T0 + 60, "sos_cancelled", "r-0002"))  # another resident
    assert not answers(cancelled, Truth(T0 + 60 + 2 * 86400, "sos_cancelled", "r-0001"))  # long before the incident


def test_fault_truth_lines_are_context_not_incidents_to_find(tmp_path: Path, config: Config) -> None:
    from hub.rules.replay import FAULT

    recording = tmp_path / "faults.jsonl"
    lines = [{"t": 1764140400.0, "truth": {"kind": FAULT, "fault": "wifi_outage", "resident": "r-0001"}},
             {"t": 1764140460.0, "truth": {"kind": "sos", "resident": "r-0001"}}]
    recording.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    truths = run_offline(recording, RegistrySnapshot({}, {}), config).truths
    assert [t.kind for t in truths] == ["sos"]


def two_sos_a_day_apart() -> list[dict[str, Any]]:
    """A real SOS, then a day later a press she cancels in time; heartbeats keep the unit online."""
    day = 86400.0
    return [
        truth(T0, "sos"), event(T0, "cat-0001", 1, "sos"),
        *[event(T0 + k * 3000, "cat-0001", 1 + k, "motion") for k in range(1, 30)],
        truth(T0 + day, "sos_cancelled"), event(T0 + day, "cat-0001", 40, "sos"),
        event(T0 + day + 10, "cat-0001", 41, "sos_cancel"),
    ]


@pytest.mark.parametrize(("after_s", "outcomes", "cancelled_found"), [
    (7200.0, ["ok", "cancelled"], 1),  # the responder closed the first; the second press is an alert of its own
    (None, ["cancelled"], 0),  # nobody closed it: the press attached to it, and the cancel closed the real SOS
])
def test_a_modelled_responder_closes_an_sos_so_the_next_press_is_an_alert_of_its_own(
        after_s: float | None, outcomes: list[str], cancelled_found: int, config: Config, tmp_path: Path) -> None:
    recording = tmp_path / "recording.jsonl"
    recording.write_text("".join(json.dumps(line) + "\n" for line in two_sos_a_day_apart()), encoding="utf-8")
    result = run_offline(recording, to_snapshot(load_registry_file(GOLDEN / "registry.yaml")), config, after_s)
    sos = [a for a in result.alerts if a.kind == "sos"]
    assert [a.outcome for a in sos] == outcomes
    if after_s is not None:
        assert sos[0].resolved_at == T0 + after_s
    per_kind = result.summary["truth"]["per_kind"]
    assert (per_kind["sos"]["detected"], per_kind["sos_cancelled"]["detected"]) == (1, cancelled_found)


def test_her_one_offline_alert_answers_each_device_it_tells_of(config: Config, tmp_path: Path) -> None:
    """A power cut silences her unit and her tag: one alert (alerts/rules/offline.py), and it finds
    both devices' incidents; an incident of a device it does not tell of is missed."""
    heartbeat = [{"t": T0, "topic": f"pingan/v1/dev/{d}/heartbeat", "payload": json.dumps({"ts": T0, "seq": 1})}
                 for d in ("cat-0001", "tag-0001")]
    went = T0 + 1  # both last heard at T0; offline after 3 hourly heartbeats
    lines = [*heartbeat,
             {"t": went, "truth": {"kind": "device_offline", "resident": "r-0001", "device": "cat-0001"}},
             {"t": went, "truth": {"kind": "device_offline", "resident": "r-0001", "device": "tag-0001"}},
             {"t": went, "truth": {"kind": "device_offline", "resident": "r-0001", "device": "cat-0002"}},
             event(T0 + 4 * 3600, "cat-0002", 1, "motion")]
    result = replay(lines, config, tmp_path)
    [alert] = [a for a in result.alerts if a.resident == "r-0001"]
    matches, false = match(result.alerts, result.truths)
    assert [(m.truth.device, m.alert is alert) for m in matches] == [
        ("cat-0001", True), ("tag-0001", True), ("cat-0002", False)]
    assert alert not in false
    early = Truth(alert.opened_at - 2 * 86400, "device_offline", "r-0001", "cat-0001")
    assert not answers(alert, early)  # long before it opened


def test_a_fall_found_after_the_finder_came_is_counted_apart(config: Config, tmp_path: Path) -> None:
    """A blind world's fall says when someone found her (`found_after_h`). An alert within 24 h
    still answers it (`match`), but benchmarks/detection.py counts the falls whose alert came
    before the finder apart: an alert 6 h after a fall a neighbour found at 3 h found nothing."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("detection_bench", ROOT / "benchmarks" / "detection.py")
    assert spec is not None and spec.loader is not None
    detection = sys.modules["detection_bench"] = importlib.util.module_from_spec(spec)  # its dataclasses look it up
    spec.loader.exec_module(detection)
    fall_at = T0 + 3600
    lines = [event(T0 + k * 600, "cat-0001", 1 + k, "motion") for k in range(6)] + [  # then only heartbeats, for 14 h
        {"t": fall_at + h * 3600, "topic": "pingan/v1/dev/cat-0001/heartbeat", "payload": json.dumps({"ts": fall_at + h * 3600, "seq": 10 + h})}
        for h in range(1, 15)]
    for found_after_h, before in (("3.0", 0), ("12.0", 1)):
        fall = {"t": fall_at, "truth": {"kind": "inactivity", "resident": "r-0001", "found_after_h": found_after_h}}
        result = replay(sorted([*lines, fall], key=lambda line: line["t"]), config, tmp_path)
        assert [t.found_after_s for t in result.truths] == [float(found_after_h) * 3600]
        score = detection.score("shipped", result, 2, {})
        assert score.found["inactivity"] == 1  # the alert (hours after the fall) answers it either way
        assert (score.before_finder, score.finder_falls) == (before, 1)
