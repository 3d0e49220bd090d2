"""Family links: private, revocable, optionally expiring URLs `/f/{token}` for one resident.

The token is 32 random bytes (urlsafe base64) shown once at creation; only its sha256 is stored,
so a database dump does not open any family page. A token that is unknown, revoked or expired
resolves to None, and the page answers with the same 404 in every case.

These rows are the web's own access data, not alert state, so they are written here rather than
through the hub's service ports.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.storage.models import Audit, FamilyToken, Resident


class UnknownResident(LookupError):
    pass


@dataclass(frozen=True)
class FamilyLink:
    id: int
    resident: str
    label: str
    created_at: float
    expires_at: float | None
    revoked_at: float | None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _link(row: FamilyToken) -> FamilyLink:
    return FamilyLink(row.id, row.resident_id, row.label, row.created_at, row.expires_at, row.revoked_at)


def create_family_link(
    session: Session, resident_id: str, now: float, actor: str, label: str = "", ttl_s: float | None = None
) -> tuple[FamilyLink, str]:
    """A new link and its raw token (the only time the token exists in clear). Commits."""
    if session.get(Resident, resident_id) is None:
        raise UnknownResident(resident_id)
    token = secrets.token_urlsafe(32)
    row = FamilyToken(
        resident_id=resident_id,
        token_hash=_hash(token),
        label=label,
        created_at=now,
        expires_at=now + ttl_s if ttl_s else None,
    )
    session.add(row)
    session.flush()
    _audit(session, now, actor, "family_link_created", resident_id, {"link": row.id, "label": label})
    session.commit()
    return _link(row), token


def revoke_family_link(session: Session, link_id: int, now: float, actor: str) -> FamilyLink | None:
    row = session.get(FamilyToken, link_id)
    if row is None:
        return None
    if row.revoked_at is None:
        row.revoked_at = now
        _audit(session, now, actor, "family_link_revoked", row.resident_id, {"link": row.id})
        session.commit()
    return _link(row)


def resolve_family_token(session: Session, token: str, now: float) -> FamilyLink | None:
    """The live link behind `token`, or None when unknown, revoked or expired."""
    if not token or len(token) > 128:
        return None
    row = session.scalar(select(FamilyToken).where(FamilyToken.token_hash == _hash(token)))
    if row is None or row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    return _link(row)


def links_of(session: Session, resident_id: str) -> list[FamilyLink]:
    query = select(FamilyToken).where(FamilyToken.resident_id == resident_id).order_by(FamilyToken.id)
    return [_link(r) for r in session.scalars(query)]


def record_family_view(session: Session, link: FamilyLink, now: float, client: str) -> None:
    """Every family page view is an audit record. Commits."""
    _audit(session, now, f"family-link:{link.id}", "family_view", link.resident, {"link": link.id, "client": client})
    session.commit()


def _audit(session: Session, now: float, actor: str, action: str, resident_id: str, detail: dict[str, object]) -> None:
    session.add(Audit(at=now, actor=actor, channel="web", action=action, resident_id=resident_id, detail=detail))
