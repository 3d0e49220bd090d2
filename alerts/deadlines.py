"""Deadlines: a binary heap keyed by (deadline, id) with lazy invalidation.

`arm(key, t)` records the wanted time in a dict and pushes (t, key); re-arming or disarming
leaves the old heap entry behind, and it is skipped when popped because it no longer matches
the dict. One dict entry and at most a few heap tuples per key: fit for a million devices
(one APScheduler job per device is not). Ties fire in key order, so runs are reproducible.
"""

from __future__ import annotations

import heapq


class DeadlineHeap:
    __slots__ = ("_heap", "_wanted")

    def __init__(self) -> None:
        self._heap: list[tuple[float, str]] = []
        self._wanted: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._wanted)

    def __contains__(self, key: str) -> bool:
        return key in self._wanted

    def get(self, key: str) -> float | None:
        return self._wanted.get(key)

    def arm(self, key: str, at: float) -> None:
        """Set the key's deadline to `at` (replacing any earlier or later one)."""
        if self._wanted.get(key) == at:
            return
        self._wanted[key] = at
        heapq.heappush(self._heap, (at, key))
        if len(self._heap) > 4 * len(self._wanted) + 1024:
            self._compact()

    def arm_earlier(self, key: str, at: float) -> None:
        """Set the deadline to `at` only if that is sooner than the current one (or none)."""
        current = self._wanted.get(key)
        if current is None or at < current:
            self.arm(key, at)

    def disarm(self, key: str) -> None:
        self._wanted.pop(key, None)

    def peek(self) -> float | None:
        heap, wanted = self._heap, self._wanted
        while heap:
            at, key = heap[0]
            if wanted.get(key) == at:
                return at
            heapq.heappop(heap)
        return None

    def pop_due(self, now: float) -> tuple[float, str] | None:
        """Remove and return the earliest (deadline, key) with deadline <= now, or None."""
        heap, wanted = self._heap, self._wanted
        while heap and heap[0][0] <= now:
            at, key = heapq.heappop(heap)
            if wanted.get(key) == at:
                del wanted[key]
                return at, key
        return None

    def restore(self, wanted: dict[str, float]) -> None:
        """Replace every deadline at once (a restart: one heapify, not a push per key)."""
        self._wanted = dict(wanted)
        self._compact()

    def items(self) -> list[tuple[str, float]]:
        return sorted(self._wanted.items())

    def _compact(self) -> None:
        self._heap = [(at, key) for key, at in self._wanted.items()]
        heapq.heapify(self._heap)
