"""hub/config.py through the CLI: errors as FILE:LINE key.path, environment overrides, secrets refused."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.config import ConfigError, load_config
from pingan.cli import app

ROOT = Path(__file__).parents[2]
CONFIG = ROOT / "hub" / "default_config.yaml"


def edited(tmp_path: Path, old: str, new: str) -> tuple[Path, int]:
    """A copy of config.yaml with one edit, and the 1-based line of the edit."""
    text = CONFIG.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    changed = text.replace(old, new)
    path = tmp_path / "config.yaml"
    path.write_text(changed, encoding="utf-8")
    line = next(i for i, t in enumerate(changed.splitlines(), 1) if new.splitlines()[0] in t)
    return path, line


def check_config(path: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--config", str(path), "check-config"], env=env)
    return result.exit_code, result.output


def test_the_checkouts_config_is_the_packaged_default() -> None:
    """./config.yaml links to hub/default_config.yaml: a copy drifts (it happened once)."""
    assert (ROOT / "config.yaml").resolve() == (ROOT / "hub" / "default_config.yaml").resolve()


def test_shipped_config_passes_check_config() -> None:
    # A real process, from the project root, as an operator would run it.
    result = subprocess.run([sys.executable, "-m", "pingan", "check-config"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "config.yaml: ok" in result.stdout


def test_misspelt_key_names_line_path_and_suggestion(tmp_path: Path) -> None:
    path, line = edited(tmp_path, "  topic_root: pingan/v1", "  topic_rot: pingan/v1")
    code, output = check_config(path)
    assert code != 0
    assert f"{path}:{line} mqtt.topic_rot: unknown key; did you mean 'topic_root'?" in output


def test_misspelt_nested_key(tmp_path: Path) -> None:
    path, line = edited(tmp_path, "geofence: {max_accuracy_m: 100,", "geofence: {max_acuracy_m: 100,")
    code, output = check_config(path)
    assert code != 0
    assert f"{path}:{line} rules.geofence.max_acuracy_m: unknown key; did you mean 'max_accuracy_m'?" in output


def test_a_key_given_twice_names_both_lines(tmp_path: Path) -> None:
    """YAML keeps the second silently: a setting changed on one line and still set on another
    (it happened to a flow mapping of rules.inactivity)."""
    path, line = edited(tmp_path, "  offline_after_missed: 3\n", "  offline_after_missed: 3\n  offline_after_missed: 4\n")
    code, output = check_config(path)
    assert code != 0
    assert f"{path}:{line + 1} rules.offline_after_missed: given twice (first on line {line})" in output


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    cfg = load_config(CONFIG, environ={"PINGAN_MQTT__URL": "mqtt://10.1.2.3:1884", "PINGAN_RULES__SOS_CANCEL_S": "45"})
    assert cfg.mqtt.url == "mqtt://10.1.2.3:1884"
    assert cfg.rules.sos_cancel_s == 45
    assert load_config(CONFIG, environ={}).mqtt.url == "mqtt://127.0.0.1:1883"


def test_bad_environment_value_is_blamed_on_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(CONFIG, environ={"PINGAN_MQTT__URL": "http://broker"})
    assert info.value.problems == ["PINGAN_MQTT__URL (environment) mqtt.url: Value error, must start with mqtt:// or mqtts://"]


def test_secret_in_yaml_is_refused(tmp_path: Path) -> None:
    path, line = edited(tmp_path, "  username: null\n", "  username: hub\n  password: hunter2\n")
    code, output = check_config(path)
    assert code != 0
    assert f"{path}:{line + 1} mqtt.password: secrets come only from the environment or a secrets file (set PINGAN_MQTT__PASSWORD)" in output


def test_secret_from_environment_and_secrets_dir(tmp_path: Path) -> None:
    cfg = load_config(CONFIG, environ={"PINGAN_SMS__TWILIO__AUTH_TOKEN": "tok"})
    assert cfg.sms.twilio.auth_token is not None and cfg.sms.twilio.auth_token.get_secret_value() == "tok"
    (tmp_path / "PINGAN_MQTT__PASSWORD").write_text("from-file\n")
    cfg = load_config(CONFIG, environ={"PINGAN_SECRETS_DIR": str(tmp_path)})
    assert cfg.mqtt.password is not None and cfg.mqtt.password.get_secret_value() == "from-file"


def test_duration_without_unit_suggests_seconds(tmp_path: Path) -> None:
    path, line = edited(tmp_path, "  ack_expiry: 45m", '  ack_expiry: "30"')
    code, output = check_config(path)
    assert code != 0
    assert f"{path}:{line} alerts.ack_expiry:" in output
    assert "did you mean '30s'" in output


def test_durations_with_units_parse() -> None:
    cfg = load_config(CONFIG, environ={"PINGAN_ALERTS__ACK_EXPIRY": "2h"})
    assert cfg.alerts.ack_expiry == timedelta(hours=2)


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    code, output = check_config(tmp_path / "nope.yaml")
    assert code != 0 and "cannot read" in output
