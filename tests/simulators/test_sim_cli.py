"""The CLI functions under Typer: simulate --out writes the recording and the registry beside it."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from simulators.cli import app
from simulators.recording import read_recording


def test_simulate_scenario_to_file_writes_recording_and_registry(tmp_path: Path) -> None:
    out = tmp_path / "fall.jsonl"
    result = CliRunner().invoke(app, ["simulate", "--scenario", "fall", "--out", str(out)])
    assert result.exit_code == 0, result.output
    truths = [e for e in read_recording(out) if isinstance(e, dict)]
    assert [t["truth"]["kind"] for t in truths] == ["inactivity"]
    registry = yaml.safe_load((tmp_path / "fall.jsonl.registry.yaml").read_text(encoding="utf-8"))
    assert len(registry["residents"]) == 5


def test_unknown_scenario_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["simulate", "--scenario", "nope", "--out", str(tmp_path / "x.jsonl")])
    assert result.exit_code == 2
