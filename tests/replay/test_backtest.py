"""Backtesting a change (`pingan replay --offline FILE --config A --compare B`, hub/rules/backtest.py),
and the global `pingan --config FILE` holding for replay, record and simulate from any folder.

The recording: one resident, one home unit with hourly heartbeats, on a day with a 4.5 h nap
(no incident) and a fall at 16:00 (a truth line), found by a visitor's motion next morning.
A allows 6 h of silence by day, B 4 h: under B the nap raises a false inactivity alert (only
under B) and the fall's alert opens 2 h sooner (the same alert, moved).
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hub.config import load_config
from hub.registry.file import load_registry_file, to_snapshot
from hub.rules.backtest import compare
from hub.rules.replay import run_offline
from pingan.cli import app

ROOT = Path(__file__).parents[2]
T8 = 1764115200.0  # 2025-11-26 08:00 Asia/Shanghai
H = 3600.0

REGISTRY = """\
communities: [{id: c1, name: 测试社区, timezone: Asia/Shanghai}]
grids: [{id: c1-g1, community: c1, name: 第一网格}]
responders: [{id: w1, name: 王网格员, phone: "+8613800000001", role: grid_worker, grids: [c1-g1]}]
residents:
  - {id: r-0001, name: 李奶奶, grid: c1-g1, address: 一号楼, home: {lat: 45.75, lon: 126.64}}
devices:
  - {id: cat-0001, kind: pingan_cat, resident: r-0001, heartbeat_s: 3600}
"""


def recording() -> list[dict[str, Any]]:
    moves = [T8 + m * 60 for m in range(0, 121, 20)]  # 08:00-10:00
    moves += [T8 + 6.5 * H + m * 60 for m in range(0, 91, 15)]  # 14:30-16:00, after a 4.5 h nap
    moves += [T8 + 25 * H]  # 09:00 next day: the visitor who finds her
    lines: list[dict[str, Any]] = [{"t": t, "kind": "event", "type": "motion"} for t in moves]
    lines += [{"t": T8 + h * H + 30, "kind": "heartbeat"} for h in range(26)]
    lines.sort(key=lambda x: x["t"])
    out: list[dict[str, Any]] = []
    for seq, line in enumerate(lines):
        payload: dict[str, Any] = {"ts": line["t"], "seq": seq}
        if line["kind"] == "event":
            payload["type"] = line["type"]
        out.append({"t": line["t"], "topic": f"pingan/v1/dev/cat-0001/{line['kind']}", "payload": json.dumps(payload)})
        if line["t"] == T8 + 8 * H:  # her last movement: the fall
            out.append({"t": line["t"] + 1, "truth": {"kind": "inactivity", "resident": "r-0001"}})
    return out


def config_file(path: Path, day_hours: int, mqtt_url: str = "mqtt://127.0.0.1:1883") -> Path:
    text = (ROOT / "config.yaml").read_text(encoding="utf-8")
    text = text.replace("day_hours: 6,", f"day_hours: {day_hours},").replace("enabled: true,", "enabled: false,")
    text = text.replace('outing_window: "07:00-12:00"', "outing_window: null")  # the fixed day allowance alone
    text = text.replace('url: "mqtt://127.0.0.1:1883"', f'url: "{mqtt_url}"')
    assert f"day_hours: {day_hours}," in text and "enabled: false," in text and mqtt_url in text
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    rec = tmp_path / "day.jsonl"
    rec.write_text("".join(json.dumps(x) + "\n" for x in recording()), encoding="utf-8")
    reg = tmp_path / "registry.yaml"
    reg.write_text(REGISTRY, encoding="utf-8")
    return {"rec": rec, "reg": reg, "a": config_file(tmp_path / "a.yaml", 6), "b": config_file(tmp_path / "b.yaml", 4)}


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with no config.yaml, and no PINGAN_CONFIG."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.delenv("PINGAN_CONFIG", raising=False)
    return folder


def test_a_shorter_threshold_adds_a_false_alert_and_moves_the_true_one(files: dict[str, Path]) -> None:
    snapshot = to_snapshot(load_registry_file(files["reg"]))
    a = run_offline(files["rec"], snapshot, load_config(files["a"], environ={}))
    b = run_offline(files["rec"], snapshot, load_config(files["b"], environ={}))
    cmp = compare(a, b)
    assert cmp.only_a == []
    (nap,) = cmp.only_b
    assert (nap.kind, nap.opened_at) == ("inactivity", T8 + 2 * H + 4 * H)  # 4 h after 10:00
    assert cmp.verdict(nap, "B") == "false"
    (moved,) = cmp.changed
    assert (moved.a.opened_at, moved.b.opened_at) == (T8 + 8 * H + 6 * H, T8 + 8 * H + 4 * H)
    assert moved.opened_shift_s == -2 * H
    assert cmp.verdict(moved.a, "A") == cmp.verdict(moved.b, "B") == "found inactivity"
    sa, sb = a.summary["truth"], b.summary["truth"]
    assert (sa["detected"], sa["false_alerts"], sb["detected"], sb["false_alerts"]) == (1, 0, 1, 1)
    assert sb["false_alerts_per_home_week"] == round(1 / (1 * a.summary["span_s"] / (7 * 86400)), 4)
    assert (sa["per_kind"]["inactivity"]["delay_median_s"], sb["per_kind"]["inactivity"]["delay_median_s"]) == (6 * H - 1, 4 * H - 1)


def test_compare_on_the_command_line_from_another_folder(files: dict[str, Path], elsewhere: Path) -> None:
    args = ["replay", "--offline", str(files["rec"]), "-r", str(files["reg"]), "--config", str(files["a"]), "--compare", str(files["b"])]
    text = CliRunner().invoke(app, args)
    assert text.exit_code == 0, text.output
    assert "only under B (1):" in text.output and "[false]" in text.output
    assert "opened -2.00 h" in text.output
    assert "no activity since 10:00" in text.output  # the nap's last movement, in the resident's time zone
    assert "false alerts per home-week" in text.output and "alerts per home-week (0.1" in text.output
    lines = [json.loads(x) for x in CliRunner().invoke(app, [*args, "--json"]).output.splitlines()]
    assert [x.get("only") for x in lines[:-2]] == ["B"]
    assert lines[-2]["opened_shift_s"] == -2 * H
    assert {k: lines[-1][k] for k in ("only_a", "only_b", "changed", "same")} == {"only_a": 0, "only_b": 1, "changed": 1, "same": 0}


def test_global_config_holds_for_offline_replay(files: dict[str, Path], elsewhere: Path) -> None:
    """Was: `pingan --config FILE replay --offline` read ./config.yaml ("cannot read")."""
    result = CliRunner().invoke(app, ["--config", str(files["b"]), "replay", "--offline", str(files["rec"]), "-r", str(files["reg"]), "--json"])
    assert result.exit_code == 0, result.output
    opened = [json.loads(x)["opened_at"] for x in result.output.splitlines()[:-1]]
    assert opened == [T8 + 6 * H, T8 + 12 * H]  # B's 4 h, not config.yaml's 6 h
    # --compare under the global option: A is the global file
    both = CliRunner().invoke(app, ["--config", str(files["a"]), "replay", "--offline", str(files["rec"]), "-r", str(files["reg"]), "--compare", str(files["b"])])
    assert both.exit_code == 0, both.output
    assert f"A = {files['a']}" in both.output


def test_global_config_gives_record_its_broker(tmp_path: Path, elsewhere: Path) -> None:
    """record (like simulate and broker replay) takes the broker from the selected file."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    cfg = config_file(tmp_path / "c.yaml", 6, f"mqtt://127.0.0.1:{port}")
    result = CliRunner().invoke(app, ["--config", str(cfg), "record", "--out", str(tmp_path / "r.jsonl"), "--count", "1", "--duration", "2"])
    assert result.exit_code == 1
    assert f"127.0.0.1:{port}" in result.output


def test_a_missing_global_config_is_an_error_not_a_silent_default(files: dict[str, Path], elsewhere: Path) -> None:
    result = CliRunner().invoke(app, ["--config", "nope.yaml", "replay", "--offline", str(files["rec"]), "-r", str(files["reg"])])
    assert result.exit_code == 2
    assert "nope.yaml: cannot read" in result.output
