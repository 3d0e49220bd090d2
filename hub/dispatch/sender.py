"""The outbox sender: claims due Notification rows with a lease, sends them, records the result.

Crash safety comes from the order of commits:
1. claim (one transaction): queued rows that are due, or `sending` rows whose lease ran out,
   become `sending` with `lease_until` and `lease_owner` (FOR UPDATE SKIP LOCKED on PostgreSQL;
   on SQLite the conditional UPDATE is the arbiter);
2. the HTTP request to the provider, outside any transaction;
3. record: the answer goes to the hub's decision step (`FeedbackSink.on_send_outcome`, i.e.
   `HubCore`, hub/dispatch/feedback.py), which in one transaction stores `sent` + provider sid,
   or a retry time, or `failed` and what escalation does about it — only if this sender still
   holds the lease.
A crash before 2 leaves a leased row that another sender takes after `lease_until`: nothing
lost, nothing doubled. A crash between the provider's acceptance in 2 and the commit of 3 is
the one window where a message can go out twice; `last_record_window_s` measures it and
docs/DISPATCH.md reports it. The lease must outlast the provider timeout, or a slow but live
request would be taken over.

Recoverable provider errors (an outage) never lose a text of an alert that is still open
(nobody acknowledged it): it is retried, past its validity and past `max_attempts`, until the
provider takes it or the alert is acknowledged or resolved. Other texts are retried up to
`max_attempts` within their validity. See docs/DISPATCH.md "A provider outage".

Channels: a row's `channel` picks the way out — `sms` (the SMS provider), `voice` (the voice
provider places a call; the call's result comes back through `CallResults`, hub/dispatch/calls.py),
`group` (a card to a grid's robot, `GroupRobots`). Same claim, lease, retries and record for all.
A call whose alert was acknowledged or resolved by the time it is due is cancelled, not placed.

Time comes from the injected clock; the loop waits on an Event, so `stop()` and `wake()`
act at once.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from alerts.actions import AlertState
from hub.clock import Clock
from hub.dispatch.dispatcher import CHANNEL_GROUP, CHANNEL_SMS, CHANNEL_VOICE, PURPOSE_ALERT
from hub.dispatch.feedback import FeedbackSink, SendOutcome
from hub.dispatch.providers.base import DeliveryState, ProviderError, SendResult, SmsProvider, TemplateMessage
from hub.dispatch.providers.groups import GroupRobots
from hub.dispatch.providers.voice import VoiceProvider
from hub.storage import models as m

log = logging.getLogger("pingan.outbox")


@dataclass(frozen=True)
class SenderSettings:
    owner: str = "sender-1"  # unique per process: lease ownership
    lease_s: float = 60.0  # > provider timeout, or a slow live request gets taken over
    batch: int = 20
    max_attempts: int = 20  # spread over the text's validity (see _backoff); open alerts' texts are not counted
    backoff_base_s: float = 10.0
    backoff_max_s: float = 600.0
    #: a text of an open alert retries at least this often: somebody waits for help, and a provider
    #: that recovers is used within this time, however long the outage and the text's validity
    alert_retry_max_s: float = 30.0
    #: the ValidityPeriod of a text of an open alert sent after its own validity (the provider refused
    #: it until then): one short escalation step, so it does not arrive long after the alert is over
    late_validity_s: float = 300.0
    idle_wait_s: float = 1.0  # how long the loop waits when nothing is due (wake() cuts it short)
    status_callback: str | None = None  # {http.public_url}/webhooks/twilio/status


class OutboxBell:
    """Rings the sender awake when a decision queued messages; made before the sender and the
    core, which both hold it."""

    def __init__(self) -> None:
        self.event = threading.Event()
        # Rung and not claimed yet: ingestion's main writer gives way before its next batch, so the
        # sender's claim (SQLite: the write lock) does not queue behind a drained backlog.
        self.pending = False

    def wake(self) -> None:
        self.pending = True
        self.event.set()


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    phone: str
    body: str
    valid_until: float | None
    attempts: int
    alert_id: str | None  # set for alert texts only (purpose "alert"): the ones an open alert keeps alive
    refused: bool  # the provider refused an earlier attempt with a recoverable error
    template: TemplateMessage | None = None  # what domestic providers send (rows before templates: None)
    channel: str = CHANNEL_SMS
    grid: str = ""  # group cards: the grid whose robot posts it
    robot: str = ""  # group cards: wecom | dingtalk
    title: str = ""  # group cards: DingTalk's title


WINDOWS_KEPT = 10_000  # commit windows kept for the benchmark: the latest, bounded


def _windows() -> deque[float]:
    return deque(maxlen=WINDOWS_KEPT)


@dataclass
class SenderStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    expired: int = 0
    lost_lease: int = 0
    late: int = 0  # alert texts sent after their validity, because the provider refused them until then
    cancelled: int = 0  # calls due after their alert was acknowledged or resolved
    #: seconds between the provider's answer and our commit, for each accepted message:
    #: the window in which a crash would send the message twice. The latest WINDOWS_KEPT only.
    record_windows_s: deque[float] = field(default_factory=_windows)


class OutboxSender:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        provider: SmsProvider,
        decisions: FeedbackSink,
        clock: Clock,
        settings: SenderSettings | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        bell: OutboxBell | None = None,
        voice: VoiceProvider | None = None,
        groups: GroupRobots | None = None,
    ) -> None:
        self.sessions = sessions
        self.provider = provider
        self.voice = voice  # calls (channel voice); None: such rows fail
        self.groups = groups  # group robots (channel group); None: such rows fail
        self.decisions = decisions  # what an answer means is decided there (HubCore), not here
        self.clock = clock
        self.settings = settings or SenderSettings()
        self.stats = SenderStats()
        self._monotonic = monotonic  # durations only (the duplicate window), never decisions
        self._stop = threading.Event()
        self.bell = bell or OutboxBell()
        self._wake = self.bell.event
        self._thread: threading.Thread | None = None

    # --- loop -----------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=f"outbox-{self.settings.owner}", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def wake(self) -> None:
        """Call after committing new outbox rows: the loop looks at once instead of after idle_wait_s."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                worked = self.run_once()
            except Exception:
                log.exception("outbox.loop_error owner=%s", self.settings.owner)
                worked = 0
            if not worked:
                self._wake.wait(self.settings.idle_wait_s)
                self._wake.clear()

    # --- one pass -------------------------------------------------------------------------

    def run_once(self) -> int:
        """Claim a batch and send it; returns how many rows were handled."""
        claimed = self.claim()
        self.bell.pending = False
        for item in claimed:
            if self._stop.is_set():
                break  # the leases make the rest available to another sender
            self.deliver(item)
        return len(claimed)

    def claim(self) -> list[Claimed]:
        now = self.clock.now()
        lease_until = now + self.settings.lease_s
        with self.sessions.begin() as session:
            due = session.scalars(
                select(m.Notification)
                .where(
                    or_(
                        (m.Notification.state == DeliveryState.QUEUED.value) & (m.Notification.next_attempt_at <= now),
                        (m.Notification.state == DeliveryState.SENDING.value) & (m.Notification.lease_until < now),
                    )
                )
                .order_by(m.Notification.next_attempt_at, m.Notification.id)
                .limit(self.settings.batch)
                .with_for_update(skip_locked=True)
            ).all()
            claimed = []
            for row in due:
                # Conditional update: on SQLite (no row locks) two senders may select the same
                # row; only one of them sees rowcount 1.
                taken = session.execute(
                    update(m.Notification)
                    .where(
                        m.Notification.id == row.id,
                        m.Notification.state == row.state,
                        or_(m.Notification.lease_until.is_(None), m.Notification.lease_until == row.lease_until),
                    )
                    .values(
                        state=DeliveryState.SENDING.value,
                        lease_until=lease_until,
                        lease_owner=self.settings.owner,
                        attempts=m.Notification.attempts + 1,
                    )
                    .execution_options(synchronize_session=False)
                )
                if _rowcount(taken) == 1:
                    if row.state == DeliveryState.SENDING.value:
                        log.warning(
                            "outbox.lease_taken_over notification=%s previous_owner=%s", row.id, row.lease_owner
                        )
                    alert_id = row.alert_id if row.purpose == PURPOSE_ALERT else None
                    refused = row.error_code is not None
                    template = None
                    if row.template is not None:
                        template = TemplateMessage(row.template, dict(row.params or {}), row.language)
                    claimed.append(
                        Claimed(
                            row.id, row.phone, row.body, row.valid_until, row.attempts + 1, alert_id, refused, template,
                            row.channel or CHANNEL_SMS, row.recipient_id or "", row.role,
                            str((row.params or {}).get("title", "")),
                        )
                    )
        return claimed

    def deliver(self, item: Claimed) -> None:
        now = self.clock.now()
        late = item.valid_until is not None and now >= item.valid_until
        if late and not (item.refused and self._alert_waits(item)):
            self._record(item, DeliveryState.EXPIRED, error=("expired", "validity ran out before sending"))
            return
        if item.channel == CHANNEL_VOICE and not self._alert_waits(item):
            self._record(item, DeliveryState.CANCELLED, error=("alert_taken", "acknowledged or resolved before the call"))
            return
        try:
            result = self._send(item, now)
        except ProviderError as exc:
            self._failed_attempt(item, exc)
            return
        except Exception as exc:  # a provider bug must not stop the loop: retry like a timeout
            log.exception("outbox.provider_crash notification=%s", item.id)
            self._failed_attempt(item, ProviderError(True, "exception", repr(exc)))
            return
        answered = self._monotonic()
        if late:
            self.stats.late += 1
        self._record_sent(item, result, answered)

    def _send(self, item: Claimed, now: float) -> SendResult:
        """Hand the row to its channel's provider."""
        if item.channel == CHANNEL_VOICE:
            if self.voice is None:
                raise ProviderError(False, "no_voice_provider", "voice.provider is not configured")
            message = item.template or TemplateMessage("", {}, "zh")
            return SendResult(self.voice.call(item.phone, message, str(item.id)), True, "placed")
        if item.channel == CHANNEL_GROUP:
            if self.groups is None:
                raise ProviderError(False, "no_group_robots", "no group robots configured")
            self.groups.post(item.grid, item.robot, item.title, item.body)
            return SendResult(f"{item.robot}-{item.id}", True, "delivered")
        validity_s = self._validity_s(item, now)
        return self.provider.send(item.phone, item.body, validity_s, self.settings.status_callback, template=item.template)

    def _validity_s(self, item: Claimed, now: float) -> int:
        """What is left of the text's validity, for the provider (Twilio ValidityPeriod, 1-36,000 s)."""
        if item.valid_until is None:
            return 36_000
        if now >= item.valid_until:  # a late text of an open alert
            return int(self.settings.late_validity_s)
        return max(1, int(item.valid_until - now))

    def _alert_waits(self, item: Claimed) -> bool:
        """An alert text whose alert is still open: nobody acknowledged it, so the text must not be lost."""
        if item.alert_id is None:
            return False
        with self.sessions() as session:
            state = session.scalar(select(m.Alert.state).where(m.Alert.id == item.alert_id))
        return state == AlertState.OPEN.value

    # --- recording ------------------------------------------------------------------------

    def _record_sent(self, item: Claimed, result: SendResult, answered_mono: float) -> None:
        state = DeliveryState.DELIVERED if result.status == "delivered" else DeliveryState.SENT
        if not self._decide(item, state, sid=result.sid):
            return
        # Committed: from here a crash cannot send this message again.
        window = self._monotonic() - answered_mono
        self.stats.record_windows_s.append(window)
        self.stats.sent += 1
        log.info(
            "outbox.sent notification=%s sid=%s attempt=%d commit_window_ms=%.1f",
            item.id,
            result.sid,
            item.attempts,
            window * 1000,
        )

    def _decide(self, item: Claimed, state: DeliveryState, **result: object) -> bool:
        outcome = SendOutcome(item.id, item.alert_id, self.settings.owner, item.attempts, state, **result)  # type: ignore[arg-type]
        if self.decisions.on_send_outcome(outcome):
            return True
        # Our lease ran out and another sender took the row: its result wins.
        self.stats.lost_lease += 1
        log.warning("outbox.lease_lost notification=%s owner=%s", item.id, self.settings.owner)
        return False

    def _failed_attempt(self, item: Claimed, exc: ProviderError) -> None:
        now = self.clock.now()
        if not exc.recoverable:
            self._record(item, DeliveryState.FAILED, error=(exc.code, exc.message))
            return
        # A provider outage: the text of an open alert waits for the provider, however long.
        waits = self._alert_waits(item)
        retry_at = now + self._backoff(item, now, waits)
        in_time = item.valid_until is None or retry_at < item.valid_until
        if waits or (in_time and item.attempts < self.settings.max_attempts):
            self._record(item, DeliveryState.QUEUED, error=(exc.code, exc.message), retry_at=retry_at)
        elif item.attempts < self.settings.max_attempts:
            self._record(
                item, DeliveryState.EXPIRED, error=(exc.code, f"no retry before validity ends: {exc.message}")
            )
        else:
            self._record(item, DeliveryState.FAILED, error=(exc.code, exc.message))

    def _backoff(self, item: Claimed, now: float, alert_waits: bool) -> float:
        """base·2^(attempt-1), capped, with a deterministic ±20 % spread so retries of many rows do not align.

        The cap is an even share of the validity left among the attempts left (never below base):
        the `max_attempts` (20) are spread over the text's validity instead of the last ones
        falling after it. A text of an open alert retries at least every `alert_retry_max_s`
        (30 s), also after its validity: a provider that recovers is used within seconds, not
        after a 160 s or 600 s backoff step (tests/faults/test_sms_outage.py).
        """
        cap = self.settings.backoff_max_s
        if item.valid_until is not None and now < item.valid_until:
            attempts_left = max(1, self.settings.max_attempts - item.attempts)
            cap = min(cap, max(self.settings.backoff_base_s, (item.valid_until - now) / attempts_left))
        if alert_waits:
            cap = min(cap, self.settings.alert_retry_max_s)
        base = min(self.settings.backoff_base_s * 2 ** (item.attempts - 1), cap)
        spread = (
            int.from_bytes(hashlib.blake2b(f"{item.id}:{item.attempts}".encode(), digest_size=2).digest(), "big")
            / 65535
        )
        return float(base * (0.8 + 0.4 * spread))

    def _record(
        self, item: Claimed, state: DeliveryState, error: tuple[str, str], retry_at: float | None = None
    ) -> None:
        if not self._decide(item, state, error=error, retry_at=retry_at):
            return
        counter = {
            DeliveryState.QUEUED: "retried",
            DeliveryState.FAILED: "failed",
            DeliveryState.EXPIRED: "expired",
            DeliveryState.CANCELLED: "cancelled",
        }[state]
        setattr(self.stats, counter, getattr(self.stats, counter) + 1)
        level = logging.INFO if state is DeliveryState.QUEUED else logging.WARNING
        log.log(
            level,
            "outbox.%s notification=%s attempt=%d code=%s error=%s retry_at=%s",
            counter,
            item.id,
            item.attempts,
            error[0],
            error[1][:200],
            retry_at,
        )


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0))
