"""The only place that reads the wall clock. Everything else gets `now` from a Clock.

`SystemClock` for the daemon; `VirtualClock` for tests and offline replay, advanced by hand.
Times are Unix epoch seconds (float, UTC).
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


class VirtualClock:
    """A clock that moves only when told to; never goes backwards."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._now

    def set(self, t: float) -> None:
        if t > self._now:  # not max(): offline replay sets the clock for every message
            self._now = t

    def advance(self, seconds: float) -> float:
        self._now += seconds
        return self._now


class ScaledClock:
    """Time that runs `speed` times faster than the wall clock from `start` on (the demo's clock:
    a simulated day passes in 24 minutes at speed 60, and the rules see it pass)."""

    def __init__(self, start: float, speed: float) -> None:
        self.start, self.speed = start, speed
        self._mono0 = time.monotonic()

    def now(self) -> float:
        return self.start + (time.monotonic() - self._mono0) * self.speed

    def monotonic(self) -> float:
        return time.monotonic()
