"""`pingan backup` while the hub runs, `pingan restore` into an emptied database, and a new hub
that carries on: open alerts, their escalation and the outbox survive (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hub.clock import VirtualClock
from hub.storage import models as m
from hub.storage.db import drop_schema, make_engine, upgrade
from pingan.wiring import build_hub

from .conftest import build_web, make_config
from .seed import Feeder, OptedOut

PINGAN = str(Path(sys.executable).with_name("pingan"))


def pingan(db_url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINGAN_")}
    return subprocess.run([PINGAN, *args], env={**env, "PINGAN_DATABASE__URL": db_url}, capture_output=True, text=True,
                          input=stdin)


def open_alerts(sessions: sessionmaker[Session]) -> dict[str, tuple[str, int, float | None]]:
    with sessions() as s:
        rows = s.execute(select(m.Alert.id, m.Alert.state, m.Alert.escalation_step, m.Alert.next_escalation_at)
                         .where(m.Alert.state != "resolved")).all()
    return {r.id: (r.state, r.escalation_step, r.next_escalation_at) for r in rows}


def outbox(sessions: sessionmaker[Session]) -> dict[int, tuple[str, str, str]]:
    with sessions() as s:
        rows = s.execute(select(m.Notification.id, m.Notification.phone, m.Notification.state, m.Notification.alert_id)).all()
    return {r.id: (r.phone, r.state, r.alert_id) for r in rows}


def test_backup_restore_round_trip_keeps_alerts_escalation_and_outbox(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    drop_schema(engine)  # the schema as `pingan db upgrade` makes it in production: Alembic's
    engine.dispose()
    upgrade(db_url)
    web = build_web(db_url)
    sos = web.seeded.open_alert  # r-0001's SOS: at its second step, the third one due
    due = open_alerts(web.sessions)[sos][2]
    assert due is not None
    # r-0002 presses SOS: its first texts are queued, not yet sent
    Feeder(web.hub).deliver(web.clock.now() + 10, [Feeder(web.hub).message(web.clock.now() + 10, "cat-0002", "event", type="sos")],
                            tick=False)
    alerts_at_backup, outbox_at_backup = open_alerts(web.sessions), outbox(web.sessions)
    queued = {i for i, (_, state, _) in outbox_at_backup.items() if state == "queued"}
    assert queued, "the test needs texts waiting in the outbox"

    backup = tmp_path / "hub.backup"
    result = pingan(db_url, "backup", str(backup))  # the hub's engines are open and in use
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600

    # after the backup the hub sends those texts, then the database is lost
    while web.hub.sender.run_once():
        pass
    web.close()
    engine = make_engine(db_url)
    drop_schema(engine)
    engine.dispose()

    result = pingan(db_url, "restore", str(backup))
    assert result.returncode == 0, result.stderr

    hub = build_hub(make_config(db_url), clock=VirtualClock(web.clock.now()), provider=OptedOut())
    try:
        assert open_alerts(hub.sessions) == alerts_at_backup
        assert outbox(hub.sessions) == outbox_at_backup
        hub.core.load()
        while hub.sender.run_once():  # the restored hub sends what was waiting
            pass
        sent = outbox(hub.sessions)
        assert all(sent[i][1] in ("sent", "delivered") for i in queued), {i: sent[i] for i in queued}
        step = alerts_at_backup[sos][1]
        hub.clock.set(due + 1)  # and r-0001's escalation goes on to its next step
        hub.core.tick()
        assert open_alerts(hub.sessions)[sos][1] == step + 1
    finally:
        for engine in hub.engines:
            engine.dispose()


def test_restore_replaces_the_database_in_use(db_url: str, tmp_path: Path) -> None:
    """Restore over the hub's own database, as docs/DEPLOY.md's restore and rollback do, not into
    an emptied one: on PostgreSQL `pg_restore --clean` failed there (a partition's primary key
    is inherited, it cannot be dropped before its table)."""
    engine = make_engine(db_url)
    drop_schema(engine)
    engine.dispose()
    upgrade(db_url)
    assert pingan(db_url, "users", "add", "before", stdin="a-long-password\n").returncode == 0
    backup = tmp_path / "hub.backup"
    assert pingan(db_url, "backup", str(backup)).returncode == 0
    assert pingan(db_url, "users", "add", "after", stdin="a-long-password\n").returncode == 0

    result = pingan(db_url, "restore", str(backup))
    assert result.returncode == 0, result.stderr

    engine = make_engine(db_url)
    try:
        with Session(engine) as s:
            assert s.scalars(select(m.User.name)).all() == ["before"]
    finally:
        engine.dispose()


def test_restore_refuses_a_file_that_is_no_backup(db_url: str, tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("not a backup", encoding="utf-8")
    result = pingan(db_url, "restore", str(junk))
    assert result.returncode == 1
    assert "not a" in result.stderr and "backup" in result.stderr
