"""deploy/systemd units: `systemd-analyze verify` finds nothing to say, the hardening scores
"OK" in `systemd-analyze security --offline`, and the template's per-instance environment gives
each hub its own HTTP port and MQTT client id from deploy/config.production.yaml.

`verify` refuses an ExecStart binary that does not exist, and /opt/pingan is not installed
here: the test substitutes this checkout's own `pingan` entry point (the same program). The
units are not started: this machine runs no systemd as PID 1."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require

from deploy.kit import DEPLOY, substitute
from hub.config import load_config

UNITS = {"pingan-hub.service": "pingan-hub.service", "pingan-hub@.service": "pingan-hub@8001.service"}
MAX_EXPOSURE = 2.0  # systemd-analyze's scale: 0 (locked down) .. 10 (unprotected); "OK" is below 3


def installed(unit: str, directory: Path, edit: tuple[str, str] | None = None) -> Path:
    """The unit as it would be installed, with ExecStart pointing at a pingan that exists."""
    pingan = Path(sys.executable).parent / "pingan"
    assert pingan.is_file()
    text = substitute((DEPLOY / "systemd" / unit).read_text(encoding="utf-8"),
                      [(r"^ExecStart=/opt/pingan/bin/pingan ", f"ExecStart={pingan} ")])
    if edit:
        text = substitute(text, [edit])
    path = directory / UNITS[unit]
    path.write_text(text, encoding="utf-8")
    return path


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    require(shutil.which("systemd-analyze") is not None, "systemd-analyze")
    return subprocess.run(["systemd-analyze", *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("unit", sorted(UNITS))
def test_the_unit_verifies_without_a_word(unit: str, tmp_path: Path) -> None:
    out = analyze("verify", str(installed(unit, tmp_path)))
    assert out.returncode == 0 and out.stderr == "" and out.stdout == "", out.stderr + out.stdout


def test_verify_would_catch_a_misspelt_hardening_option(tmp_path: Path) -> None:
    """The control: what the test above relies on `verify` to report, it reports."""
    out = analyze("verify", str(installed("pingan-hub.service", tmp_path, (r"^NoNewPrivileges=yes$", "NoNewPrivilege=yes"))))
    assert "Unknown key 'NoNewPrivilege'" in out.stderr


@pytest.mark.parametrize("unit", sorted(UNITS))
def test_the_hardening_scores_ok(unit: str, tmp_path: Path) -> None:
    out = analyze("security", "--offline=true", str(installed(unit, tmp_path)))
    found = re.search(r"Overall exposure level for \S+: ([0-9.]+)", out.stdout + out.stderr)
    assert found, out.stdout + out.stderr
    assert float(found.group(1)) <= MAX_EXPOSURE, out.stdout


def unit_settings(unit: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in (DEPLOY / "systemd" / unit).read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith(("#", "[")):
            settings.setdefault(key, []).append(value)
    return settings


@pytest.mark.parametrize("unit", sorted(UNITS))
def test_the_unit_runs_the_hub_as_docs_deploy_says(unit: str) -> None:
    s = unit_settings(unit)
    assert s["User"] == ["pingan"] and s["Restart"] == ["on-failure"] and s["KillSignal"] == ["SIGTERM"]
    assert "PINGAN_CONFIG=/etc/pingan/config.yaml" in s["Environment"]
    assert "PINGAN_SECRETS_DIR=/etc/pingan/secrets" in s["Environment"]
    assert s["ExecStart"][0].split()[:2] == ["/opt/pingan/bin/pingan", "serve"]
    assert s["ProtectSystem"] == ["strict"] and s["StateDirectory"] == ["pingan"]


def test_each_templated_hub_gets_its_own_port_and_client_id(monkeypatch: pytest.MonkeyPatch) -> None:
    environment = [e.replace("%i", "8002") for e in unit_settings("pingan-hub@.service")["Environment"]]
    for name, value in (e.split("=", 1) for e in environment):
        monkeypatch.setenv(name, value)
    config = load_config(DEPLOY / "config.production.yaml")
    assert config.http.port == 8002 and config.mqtt.client_id == "pingan-hub-8002"
