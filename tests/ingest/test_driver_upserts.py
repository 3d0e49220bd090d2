"""Person state written through the driver (store.upsert_rows), on SQLite and PostgreSQL: what
the board and the API read back is what the core decided, the last change of a batch winning."""

from __future__ import annotations

from sqlalchemy import select

from alerts.actions import PersonState, PersonStateChanged, Reason
from alerts.reasons import ReasonCode, explain
from hub.rules.runtime import _save_persons
from hub.storage import models as m
from hub.storage.db import make_engine, make_sessions

NOW = 1_765_000_000.0


def status(sessions, resident: str) -> tuple[str, str, dict | None, float]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        row = session.scalar(select(m.ResidentStatus).where(m.ResidentStatus.resident_id == resident))
        return row.state, row.reason, row.reason_params, row.since_at


def test_person_state_upsert_round_trips_and_last_change_wins(db_url: str) -> None:
    sessions = make_sessions(make_engine(db_url))
    away = explain(ReasonCode.ABSENCE_RECORDED, until=NOW + 86_400)
    with sessions.begin() as session:
        _save_persons(session, [
            PersonStateChanged("r-1", PersonState.HOME_ACTIVE, None, Reason.ACTIVITY_RESUMED, NOW),
            PersonStateChanged("r-2", PersonState.HOME_QUIET, None, Reason.SILENCE_EXCEEDED, NOW),
            PersonStateChanged("r-1", PersonState.AWAY, PersonState.HOME_ACTIVE, Reason.ABSENCE_RECORDED, NOW + 5, away),
        ])
    assert status(sessions, "r-1") == ("away", "absence_recorded", {"until": NOW + 86_400}, NOW + 5)
    assert status(sessions, "r-2") == ("home_quiet", "silence_exceeded", None, NOW)

    with sessions.begin() as session:  # an existing row is updated in place, params cleared
        _save_persons(session, [PersonStateChanged("r-1", PersonState.HOME_ACTIVE, PersonState.AWAY,
                                                   Reason.ACTIVITY_RESUMED, NOW + 60)])
    assert status(sessions, "r-1") == ("home_active", "activity_resumed", None, NOW + 60)
    assert status(sessions, "r-2") == ("home_quiet", "silence_exceeded", None, NOW)
    with sessions() as session:
        assert session.query(m.ResidentStatus).count() == 2
