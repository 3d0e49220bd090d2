"""Handling an alert as a team: notes (who, when, text) and the named responder it is assigned to.

Both are audit records of the alert (`alert.note`, `alert.assign`, with the alert and its
resident), not engine decisions: they change no state and send nothing, and as audit rows they
are covered by retention (`retention.audit_days`) and by erasure like every other record of the
alert. The assignee is the newest `alert.assign` record. The caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.storage import models as m

NOTE = "alert.note"
ASSIGN = "alert.assign"
BACKUP = "alert.backup"
MAX_NOTE = 2000


class TeamworkError(ValueError):
    """Refused: names the field at fault (`field`) for a 422."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Note:
    at: float
    author: str
    channel: str
    text: str


@dataclass(frozen=True)
class Assignment:
    at: float
    by: str
    responder: str  # responder id
    name: str  # as people read it


def _alert(session: Session, alert_id: str) -> m.Alert:
    row = session.get(m.Alert, alert_id)
    if row is None:
        raise LookupError(f"no alert {alert_id!r}")
    return row


def add_note(session: Session, alert_id: str, text: str, author: str, channel: str, now: float) -> Note:
    text = text.replace("\x00", "").strip()
    if not text:
        raise TeamworkError("text", "a note needs some text")
    if len(text) > MAX_NOTE:
        raise TeamworkError("text", f"a note has at most {MAX_NOTE} characters")
    alert = _alert(session, alert_id)
    session.add(m.Audit(at=now, actor=author, channel=channel, action=NOTE, alert_id=alert.id,
                        resident_id=alert.resident_id, detail={"text": text}))
    return Note(now, author, channel, text)


def notes_of(session: Session, alert_id: str) -> list[Note]:
    rows = session.scalars(
        select(m.Audit).where(m.Audit.alert_id == alert_id, m.Audit.action == NOTE).order_by(m.Audit.at, m.Audit.id)
    )
    return [Note(r.at, r.actor, r.channel, str((r.detail or {}).get("text", ""))) for r in rows]


def assign(session: Session, alert_id: str, responder_id: str, by: str, channel: str, now: float) -> Assignment:
    """Assign a registered responder (by id); a resolved alert cannot be assigned."""
    alert = _alert(session, alert_id)
    responder = session.get(m.Responder, responder_id)
    if responder is None:
        raise TeamworkError("responder", f"no responder {responder_id!r}")
    if alert.state == "resolved":
        raise TeamworkError("alert", f"alert {alert.code} is resolved")
    session.add(m.Audit(at=now, actor=by, channel=channel, action=ASSIGN, alert_id=alert.id,
                        resident_id=alert.resident_id, detail={"responder": responder.id, "name": responder.name}))
    return Assignment(now, by, responder.id, responder.name)


def assignee_of(session: Session, alert_id: str) -> Assignment | None:
    row = session.scalars(
        select(m.Audit).where(m.Audit.alert_id == alert_id, m.Audit.action == ASSIGN).order_by(m.Audit.at.desc(), m.Audit.id.desc())
    ).first()
    if row is None:
        return None
    detail = row.detail or {}
    return Assignment(row.at, row.actor, str(detail.get("responder", "")), str(detail.get("name", "")))


def assignees_of(session: Session, alert_ids: list[str]) -> dict[str, Assignment]:
    """The current assignee of each of these alerts that has one (the board's list)."""
    if not alert_ids:
        return {}
    rows = session.scalars(
        select(m.Audit).where(m.Audit.alert_id.in_(alert_ids), m.Audit.action == ASSIGN).order_by(m.Audit.at, m.Audit.id)
    )
    found: dict[str, Assignment] = {}
    for row in rows:  # oldest first: the newest wins
        detail = row.detail or {}
        found[str(row.alert_id)] = Assignment(row.at, row.actor, str(detail.get("responder", "")), str(detail.get("name", "")))
    return found


def record_backup(session: Session, alert_id: str, by: str, channel: str, now: float) -> None:
    """Who asked for backup from the board or the API (the dispatcher records the step itself)."""
    alert = _alert(session, alert_id)
    session.add(m.Audit(at=now, actor=by, channel=channel, action=BACKUP, alert_id=alert.id,
                        resident_id=alert.resident_id, detail={"step": alert.escalation_step}))


def responders(session: Session) -> list[tuple[str, str, str]]:
    """(id, name, role) of every available responder, for the assign form."""
    rows = session.execute(
        select(m.Responder.id, m.Responder.name, m.Responder.role).where(m.Responder.available.is_(True)).order_by(m.Responder.name)
    )
    return [(r[0], r[1], r[2]) for r in rows]
