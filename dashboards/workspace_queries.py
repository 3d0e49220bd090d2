"""Read side of the workspace: residents paged and searched, devices, responders.

A city has 100,000 residents: lists are always paged (`PER_PAGE_MAX`), counted with the same
filter, and searched with one indexed-or-scanned query — never loaded whole (see
benchmarks/workspace.py for the p95 at that size on SQLite and PostgreSQL).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from hub.storage import models as m

PER_PAGE = 50
PER_PAGE_MAX = 200


@dataclass(frozen=True)
class Page:
    residents: list[m.Resident]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def resident_filter(q: str = "", grid: str = "", dialect: str = "sqlite") -> list[ColumnElement[bool]]:
    """Live residents whose id, name, address or a contact's phone contains `q` (any case)."""
    conditions: list[ColumnElement[bool]] = [m.Resident.retired_at.is_(None)]
    if grid:
        conditions.append(m.Resident.grid_id == grid)
    text = q.strip()
    if text:
        like = _like(text)
        # SQLite's LIKE ignores ASCII case by itself and is ~8x faster than lower() LIKE lower()
        # (what ilike renders there); Chinese has no case. PostgreSQL needs ILIKE.
        def contains(column: Any) -> ColumnElement[bool]:
            matched: ColumnElement[bool] = (column.ilike(like, escape="\\") if dialect == "postgresql"
                                            else column.like(like, escape="\\"))
            return matched

        matches = [contains(m.Resident.id), contains(m.Resident.name), contains(m.Resident.address)]
        if any(ch.isdigit() for ch in text):  # phones are digits: skip the contacts' scan for a name
            matches.append(m.Resident.id.in_(select(m.Contact.resident_id).where(m.Contact.phone.like(like, escape="\\"))))
        conditions.append(or_(*matches))
    return conditions


def search_residents(session: Session, q: str = "", grid: str = "", page: int = 1, per_page: int = PER_PAGE) -> Page:
    """One page of residents by id. A search scans once for the matching ids (their count is
    the total) and loads only the page's rows; the plain list counts and seeks by the index."""
    per_page = max(1, min(per_page, PER_PAGE_MAX))
    page = max(1, page)
    conditions = resident_filter(q, grid, session.get_bind().dialect.name)
    start = (page - 1) * per_page
    if q.strip():
        ids = list(session.scalars(select(m.Resident.id).where(*conditions).order_by(m.Resident.id)))
        total, wanted = len(ids), ids[start:start + per_page]
        rows = session.scalars(select(m.Resident).where(m.Resident.id.in_(wanted)).order_by(m.Resident.id)).all() if wanted else []
    else:
        total = session.scalar(select(func.count()).select_from(m.Resident).where(*conditions)) or 0
        rows = session.scalars(select(m.Resident).where(*conditions).order_by(m.Resident.id).offset(start).limit(per_page)).all()
    return Page(list(rows), total, page, per_page)


def live_resident(session: Session, resident_id: str) -> m.Resident | None:
    row = session.get(m.Resident, resident_id)
    return row if row is not None and row.retired_at is None else None


def devices_of(session: Session, resident_id: str, include_retired: bool = False) -> list[m.Device]:
    query = select(m.Device).where(m.Device.resident_id == resident_id)
    if not include_retired:
        query = query.where(m.Device.retired_at.is_(None))
    return list(session.scalars(query.order_by(m.Device.id)))


def list_devices(session: Session, resident: str = "", page: int = 1, per_page: int = PER_PAGE) -> tuple[list[m.Device], int]:
    per_page = max(1, min(per_page, PER_PAGE_MAX))
    conditions: list[ColumnElement[bool]] = [m.Device.retired_at.is_(None)]
    if resident:
        conditions.append(m.Device.resident_id == resident)
    total = session.scalar(select(func.count()).select_from(m.Device).where(*conditions)) or 0
    rows = session.scalars(select(m.Device).where(*conditions).order_by(m.Device.id).offset((max(1, page) - 1) * per_page).limit(per_page))
    return list(rows), total


def responders(session: Session) -> list[m.Responder]:
    return list(session.scalars(select(m.Responder).order_by(m.Responder.id)))


def grids(session: Session) -> list[m.Grid]:
    return list(session.scalars(select(m.Grid).order_by(m.Grid.id)))


#: The board's order: who needs someone first (an open alert, then no working sensor), then the rest.
PROBLEM_STATES = ("alert", "unknown")
BOARD_STATES = ("alert", "unknown", "away", "home_active", "home_quiet")


def board_page(session: Session, q: str = "", grid: str = "", state: str = "", page: int = 1,
               per_page: int = PER_PAGE) -> tuple[list[str], int]:
    """The ids of one page of the board's residents list, problems first, and how many match.

    Problems are few (residents with an open alert, or whose person state the engine found
    `unknown`): they are read whole and come first; the rest follow by id, paged in the database.
    `state` filters on the person state the engine last decided (`resident_status`), `alert` on
    an open alert."""
    per_page = max(1, min(per_page, PER_PAGE_MAX))
    start = (max(1, page) - 1) * per_page
    conditions = resident_filter(q, grid, session.get_bind().dialect.name)
    alerting = select(m.Alert.resident_id).where(m.Alert.state != "resolved", m.Alert.resident_id.is_not(None))
    unknown = select(m.ResidentStatus.resident_id).where(m.ResidentStatus.state == "unknown")
    if state == "alert":
        conditions.append(m.Resident.id.in_(alerting))
    elif state:
        conditions.append(m.Resident.id.in_(select(m.ResidentStatus.resident_id).where(m.ResidentStatus.state == state)))
        conditions.append(m.Resident.id.not_in(alerting))
    by_id = select(m.Resident.id).where(*conditions).order_by(m.Resident.id)
    first = list(session.scalars(by_id.where(m.Resident.id.in_(alerting))))
    first += list(session.scalars(by_id.where(m.Resident.id.in_(unknown), m.Resident.id.not_in(alerting))))
    total = session.scalar(select(func.count()).select_from(m.Resident).where(*conditions)) or 0
    wanted = first[start:start + per_page]
    if len(wanted) < per_page:  # the rest of the page from the others, by id
        rest = by_id.where(m.Resident.id.not_in(first)) if first else by_id
        offset = max(0, start - len(first))
        wanted += list(session.scalars(rest.offset(offset).limit(per_page - len(wanted))))
    return wanted, total
