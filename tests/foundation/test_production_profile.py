"""`pingan check-config --production`: refuses what must not reach residents, names key and fix."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PINGAN = str(Path(sys.executable).with_name("pingan"))
SECRETS = {"PINGAN_HTTP__SECRET_KEY": "a-long-random-key-for-the-test-only", "PINGAN_SMS__TWILIO__AUTH_TOKEN": "token"}


def pingan(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PINGAN_")}
    return subprocess.run([PINGAN, *args], env={**clean, **env}, input=stdin, capture_output=True, text=True, cwd=ROOT)


@pytest.fixture
def database(tmp_path: Path) -> dict[str, str]:
    env = {"PINGAN_DATABASE__URL": f"sqlite:///{tmp_path / 'hub.db'}"}
    assert pingan("db", "upgrade", env=env).returncode == 0
    return env


def test_the_shipped_demo_configuration_is_refused_with_key_and_fix(database: dict[str, str]) -> None:
    result = pingan("--config", "hub/default_config.yaml", "check-config", "--production", env=database)
    assert result.returncode == 2
    problems = [line for line in result.stderr.splitlines() if re.match(r"hub/default_config.yaml:\d+ ", line)]
    refused = {line.split(" ")[1].rstrip(":") for line in problems}
    assert {"sms.provider", "http.public_url", "http.secret_key"} <= refused, result.stderr
    assert all("— fix: " in line for line in problems)


def test_the_example_production_configuration_passes(database: dict[str, str]) -> None:
    result = pingan("--config", "deploy/config.production.yaml", "check-config", "--production", env={**database, **SECRETS})
    assert result.returncode == 0, result.stderr
    assert "ok for production" in result.stdout


@pytest.mark.parametrize(("override", "key"), [
    ({"PINGAN_MQTT__URL": "mqtt://broker.example.org:1883"}, "mqtt.url"),
    ({"PINGAN_HTTP__PUBLIC_URL": "http://pingan.example.org"}, "http.public_url"),
    ({"PINGAN_SMS__PROVIDER": "console"}, "sms.provider"),
    ({"PINGAN_VOICE__PROVIDER": "aliyun"}, "voice.aliyun.access_key_secret"),
])
def test_each_unsafe_setting_is_refused_by_name(database: dict[str, str], override: dict[str, str], key: str) -> None:
    result = pingan("--config", "deploy/config.production.yaml", "check-config", "--production",
                    env={**database, **SECRETS, **override})
    assert result.returncode == 2
    assert f" {key}: " in result.stderr, result.stderr


def test_loopback_mqtt_in_clear_is_allowed(database: dict[str, str]) -> None:
    result = pingan("--config", "deploy/config.production.yaml", "check-config", "--production",
                    env={**database, **SECRETS, "PINGAN_MQTT__URL": "mqtt://127.0.0.1:1883"})
    assert result.returncode == 0, result.stderr


def test_demo_user_and_default_passwords_are_refused(database: dict[str, str]) -> None:
    assert pingan("users", "add", "demo", "--role", "admin", env=database, stdin="pingan-demo-2\n").returncode == 0
    assert pingan("users", "add", "zhang", "--role", "operator", env=database, stdin="12345678\n").returncode == 0
    assert pingan("users", "add", "li", "--role", "operator", env=database, stdin="a-real-pass-phrase\n").returncode == 0
    result = pingan("--config", "deploy/config.production.yaml", "check-config", "--production", env={**database, **SECRETS})
    assert result.returncode == 2
    assert "user 'demo'" in result.stderr and "user 'zhang'" in result.stderr and "user 'li'" not in result.stderr


def test_sqlite_beyond_the_documented_size_is_refused(database: dict[str, str], tmp_path: Path) -> None:
    import sqlite3

    from hub.operations.production import SQLITE_MAX_RESIDENTS

    db = database["PINGAN_DATABASE__URL"].removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(residents)")]
        assert "id" in columns and "name" in columns
        required = {row[1]: row for row in conn.execute("PRAGMA table_info(residents)") if row[3] and row[4] is None}
        rows = [{c: (f"r-{i:05d}" if c == "id" else 0 if c != "name" else f"居民{i}") for c in required}
                for i in range(SQLITE_MAX_RESIDENTS + 1)]
        names = list(required)
        conn.executemany(f"INSERT INTO residents ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                         [tuple(r[c] for c in names) for r in rows])
    result = pingan("--config", "deploy/config.production.yaml", "check-config", "--production", env={**database, **SECRETS})
    assert result.returncode == 2
    assert " database.url: SQLite with" in result.stderr, result.stderr


def test_serve_warns_loudly_at_start_when_not_production_ready(database: dict[str, str], caplog: pytest.LogCaptureFixture) -> None:
    from hub.config import load_config
    from pingan.serve import warn_unless_production_ready

    path = ROOT / "hub" / "default_config.yaml"
    warn_unless_production_ready(load_config(path, environ=database), path)
    (record,) = [r for r in caplog.records if r.name == "pingan.serve"]
    assert record.levelname == "WARNING"
    assert "NOT READY FOR RESIDENTS" in record.getMessage() and "sms.provider" in record.getMessage()


def test_serve_names_a_demo_user_at_start_without_trying_passwords(database: dict[str, str], caplog: pytest.LogCaptureFixture,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # the argon2 tries are check-config's: at serve's start they would cost every user ~0.65 s of CPU
    from argon2 import PasswordHasher

    from hub.config import load_config
    from pingan.serve import warn_unless_production_ready

    assert pingan("users", "add", "demo", "--role", "admin", env=database, stdin="pingan-demo-2\n").returncode == 0
    assert pingan("users", "add", "zhang", "--role", "operator", env=database, stdin="12345678\n").returncode == 0
    tries: list[str] = []
    real_verify = PasswordHasher.verify
    monkeypatch.setattr(PasswordHasher, "verify", lambda self, h, p: tries.append(p) or real_verify(self, h, p))
    path = ROOT / "hub" / "default_config.yaml"
    warn_unless_production_ready(load_config(path, environ=database), path)
    message = next(r.getMessage() for r in caplog.records if r.name == "pingan.serve" and "NOT READY" in r.getMessage())
    assert "user 'demo'" in message and "user 'zhang'" not in message
    assert tries == []


def test_twilio_for_a_mainland_community_is_a_warning_not_a_refusal(database: dict[str, str]) -> None:
    # the example production configuration sends through Twilio
    result = pingan("--config", "deploy/config.production.yaml", "check-config", "--production",
                    env={**database, **SECRETS})
    assert result.returncode == 0, result.stderr
    warning = [line for line in result.stderr.splitlines() if " sms.provider: warning: " in line]
    assert warning and "abroad" in warning[0] and "aliyun or tencent" in warning[0], result.stderr
    aliyun = pingan("--config", "deploy/config.production.yaml", "check-config", "--production",
                    env={**database, **SECRETS, "PINGAN_SMS__PROVIDER": "aliyun"})
    assert " sms.provider: warning" not in aliyun.stderr
