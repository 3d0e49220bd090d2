"""Communities and grids as boundaries: a user limited to some of them sees only their residents.

A user's `scope` (users.scope: community and grid ids; null = everything) becomes the set of
grid ids on their `Principal`. Reads of a limited user go through `scoped_session`, which adds
criteria to every ORM SELECT of that session (SQLAlchemy's `with_loader_criteria`, the documented
recipe for row-level filtering): residents of those grids, and the alerts, devices, absences,
family links, messages, events and audit records of those residents. The filter lives in one
place, so no page, API route, report or CSV can forget it; a row outside the scope is simply not
there (404 for a direct link). Live events are filtered per stream by `LiveScope`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, or_, select
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker, with_loader_criteria

from hub.storage import models as m


def grids_of(session: Session, scope: Collection[str] | None) -> frozenset[str] | None:
    """Grid ids a scope names: grids as they are, communities as all their grids (None: all)."""
    if scope is None:
        return None
    ids = list(scope)
    rows = session.scalars(select(m.Grid.id).where(or_(m.Grid.id.in_(ids), m.Grid.community_id.in_(ids))))
    return frozenset(rows)


def unknown_scope_ids(session: Session, scope: Collection[str]) -> list[str]:
    """Ids of a scope that are neither a community nor a grid (a typo would hide everything)."""
    known = set(session.scalars(select(m.Grid.id).where(m.Grid.id.in_(list(scope)))))
    known |= set(session.scalars(select(m.Community.id).where(m.Community.id.in_(list(scope)))))
    return sorted(set(scope) - known)


def _criteria(grids: frozenset[str]) -> list[Any]:
    residents = select(m.Resident.id).where(m.Resident.grid_id.in_(grids)).scalar_subquery()
    alerts = select(m.Alert.id).where(m.Alert.resident_id.in_(residents)).scalar_subquery()
    devices = select(m.Device.id).where(m.Device.resident_id.in_(residents)).scalar_subquery()
    return [
        with_loader_criteria(m.Resident, m.Resident.grid_id.in_(grids), include_aliases=True),
        with_loader_criteria(m.Alert, m.Alert.resident_id.in_(residents), include_aliases=True),
        with_loader_criteria(m.Device, m.Device.resident_id.in_(residents), include_aliases=True),
        with_loader_criteria(m.Absence, m.Absence.resident_id.in_(residents), include_aliases=True),
        with_loader_criteria(m.FamilyToken, m.FamilyToken.resident_id.in_(residents), include_aliases=True),
        with_loader_criteria(m.ResidentStatus, m.ResidentStatus.resident_id.in_(residents), include_aliases=True),
        with_loader_criteria(m.DeviceState, m.DeviceState.device_id.in_(devices), include_aliases=True),
        with_loader_criteria(m.Notification, m.Notification.alert_id.in_(alerts), include_aliases=True),
        with_loader_criteria(m.Event, m.Event.device_id.in_(devices), include_aliases=True),
        with_loader_criteria(m.Audit, or_(m.Audit.resident_id.in_(residents), m.Audit.alert_id.in_(alerts)),
                             include_aliases=True),
    ]


@contextmanager
def scoped_session(sessions: sessionmaker[Session], grids: frozenset[str] | None) -> Iterator[Session]:
    """A read session that sees only `grids` (every row when None)."""
    with sessions() as session:
        if grids is not None:
            criteria = _criteria(grids)

            @event.listens_for(session, "do_orm_execute")
            def _limit(state: ORMExecuteState) -> None:
                if state.is_select:
                    state.statement = state.statement.options(*criteria)

        yield session


class LiveScope:
    """Which live events a limited user's stream may carry: those about residents of its grids."""

    def __init__(self, sessions: sessionmaker[Session], grids: frozenset[str]) -> None:
        self.sessions = sessions
        self.grids = grids
        self._known: dict[tuple[str, str], bool] = {}  # (what, id) -> in scope

    def allows(self, kind: str, data: dict[str, Any]) -> bool:
        if kind not in ("alert", "resident", "device", "absence"):
            return True  # resync, session, hello: about nobody
        if "resident" in data:
            return self._in_scope("resident", str(data["resident"]))
        if "device" in data:
            return self._in_scope("device", str(data["device"]))
        if kind == "alert" and "id" in data:
            return self._in_scope("alert", str(data["id"]))
        return False  # about someone we cannot tell: not shown to a limited user

    def _in_scope(self, what: str, key: str) -> bool:
        if (what, key) not in self._known:
            if len(self._known) > 10_000:  # a long stream in a city: forget rather than grow
                self._known.clear()
            self._known[(what, key)] = self._lookup(what, key)
        return self._known[(what, key)]

    def _lookup(self, what: str, key: str) -> bool:
        resident = select(m.Resident.grid_id)
        query = {
            "resident": resident.where(m.Resident.id == key),
            "device": resident.join(m.Device, m.Device.resident_id == m.Resident.id).where(m.Device.id == key),
            "alert": resident.join(m.Alert, m.Alert.resident_id == m.Resident.id).where(m.Alert.id == key),
        }[what]
        with self.sessions() as session:
            grid = session.scalar(query)
        return grid is not None and grid in self.grids
