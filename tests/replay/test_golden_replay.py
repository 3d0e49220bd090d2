"""Golden recordings replayed offline: the alerts and the summary must match byte for byte,
every run; the CLI command prints the same lines; random recordings replay identically twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from hub.config import Config, load_config
from hub.registry.file import load_registry_file, to_snapshot
from hub.rules.replay import run_offline
from pingan.commands.replay import replay_command

GOLDEN = Path(__file__).parent / "golden"
ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(ROOT / "hub" / "default_config.yaml", environ={})


@pytest.mark.parametrize("name", ["day", "flush"])
def test_golden_recording(name: str, config: Config) -> None:
    registry = to_snapshot(load_registry_file(GOLDEN / "registry.yaml"))
    first = run_offline(GOLDEN / f"{name}.jsonl", registry, config).json_lines()
    second = run_offline(GOLDEN / f"{name}.jsonl", registry, config).json_lines()
    expected = (GOLDEN / f"{name}.expected.jsonl").read_text(encoding="utf-8").splitlines()
    assert first == second
    assert first == expected


def test_golden_day_semantics(config: Config) -> None:
    result = run_offline(GOLDEN / "day.jsonl", to_snapshot(load_registry_file(GOLDEN / "registry.yaml")), config)
    by_kind = {a.kind.value: a for a in result.alerts}
    assert by_kind["sos"].outcome == "cancelled"
    assert by_kind["geofence_exit"].outcome == "returned" and by_kind["geofence_exit"].severity == "high"
    assert by_kind["inactivity"].resident == "r-0002"
    truth = result.summary["truth"]
    assert truth["per_kind"]["fall"]["missed"] == 1 and truth["detected"] == 3
    assert result.summary["rejected_by_reason"] == {"wrong_type": 1}


def test_flush_raises_late_sos_and_fills_silence(config: Config) -> None:
    result = run_offline(GOLDEN / "flush.jsonl", to_snapshot(load_registry_file(GOLDEN / "registry.yaml")), config)
    sos = [a for a in result.alerts if a.kind == "sos"]
    assert len(sos) == 1 and sos[0].late
    assert not [a for a in result.alerts if a.kind == "inactivity"]
    cat2 = [a for a in result.alerts if a.device == "cat-0002" and a.kind == "device_offline"]
    assert cat2[0].outcome == "cleared"


def test_cli_prints_json_lines(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command("replay")(replay_command)
    app.command("noop")(lambda: None)
    args = ["replay", str(GOLDEN / "day.jsonl"), "--offline", "--registry", str(GOLDEN / "registry.yaml"),
            "--config", str(ROOT / "hub" / "default_config.yaml"), "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == (GOLDEN / "day.expected.jsonl").read_text(encoding="utf-8").splitlines()
    no_registry = CliRunner().invoke(app, ["replay", str(GOLDEN / "day.jsonl"), "--offline"])
    assert no_registry.exit_code != 0 and "needs the registry" in no_registry.output


line = st.one_of(
    st.tuples(st.sampled_from(["cat-0001", "cat-0002", "tag-0001", "smoke-0002", "bad id"]),
              st.sampled_from(["event", "heartbeat", "gps", "status"]),
              st.sampled_from(['{"type":"motion"}', '{"type":"sos"}', '{"type":"sos_cancel"}', '{"battery":10}',
                               '{"lat":45.77,"lon":126.64,"acc":10}', '{"state":"offline"}', "{}", "garbage"])),
    st.tuples(st.just("truth"), st.sampled_from(["sos", "inactivity"]), st.sampled_from(["r-0001", "r-0002"])),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.floats(0, 7200), line), max_size=60))
def test_replay_twice_is_identical(tmp_path: Path, config: Config, script: list[tuple[float, tuple[str, str, str]]]) -> None:
    t = 1764115200.0
    rows = []
    for gap, (a, b, c) in script:
        t += gap
        if a == "truth":
            rows.append({"t": t, "truth": {"kind": b, "resident": c}})
        else:
            rows.append({"t": t, "topic": f"pingan/v1/dev/{a}/{b}", "payload": c})
    path = tmp_path / "random.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    registry = to_snapshot(load_registry_file(GOLDEN / "registry.yaml"))
    assert run_offline(path, registry, config).json_lines() == run_offline(path, registry, config).json_lines()
