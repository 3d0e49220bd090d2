"""`pingan demo`: starts from an empty folder with nothing else running, serves the board,
raises an alert, keeps the console to what matters, stops on Ctrl-C."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import free_port

PINGAN = str(Path(sys.executable).with_name("pingan"))


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode()


def _rows(db: Path, sql: str) -> list[tuple[str, ...]]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        try:
            return conn.execute(sql).fetchall()
        except sqlite3.OperationalError:  # not migrated yet
            return []


def _alerts(db: Path) -> list[tuple[str, ...]]:
    return _rows(db, "SELECT kind, code FROM alerts")


def _taken_by_sms(db: Path) -> list[tuple[str, ...]]:
    """Alerts a (simulated) responder acknowledged by an SMS reply."""
    return _rows(db, "SELECT a.code, a.acknowledged_by FROM alerts a JOIN audit u ON u.alert_id = a.id "
                     "WHERE u.action = 'sms_reply' AND u.channel = 'sms' AND a.acknowledged_at IS NOT NULL")


@pytest.mark.timeout(180)
def test_demo_serves_the_board_and_raises_an_alert(tmp_path: Path) -> None:
    port = free_port()
    log = (tmp_path / "demo.log").open("w")
    empty = tmp_path / "empty"  # no config.yaml here: the packaged default configuration is used
    empty.mkdir()
    demo = subprocess.Popen(
        [PINGAN, "demo", "--port", str(port), "--residents", "10", "--speed", "120"],
        stdout=log, stderr=subprocess.STDOUT, cwd=empty,
    )
    try:
        deadline = time.monotonic() + 120
        alerts: list[tuple[str, ...]] = []
        login = None
        while time.monotonic() < deadline and not alerts:
            assert demo.poll() is None, (tmp_path / "demo.log").read_text()[-3000:]
            if login is None:
                with contextlib.suppress(OSError):
                    login = _get(f"http://127.0.0.1:{port}/login")
            alerts = _alerts(empty / "demo-data" / "pingan.db")
            time.sleep(0.5)
        assert login is not None and login[0] == 200 and "<form" in login[1]
        assert alerts, "no alert within two minutes"
        db = empty / "demo-data" / "pingan.db"
        while time.monotonic() < deadline + 30 and not _taken_by_sms(db):
            time.sleep(0.5)
        assert _taken_by_sms(db), "no simulated responder acknowledged an alert by SMS"
        console = (tmp_path / "demo.log").read_text()
        assert "demo / pingan-demo" in console
        # the console is for alerts and SMS: no broker state-machine chatter, no deprecation notes
        assert not [line for line in console.splitlines()
                    if "transitions.core" in line or "deprecated" in line or "uvicorn.access" in line]
    finally:
        demo.send_signal(signal.SIGTERM)  # a service manager's stop; Ctrl-C (SIGINT) takes the same handler
        code = demo.wait(30)
    console = (tmp_path / "demo.log").read_text()
    assert code == 0 and "hub stopped" in console, console[-3000:]
