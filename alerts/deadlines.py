"""Deadlines: a timing wheel of one-second buckets with lazy invalidation.

A deadline belongs to a kind (`ACK`, `DEVICE`, `RESIDENT`) and an id — the registry's own id
string, so a million devices carry no key strings of their own. `arm(kind, id, t)` records the
wanted time in that kind's table and appends the id to the bucket of second ⌊t⌋: O(1), no
tuple per deadline. Re-arming or disarming leaves the old bucket entry behind; it is skipped
when its bucket comes due because the table no longer wants that second.

The earliest bucket is loaded into a small heap of (time, kind, id), so deadlines fire in
(time, kind, id) order — the order of the former "a:"/"d:"/"r:" keys — and runs are
reproducible. Deadlines armed at or before the loaded second go straight to that heap.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping

ACK, DEVICE, RESIDENT = "a", "d", "r"
KINDS = (ACK, DEVICE, RESIDENT)  # tie order at equal times


class Deadlines:
    __slots__ = ("_buckets", "_due", "_last_at", "_limit", "_loaded", "_queued", "_seconds", "_wanted")

    def __init__(self) -> None:
        self._wanted: dict[str, dict[str, float]] = {kind: {} for kind in KINDS}
        self._buckets: dict[str, dict[int, list[str]]] = {kind: {} for kind in KINDS}
        self._seconds: list[int] = []  # heap of bucket seconds (a second may appear once per kind)
        self._due: list[tuple[float, str, str]] = []  # heap of the loaded second and earlier ones
        self._loaded: float = float("-inf")  # the latest second moved into `_due`
        self._queued = 0  # ids in buckets, stale ones included
        self._limit = 1024  # compact the buckets when `_queued` passes this
        self._last_at: float | None = None

    def __len__(self) -> int:
        return sum(len(table) for table in self._wanted.values())

    def has(self, kind: str, ident: str) -> bool:
        return ident in self._wanted[kind]

    def get(self, kind: str, ident: str) -> float | None:
        return self._wanted[kind].get(ident)

    def arm(self, kind: str, ident: str, at: float) -> None:
        """Set the deadline to `at` (replacing any earlier or later one)."""
        wanted = self._wanted[kind]
        if wanted.get(ident) == at:
            return
        last = self._last_at
        if last is not None and at == last:
            at = last  # one float object for the many deadlines set to the same time
        else:
            self._last_at = at
        wanted[ident] = at
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
        current = self._wanted[kind].get(ident)
        if current is None or at < current:
            self.arm(kind, ident, at)

    def disarm(self, kind: str, ident: str) -> None:
        self._wanted[kind].pop(ident, None)

    def peek(self) -> float | None:
        due = self._due
        if due:  # the usual case, kept short: peek runs before every message
            at, kind, ident = due[0]
            if self._wanted[kind].get(ident) == at:
                return at
        while True:
            due = self._due
            while due:
                at, kind, ident = due[0]
                if self._wanted[kind].get(ident) == at:
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
                wanted = self._wanted[kind]
                if wanted.get(ident) != at:
                    heapq.heappop(due)
                elif at > now:
                    return None
                else:
                    heapq.heappop(due)
                    del wanted[ident]
                    return at, kind, ident
            if not self._load_next(now):
                return None

    def restore(self, wanted: Mapping[str, float]) -> None:
        """Replace every deadline at once from "kind:id" keys (the saved form, `items()`)."""
        self._wanted = {kind: {} for kind in KINDS}
        for key, at in wanted.items():
            self._wanted[key[0]][key[2:]] = at
        self._rebuild()

    def items(self) -> list[tuple[str, float]]:
        """Every deadline as ("kind:id", time), sorted by key: the saved form."""
        return sorted((f"{kind}:{ident}", at) for kind, table in self._wanted.items() for ident, at in table.items())

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
                    wanted = self._wanted[kind]
                    due += [(at, kind, i) for i in set(ids) if (at := wanted.get(i)) is not None and int(at) == second]
            if due:
                heapq.heapify(due)
                self._due = due
                return True
        return False

    def _compact(self) -> None:
        """Drop stale bucket entries once they outnumber the live deadlines."""
        if self._queued > 4 * len(self) + 1024:
            self._rebuild()
        self._limit = max(2 * self._queued, 4 * len(self)) + 1024

    def _rebuild(self) -> None:
        self._buckets = {kind: {} for kind in KINDS}
        self._seconds, self._due, self._queued = [], [], 0
        wanted, self._wanted = self._wanted, {kind: {} for kind in KINDS}
        for kind, table in wanted.items():
            for ident, at in table.items():
                self.arm(kind, ident, at)
