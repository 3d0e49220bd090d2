"""Simulated responders for `pingan demo`: some people answer their texts, others stay silent.

So the demo shows an alert's whole life — acknowledged, on site, resolved — and, for the texts
nobody answers, escalation to the next step. A responder's habits are fixed by their number
(the same people answer on every run): about two in three answer; one who answers replies `1`
with the code within a few demo minutes, `3` on arrival a quarter of an hour later and `9` when
done. Replies go through `SmsReplies.handle_reply`, the path a real SMS reply takes, so the
board, the audit and the home unit's `alert_ack` see exactly what they would see in service.
"""

from __future__ import annotations

import hashlib
import heapq
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from hub.dispatch.providers.base import InboundReply
from hub.dispatch.providers.console import ConsoleMessage, ConsoleProvider

log = logging.getLogger("pingan.demo.responders")

ANSWERING_SHARE = 0.65  # of responders (by number) who answer their texts at all
ACK_AFTER_S = (60, 300)  # demo seconds from the text to "1 CODE"
ARRIVE_AFTER_S = (8 * 60, 25 * 60)  # from the acknowledgement to "3 CODE"
RESOLVE_AFTER_S = (5 * 60, 20 * 60)  # from arrival to "9 CODE"
POLL_S = 0.2  # wall seconds between looks at the console's sent texts


def _fraction(*parts: str) -> float:
    """A stable number in [0, 1) for these words: the same person behaves the same on every run."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _within(bounds: tuple[int, int], *parts: str) -> float:
    low, high = bounds
    return low + (high - low) * _fraction(*parts)


@dataclass(order=True)
class _Reply:
    due: float
    phone: str = field(compare=False)
    body: str = field(compare=False)
    code: str = field(compare=False)
    step: str = field(compare=False)  # "1", "3" or "9"


@dataclass
class ResponderPlan:
    """Which replies to send, and when (pure: no I/O, demo time in, replies out)."""

    answering_share: float = ANSWERING_SHARE
    queue: list[_Reply] = field(default_factory=list)
    taken: set[str] = field(default_factory=set)  # codes somebody has acknowledged

    def answers(self, phone: str) -> bool:
        return _fraction("answers", phone) < self.answering_share

    def on_text(self, phone: str, code: str, now: float) -> None:
        """An alert text went to `phone`: plan its acknowledgement if this person answers."""
        if code in self.taken or not self.answers(phone):
            return
        heapq.heappush(self.queue, _Reply(now + _within(ACK_AFTER_S, "ack", phone, code), phone, f"1 {code}", code, "1"))

    def due(self, now: float) -> list[_Reply]:
        """Replies due by `now`, in order; an acknowledgement plans the arrival, an arrival the
        resolution; a second person's acknowledgement of a taken alert is dropped."""
        out: list[_Reply] = []
        while self.queue and self.queue[0].due <= now:
            reply = heapq.heappop(self.queue)
            if reply.step == "1":
                if reply.code in self.taken:
                    continue
                self.taken.add(reply.code)
                self._then(reply, "3", ARRIVE_AFTER_S)
            elif reply.step == "3":
                self._then(reply, "9", RESOLVE_AFTER_S)
            out.append(reply)
        return out

    def _then(self, reply: _Reply, step: str, bounds: tuple[int, int]) -> None:
        due = reply.due + _within(bounds, step, reply.phone, reply.code)
        heapq.heappush(self.queue, _Reply(due, reply.phone, f"{step} {reply.code}", reply.code, step))


def alert_code(message: ConsoleMessage) -> str | None:
    """The alert code of a text that asks for a reply (alert texts carry a code and a link)."""
    template = message.template
    if template is None or "link" not in template.params or "code" not in template.params:
        return None
    return template.params["code"]


class DemoResponders:
    """Watches what the console provider sent and answers through the hub's reply handling."""

    def __init__(
        self,
        provider: ConsoleProvider,
        handle_reply: Callable[[InboundReply], object],
        now: Callable[[], float],
        plan: ResponderPlan | None = None,
    ) -> None:
        self.provider = provider
        self.handle_reply = handle_reply
        self.now = now
        self.plan = plan or ResponderPlan()
        self._seen: set[str] = set()
        self._count = 0

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(POLL_S):
            try:
                self.step()
            except Exception:  # the demo goes on without its responders rather than stopping
                log.exception("demo responders: a reply failed")

    def step(self) -> int:
        """Take new texts, send the replies that are due; returns how many were sent."""
        now = self.now()
        sent = list(self.provider.messages)
        for message in sent:
            code = alert_code(message) if message.sid not in self._seen else None
            if code is not None:
                self.plan.on_text(message.to, code, now)
        self._seen = {message.sid for message in sent}  # the console keeps the latest texts only
        replies = self.plan.due(now)
        for reply in replies:
            self._count += 1
            log.info("demo responder replies %r", reply.body)
            self.handle_reply(InboundReply(reply.phone, "demo", reply.body, f"DEMO{self._count:06d}"))
        return len(replies)
