"""What the SMS provider answers, as inputs of the hub's one decision step.

The outbox sender only talks to the provider. What an answer means — the message is out, it
failed for good and the next person of the role (or the next step) must be told, a delivery
receipt says it never arrived — is decided in the same place as device messages and operator
actions: `HubCore.on_send_outcome` / `HubCore.on_receipt` run `Feedback` inside a decision
(the transaction, then the core lock), so escalation is decided on one path under one lock.

`OutboxOnly` runs the same `Feedback` in a plain transaction, for the dispatch tests and
benchmarks that exercise the outbox without a rules engine; the hub never uses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from hub.clock import Clock
from hub.dispatch.dispatcher import PURPOSE_ALERT
from hub.dispatch.providers.base import DeliveryState, StatusUpdate
from hub.storage import models as m


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """The provider's answer for one claimed message, or the sender's verdict (expired)."""

    notification_id: int
    alert_id: str | None  # routes the decision to the alert's rules partition
    owner: str  # the sender holding the lease: a result without it is dropped
    attempts: int
    state: DeliveryState  # SENT or DELIVERED, QUEUED (retry at `retry_at`), FAILED, EXPIRED
    sid: str | None = None
    error: tuple[str, str] | None = None  # (code, message)
    retry_at: float | None = None


@dataclass(frozen=True, slots=True)
class Applied:
    row: m.Notification
    first_message: bool  # the first text of its alert to go out: time to first message starts here


class FeedbackSink(Protocol):
    """Where the sender and the receipt webhook hand what the provider said (HubCore)."""

    def on_send_outcome(self, outcome: SendOutcome) -> bool: ...

    def on_receipt(self, update: StatusUpdate) -> bool: ...


class Escalation(Protocol):
    """What escalation does about a message that failed or a receipt (the Dispatcher)."""

    def on_send_failed(self, session: Session, note: m.Notification, now: float) -> object: ...

    def on_status(self, session: Session, update: StatusUpdate, now: float) -> m.Notification | None: ...


class Feedback:
    """The database side of an answer, run inside the caller's transaction."""

    def __init__(self, dispatcher: Escalation) -> None:
        self.dispatcher = dispatcher

    def send_outcome(self, session: Session, outcome: SendOutcome, now: float) -> Applied | None:
        """None when the lease was lost: another sender took the row and its result wins."""
        row = session.scalars(
            select(m.Notification).where(m.Notification.id == outcome.notification_id).with_for_update()
        ).one()
        leased = (row.lease_owner == outcome.owner and row.state == DeliveryState.SENDING.value
                  and row.attempts == outcome.attempts)
        if not leased:
            return None
        row.state, row.lease_until = outcome.state.value, None
        if outcome.state in (DeliveryState.SENT, DeliveryState.DELIVERED):
            row.provider_sid, row.sent_at = outcome.sid, now
            if outcome.state is DeliveryState.DELIVERED:
                row.delivered_at = now
            return Applied(row, row.purpose == PURPOSE_ALERT and _first_of_alert(session, row.alert_id, now))
        if outcome.error is not None:
            row.error_code, row.error = outcome.error[0][:32], outcome.error[1][:2000]
        if outcome.retry_at is not None:
            row.next_attempt_at = outcome.retry_at
        if outcome.state is DeliveryState.FAILED:
            self.dispatcher.on_send_failed(session, row, now)
        return Applied(row, False)

    def receipt(self, session: Session, update: StatusUpdate, now: float) -> m.Notification | None:
        return self.dispatcher.on_status(session, update, now)


def _first_of_alert(session: Session, alert_id: str | None, now: float) -> bool:
    if alert_id is None:
        return False
    changed = session.execute(
        update(m.Alert)
        .where(m.Alert.id == alert_id, m.Alert.first_notified_at.is_(None))
        .values(first_notified_at=now)
        .execution_options(synchronize_session=False)
    )
    return getattr(changed, "rowcount", 0) == 1


class OutboxOnly:
    """`Feedback` in a transaction of its own: the outbox without a rules engine (tests, benchmarks)."""

    def __init__(self, sessions: sessionmaker[Session], dispatcher: Escalation, clock: Clock) -> None:
        self.sessions, self.feedback, self.clock = sessions, Feedback(dispatcher), clock

    def on_send_outcome(self, outcome: SendOutcome) -> bool:
        with self.sessions.begin() as session:
            return self.feedback.send_outcome(session, outcome, self.clock.now()) is not None

    def on_receipt(self, update: StatusUpdate) -> bool:
        with self.sessions.begin() as session:
            return self.feedback.receipt(session, update, self.clock.now()) is not None
