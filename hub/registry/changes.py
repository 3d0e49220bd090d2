"""The registry's change log: what each write changed, so hubs adopt only that.

Every path that writes residents, devices, absences, communities or grids (import, the
workspace, absences) records one `RegistryChange` in its own transaction. A hub remembers the
last change it adopted and, every few seconds, adopts the newer ones entry by entry
(`HubCore`), instead of reloading the whole registry: at a city's size a full reload takes
tens of seconds of the engine's lock (issue 18 item 5).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from hub.storage import models as m

# Above this many entries one change asks for a full reload: listing 100,000 ids in a row and
# adopting them one by one costs more than reading the registry once.
MAX_LISTED = 5_000


def record_change(session: Session, residents: Iterable[str] = (), devices: Iterable[str] = (), full: bool = False) -> None:
    """Log a registry write (in the writer's transaction); nothing is logged for no change."""
    resident_ids, device_ids = sorted(set(residents)), sorted(set(devices))
    if not (resident_ids or device_ids or full):
        return
    if len(resident_ids) + len(device_ids) > MAX_LISTED:
        resident_ids, device_ids, full = [], [], True
    session.add(m.RegistryChange(residents=resident_ids, devices=device_ids, full=full))
    session.flush()


def forget_resident(session: Session, resident_id: str) -> None:
    """An erased resident's id leaves the log too (`pingan erase`): the changes that named them
    become full reloads, which is how every hub learns that the resident is gone."""
    named = select(m.RegistryChange).where(cast(m.RegistryChange.residents, String).like(f'%"{resident_id}"%'))
    for change in session.scalars(named):
        change.residents = [r for r in change.residents if r != resident_id]
        change.full = True
    record_change(session, full=True)


def latest_change(session: Session) -> int:
    """The id of the newest change (0 for none): a hub that loads the registry has adopted it."""
    return int(session.scalar(select(func.max(m.RegistryChange.id))) or 0)


@dataclass
class Pending:
    """The changes after the one a hub adopted last, merged."""

    last: int
    residents: set[str] = field(default_factory=set)
    devices: set[str] = field(default_factory=set)
    full: bool = False

    def __bool__(self) -> bool:
        return self.full or bool(self.residents or self.devices)


def changes_since(session: Session, adopted: int) -> Pending:
    pending = Pending(adopted)
    rows = session.execute(
        select(m.RegistryChange.id, m.RegistryChange.residents, m.RegistryChange.devices, m.RegistryChange.full)
        .where(m.RegistryChange.id > adopted).order_by(m.RegistryChange.id)
    )
    for change_id, residents, devices, full in rows:
        pending.last = change_id
        pending.residents.update(residents)
        pending.devices.update(devices)
        pending.full = pending.full or full
    return pending
