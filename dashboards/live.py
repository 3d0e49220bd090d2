"""Live updates: a small in-process publish/subscribe bus feeding the board's Server-Sent Events.

The hub calls `publish(kind, data)` after each commit, from any thread. Each SSE client holds a
bounded asyncio queue on its own event loop; `publish` hands events over with
`call_soon_threadsafe`, so a slow browser never blocks the hub. A queue that overflows is
emptied and gets one `resync` event: the board then reloads its lists, which is all an event
ever asks it to do, so nothing is lost by dropping the ones in between (and the drop is logged).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

RESYNC = "resync"
#: Published when a board session ends in this process: /live streams re-check theirs at once
#: instead of at their next periodic check. Never forwarded to browsers.
SESSION_EVENT = "session"


@dataclass(frozen=True)
class LiveEvent:
    kind: str  # "alert", "resident", "absence", "device", "resync", or "session"
    data: dict[str, Any] = field(default_factory=dict)


class _Subscriber:
    def __init__(self, loop: asyncio.AbstractEventLoop, queue_size: int) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[LiveEvent] = asyncio.Queue(queue_size)
        self.dropped = 0

    def offer(self, event: LiveEvent) -> None:
        """Runs on the subscriber's loop."""
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += self.queue.qsize()
            log.warning("live subscriber overflow dropped=%d kind=%s: sending resync", self.queue.qsize(), event.kind)
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(LiveEvent(RESYNC))


class EventBus:
    """Thread-safe fan-out of `LiveEvent`s to the SSE subscribers of this process."""

    def __init__(self, queue_size: int = 256) -> None:
        self._queue_size = queue_size
        self._subscribers: set[_Subscriber] = set()
        self._lock = threading.Lock()

    def publish(self, kind: str, data: dict[str, Any] | None = None) -> None:
        event = LiveEvent(kind, dict(data or {}))
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber.loop.call_soon_threadsafe(subscriber.offer, event)
            except RuntimeError:  # its loop is closed: the client is gone
                self._remove(subscriber)

    @property
    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscribers)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[LiveEvent]]:
        """A queue of events for the current event loop, unsubscribed on exit."""
        subscriber = _Subscriber(asyncio.get_running_loop(), self._queue_size)
        with self._lock:
            self._subscribers.add(subscriber)
        try:
            yield subscriber.queue
        finally:
            self._remove(subscriber)

    def _remove(self, subscriber: _Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(subscriber)
