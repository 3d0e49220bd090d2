"""Receipts that never came: ask the provider (Aliyun QuerySendDetails) for texts still `sent`.

A push can be lost (the hub was down longer than the provider retries, a proxy dropped it).
`ReceiptPoller.run_once()` takes alert texts that have been `sent` for longer than `after_s`
but not longer than `give_up_s`, asks `provider.query_status(sid, phone, sent_at)` and applies
an answer that moves the row on through the same entry point as pushed receipts
(`SmsReplies.handle_status`), so an undelivered text still moves escalation on. Each row is
asked at most once per `after_s`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hub.dispatch.dispatcher import PURPOSE_ALERT
from hub.dispatch.providers.base import DeliveryState, ProviderError, SmsProvider, StatusUpdate
from hub.storage import models as m

log = logging.getLogger("pingan.sms.receipts")


class ReceiptPoller:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        provider: SmsProvider,
        apply: Callable[[StatusUpdate], bool],
        clock: Callable[[], float],
        after_s: float = 600.0,
        give_up_s: float = 24 * 3600.0,
        batch: int = 50,
    ) -> None:
        self.sessions = sessions
        self.provider = provider
        self.apply = apply
        self.clock = clock
        self.after_s = after_s
        self.give_up_s = give_up_s
        self.batch = batch
        self._asked: dict[int, float] = {}  # row id -> when we last asked

    def run_once(self) -> int:
        """Ask about overdue receipts; returns how many rows changed state."""
        now = self.clock()
        with self.sessions() as session:
            rows = session.execute(
                select(m.Notification.id, m.Notification.provider_sid, m.Notification.phone, m.Notification.sent_at)
                .where(
                    m.Notification.state == DeliveryState.SENT.value,
                    m.Notification.purpose == PURPOSE_ALERT,
                    m.Notification.provider_sid.is_not(None),
                    m.Notification.sent_at <= now - self.after_s,
                    m.Notification.sent_at >= now - self.give_up_s,
                )
                .order_by(m.Notification.sent_at)
                .limit(self.batch)
            ).all()
        # Forget rows asked about longer ago than a day: they are past `give_up_s` by then.
        self._asked = {k: at for k, at in self._asked.items() if now - at < self.give_up_s}
        changed = 0
        for row_id, sid, phone, sent_at in rows:
            if now - self._asked.get(row_id, -self.after_s) < self.after_s:
                continue
            self._asked[row_id] = now
            try:
                update = self.provider.query_status(sid, phone, sent_at)
            except ProviderError as exc:
                log.warning("sms.query_failed sid=%s code=%s", sid, exc.code)
                continue
            if update.state is not DeliveryState.SENT and self.apply(update):
                changed += 1
        return changed

    def run(self, stop: threading.Event, every_s: float = 60.0) -> None:
        """The hub's thread: `run_once` every `every_s` until `stop` is set."""
        while not stop.wait(every_s):
            try:
                self.run_once()
            except Exception:
                log.exception("sms.receipt_poll_error")
