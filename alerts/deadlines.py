"""Deadlines: a timing wheel of one-second buckets with lazy invalidation.

A deadline belongs to a kind (`ACK`, `DEVICE`, `RESIDENT`) and an id — the registry's own id
string, so a million devices carry no key strings of their own. Its wanted time is the `due`
slot of a holder: for devices and residents the engine's own `DeviceState`/`ResidentState`
(the tables given to `Deadlines`, the engine's dicts of them), so a million devices carry no
table entry of the deadlines' own either; for acks (and for every kind of a `Deadlines()` made
without tables) a one-slot `_Due` the deadlines make on arming and drop on firing. An id with
no state in the engine's table cannot be armed: there is nothing to judge for it.
`arm(kind, id, t)` sets the wanted time and appends the id to the bucket of second ⌊t⌋: O(1),
no tuple per deadline. Re-arming or disarming leaves the old bucket entry behind; it is skipped
when its bucket comes due because its holder no longer wants that second.

The earliest bucket is loaded into a small heap of (time, kind, id), so deadlines fire in
(time, kind, id) order — the order of the former "a:"/"d:"/"r:" keys — and runs are
reproducible. Deadlines armed at or before the loaded second go straight to that heap.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, MutableMapping
from typing import Any, Protocol

ACK, DEVICE, RESIDENT = "a", "d", "r"
KINDS = (ACK, DEVICE, RESIDENT)  # tie order at equal times


class Holder(Protocol):
    due: float | None


class _Due:
    """The holder of a deadline whose id has no state of its own (an alert's ack expiry)."""

    __slots__ = ("due",)

    def __init__(self) -> None:
        self.due: float | None = None


class Deadlines:
    __slots__ = ("_buckets", "_due", "_last_at", "_limit", "_loaded", "_owned", "_queued", "_seconds", "_tables")

    def __init__(self, states: Mapping[str, MutableMapping[str, Any]] | None = None) -> None:
        """`states`: kind → the engine's dict of id → state with a `due` slot (DEVICE, RESIDENT);
        the other kinds' holders are the deadlines' own."""
        states = states or {}
        self._tables: dict[str, MutableMapping[str, Any]] = {kind: states.get(kind, {}) for kind in KINDS}
        self._owned = frozenset(kind for kind in KINDS if kind not in states)  # holders made here, dropped on firing
        self._buckets: dict[str, dict[int, list[str]]] = {kind: {} for kind in KINDS}
        self._seconds: list[int] = []  # heap of bucket seconds (a second may appear once per kind)
        self._due: list[tuple[float, str, str]] = []  # heap of the loaded second and earlier ones
        self._loaded: float = float("-inf")  # the latest second moved into `_due`
        self._queued = 0  # ids in buckets, stale ones included
        self._limit = 1024  # compact the buckets when `_queued` passes this
        self._last_at: float | None = None

    def __len__(self) -> int:
        """How many deadlines are armed (a scan of the tables: for compaction and reports)."""
        return sum(1 for table in self._tables.values() for holder in table.values() if holder.due is not None)

    def has(self, kind: str, ident: str) -> bool:
        holder = self._tables[kind].get(ident)
        return holder is not None and holder.due is not None

    def get(self, kind: str, ident: str) -> float | None:
        holder = self._tables[kind].get(ident)
        return None if holder is None else holder.due

    def arm(self, kind: str, ident: str, at: float) -> None:
        """Set the deadline to `at` (replacing any earlier or later one)."""
        table = self._tables[kind]
        holder = table.get(ident)
        if holder is None:
            if kind not in self._owned:
                return  # no state for it (a device forgotten): nothing to judge
            holder = table[ident] = _Due()
        elif holder.due == at:
            return
        last = self._last_at
        if last is not None and at == last:
            at = last  # one float object for the many deadlines set to the same time
        else:
            self._last_at = at
        holder.due = at
        second = int(at)
        if second <= self._loaded:
            heapq.heappush(self._due, (at, kind, ident))
            return
        buckets = self._buckets[kind]
        bucket = buckets.get(second)
        if bucket is None:
            buckets[second] = [ident]
            heapq.heappush(self._seconds, second)
        else:
            bucket.append(ident)
        self._queued += 1
        if self._queued > self._limit:
            self._compact()

    def arm_earlier(self, kind: str, ident: str, at: float) -> None:
        """Set the deadline to `at` only if that is sooner than the current one (or none)."""
        holder = self._tables[kind].get(ident)  # `get` inlined: the engine re-arms residents this way on every deadline
        current = None if holder is None else holder.due
        if current is None or at < current:
            self.arm(kind, ident, at)

    def disarm(self, kind: str, ident: str) -> None:
        table = self._tables[kind]
        if kind in self._owned:
            table.pop(ident, None)
        elif (holder := table.get(ident)) is not None:
            holder.due = None

    def peek(self) -> float | None:
        due = self._due
        if due:  # the usual case, kept short: peek runs before every message
            at, kind, ident = due[0]
            holder = self._tables[kind].get(ident)
            if holder is not None and holder.due == at:
                return at
        while True:
            due = self._due
            while due:
                at, kind, ident = due[0]
                holder = self._tables[kind].get(ident)
                if holder is not None and holder.due == at:
                    return at
                heapq.heappop(due)
            if not self._load_next(float("inf")):
                return None

    def pop_due(self, now: float) -> tuple[float, str, str] | None:
        """Remove and return the earliest (deadline, kind, id) with deadline <= now, or None."""
        while True:
            due = self._due
            while due:
                at, kind, ident = due[0]
                holder = self._tables[kind].get(ident)
                if holder is None or holder.due != at:
                    heapq.heappop(due)
                elif at > now:
                    return None
                else:
                    heapq.heappop(due)
                    if kind in self._owned:  # `disarm` inlined: this runs for every deadline that fires
                        del self._tables[kind][ident]
                    else:
                        holder.due = None
                    return at, kind, ident
            if not self._load_next(now):
                return None

    def restore(self, wanted: Mapping[str, float]) -> None:
        """Replace every deadline at once from "kind:id" keys (the saved form, `items()`); a
        device's or resident's with no state in the tables is dropped (nothing to judge)."""
        for kind, table in self._tables.items():
            if kind in self._owned:
                table.clear()
            else:
                for holder in table.values():
                    holder.due = None
        for key, at in wanted.items():
            kind, ident = key[0], key[2:]
            holder = self._tables[kind].get(ident)
            if holder is None and kind in self._owned:
                holder = self._tables[kind][ident] = _Due()
            if holder is not None:
                holder.due = at
        self._rebuild()

    def items(self) -> list[tuple[str, float]]:
        """Every deadline as ("kind:id", time), sorted by key: the saved form."""
        return sorted((f"{kind}:{ident}", holder.due) for kind, table in self._tables.items()
                      for ident, holder in table.items() if holder.due is not None)

    def _load_next(self, limit: float) -> bool:
        """Move the earliest bucket at or before `limit` into the due heap (only called when it
        is empty); False when there is none."""
        seconds = self._seconds
        while seconds and seconds[0] <= limit:
            second = heapq.heappop(seconds)
            if second <= self._loaded:
                continue  # the same second queued for another kind: already loaded
            self._loaded = second
            due = []
            for kind in KINDS:
                ids = self._buckets[kind].pop(second, None)
                if ids:
                    self._queued -= len(ids)
                    table = self._tables[kind]
                    due += [(at, kind, i) for i in set(ids)
                            if (h := table.get(i)) is not None and (at := h.due) is not None and int(at) == second]
            if due:
                heapq.heapify(due)
                self._due = due
                return True
        return False

    def _compact(self) -> None:
        """Drop stale bucket entries once they outnumber the live deadlines."""
        live = len(self)
        if self._queued > 4 * live + 1024:
            self._rebuild()
        self._limit = max(2 * self._queued, 4 * live) + 1024

    def _rebuild(self) -> None:
        """Bucket every armed deadline afresh, stale entries gone."""
        self._buckets = {kind: {} for kind in KINDS}
        self._seconds, self._due, self._queued = [], [], 0
        for kind, table in self._tables.items():
            for ident, holder in table.items():
                at = holder.due
                if at is not None:
                    holder.due = None  # so that `arm` queues it afresh
                    self.arm(kind, ident, at)
