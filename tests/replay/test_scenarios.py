"""Every scenario in simulators/scenarios/ raises exactly the alert kinds it expects.

Each scenario is simulated to a temporary recording (with its registry, as `pingan simulate
--scenario NAME --out FILE` writes them) and replayed offline with the default config.yaml.
The set of alert kinds raised must equal the scenario's `expect` list — no more, no fewer — and
every ground-truth incident must be detected by an alert of its resident as `pingan replay`
scores it (`hub.rules.replay.answers`: a cancelled SOS by an `sos` alert resolved `cancelled`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.reasons import ReasonCode
from alerts.registry import RegistrySnapshot
from hub.config import Config, load_config
from hub.registry.file import load_registry_file, to_snapshot
from hub.rules.replay import ReplayResult, answers, run_offline
from simulators.community import registry_yaml
from simulators.engine import Simulation, from_scenario, write_recording
from simulators.incidents import load_scenario, scenario_names

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(ROOT / "hub" / "default_config.yaml", environ={})


def simulate_and_replay(name: str, config: Config, tmp_path: Path) -> ReplayResult:
    sim = Simulation(from_scenario(load_scenario(name)))
    recording = tmp_path / f"{name}.jsonl"
    registry = tmp_path / f"{name}.jsonl.registry.yaml"
    registry.write_text(registry_yaml(sim.community), encoding="utf-8")
    write_recording(sim, recording)
    return run_offline(recording, to_snapshot(load_registry_file(registry)), config)


def test_every_scenario_is_covered() -> None:
    assert {"fall", "wandering", "sos", "sos_cancelled", "dead_device", "battery", "quiet_day"} <= set(scenario_names())


@pytest.mark.parametrize("name", scenario_names())
def test_scenario_raises_exactly_its_expected_alerts(name: str, config: Config, tmp_path: Path) -> None:
    scenario = load_scenario(name)
    result = simulate_and_replay(name, config, tmp_path)
    raised = sorted(a.kind.value for a in result.alerts)
    described = [f"{a.kind.value} {a.severity.value} {a.resident} {a.device} {a.reason}" for a in result.alerts]
    assert raised == sorted(scenario.expect), described
    assert len(result.truths) == len(scenario.incidents)
    for truth in result.truths:
        assert any(answers(a, truth) for a in result.alerts), (truth, described)
    assert result.summary["rejected"] == 0


def test_wandering_is_raised_high(config: Config, tmp_path: Path) -> None:
    """Motion at home *before* she walked out is not a reason to doubt the tag: the exit is high."""
    result = simulate_and_replay("wandering", config, tmp_path)
    (exit_alert,) = result.alerts
    assert exit_alert.severity.value == "high"
    assert exit_alert.outcome is not None and exit_alert.outcome.value == "returned"


def test_a_fall_is_explained_by_the_silence_and_the_sensors_it_was_judged_on(config: Config, tmp_path: Path) -> None:
    """姚国华 falls at 11:20: the inactivity alert carries when he was last active and on which
    device, the sensors the silence was judged on and the silence allowed — the same on every run."""
    result = simulate_and_replay("fall", config, tmp_path)
    (alert,) = [a for a in result.alerts if a.kind.value == "inactivity"]
    (truth,) = result.truths
    why = alert.reason
    assert why.code is ReasonCode.SILENCE_EXCEEDED
    p = why.params
    own = {d.id: d.kind.value for d in registry_of(tmp_path / "fall.jsonl.registry.yaml").devices_of("r-0002")}
    assert p["last_activity"] == p["since"] == alert.triggered_at and truth.t - 3600 <= p["last_activity"] <= truth.t
    assert own[p["last_device"]["id"]] == p["last_device"]["kind"] != "gps_tag"  # seen at home before the fall
    assert {d["id"] for d in p["devices"]} == {i for i, kind in own.items() if kind not in ("smoke_alarm", "gas_alarm")}
    door_hours = config.rules.inactivity.day_hours_door  # his door sensor sees departures: the shorter day allowance
    assert door_hours is not None and (p["threshold_s"], p["basis"]) == (door_hours * 3600, "day_door")
    assert alert.opened_at - p["since"] == pytest.approx(p["threshold_s"], abs=120)
    (tmp_path / "again").mkdir()
    again = simulate_and_replay("fall", config, tmp_path / "again")
    assert [(a.reason, a.notes) for a in again.alerts] == [(a.reason, a.notes) for a in result.alerts]


def registry_of(path: Path) -> RegistrySnapshot:
    return to_snapshot(load_registry_file(path))
