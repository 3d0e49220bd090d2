"""The dispatcher: executes escalation plans as outbox rows, in the caller's transaction.

Owns the Notification rows (the outbox) and the alert's escalation columns
(`escalation_step`, `next_escalation_at`, `triggered_at`). The decisions themselves — who,
when, why — are the pure functions of alerts/escalation.py; this module loads what they need
(directory, resident) from the database and writes what they decide. It never sends:
the `OutboxSender` does, after the transaction that queued the row has committed, so a crash
can lose no message (the row is durable before anything leaves the hub).

Entry points, all called inside a transaction the caller commits:
- `on_actions(session, actions, now)` with the engine's actions (the integrator, with the
  transaction that stores them);
- `sweep(session, now)` for due escalation steps and daily digests (a periodic job);
- `request_backup(session, alert_id, now)` for an SMS `2` or a board button;
- `on_status(session, update, now)` for delivery receipts;
- `on_send_failed(session, row, now)` from the sender when a message failed for good.

Channels (docs/DISPATCH.md "Channels"): a step's plan says which of sms, voice and group it
uses. Texts and the group card are queued at once; a call is queued at once too, due at
`voice_at` (the row is durable from the start, so a restart cannot lose it), and cancelled when
the alert is acknowledged or resolved first. Cards (purpose `card`, channel `group`) are posted
when the alert opens, is acknowledged and is resolved, once per robot of the resident's grid.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts import registry as core
from alerts.actions import (
    Action,
    Alert,
    AlertAckExpired,
    AlertKind,
    AlertOpened,
    AlertResolved,
    AlertState,
    AlertUpdated,
    Outcome,
    Reason,
    Severity,
)
from alerts.cards import CardEvent, group_card
from alerts.config import Role
from alerts.directory import Directory, Recipient, Responder, parse_role
from alerts.escalation import (
    DONE_VALIDITY,
    ChannelPlan,
    EscalationPolicy,
    StepPlan,
    StepReason,
    channel_plan,
    next_digest_at,
    plan_step,
    replacement_for,
)
from alerts.texts import Rendered, alert_message, digest_message, done_message, lang_of, returned_message, voice_message
from hub.dispatch.links import new_short_code, short_url
from hub.dispatch.providers.base import DeliveryState, StatusUpdate
from hub.storage import models as m
from hub.storage.alert_store import stored_notes, stored_reason

log = logging.getLogger("pingan.dispatch")

#: (alert_id, phone, expires_at) -> URL of the responder page, or None for texts without a link.
LinkBuilder = Callable[[str, str, float], str]
LINK_TTL_S = 24 * 3600

PURPOSE_ALERT = "alert"
PURPOSE_DONE = "done"
PURPOSE_UPDATE = "update"
PURPOSE_DIGEST_ITEM = "digest_item"
PURPOSE_DIGEST = "digest"
PURPOSE_CARD = "card"  # a group card (channel group)

CHANNEL_SMS = "sms"
CHANNEL_VOICE = "voice"
CHANNEL_GROUP = "group"
#: a call whose step has no later deadline may still ring this long after it was due
VOICE_GRACE_S = 600.0
CARD_VALIDITY_S = 3600.0

#: A step is still in play while one of its messages may reach someone.
LIVE_STATES = (DeliveryState.QUEUED, DeliveryState.SENDING, DeliveryState.SENT, DeliveryState.DELIVERED)
#: Delivery receipts move a row forward only: a late "sent" never undoes "delivered".
_RANK = {
    DeliveryState.QUEUED: 0,
    DeliveryState.SENDING: 1,
    DeliveryState.SENT: 2,
    DeliveryState.DELIVERED: 3,
    DeliveryState.UNDELIVERED: 3,
    DeliveryState.FAILED: 3,
}


@dataclass(frozen=True, slots=True)
class GroupRoute:
    """A grid's staff group: its robots (`wecom`, `dingtalk`) and the cards' language."""

    robots: tuple[str, ...]
    language: str = "zh"


@dataclass(frozen=True)
class ChannelSettings:
    """What the configuration enables beyond texts: calls (`voice.after`, None without a voice
    provider), group robots per grid, and the board URL the cards link to."""

    voice_after: timedelta | None = None
    groups: Mapping[str, GroupRoute] = field(default_factory=dict)
    board_url: str = ""


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """What one escalation step did: for logs, tests and the board."""

    alert_id: str
    step_index: int
    reason: str
    queued: int
    held: int
    skipped: tuple[str, ...]


class Dispatcher:
    def __init__(
        self,
        policy: EscalationPolicy,
        link_builder: LinkBuilder | None = None,
        short_links: str | None = None,
        on_step: Callable[[str], None] | None = None,
        channels: ChannelSettings | None = None,
    ) -> None:
        """`short_links`: the hub's public URL; texts then carry `{short_links}/s/{code}`, which
        redirects to the signed link (`short_links` table), instead of the signed link itself.
        `on_step`: told the reason of every escalation step taken (the metrics).
        `channels`: calls and group cards; None: texts only."""
        self.policy = policy
        self.link_builder = link_builder
        self.short_links = short_links
        self.on_step = on_step
        self.channels = channels or ChannelSettings()

    # --- the engine's actions -------------------------------------------------------------

    def on_actions(self, session: Session, actions: Iterable[Action], now: float) -> list[StepOutcome]:
        """Queue what the actions call for. The alert rows must already be in the session."""
        done: list[StepOutcome] = []
        for action in actions:
            if isinstance(action, AlertOpened):
                done += self._start(session, action.alert, now, StepReason.ALERT_OPENED)
            elif isinstance(action, AlertAckExpired):
                done += self._advance(session, self._row(session, action.alert.id), now, StepReason.ACK_EXPIRED)
            elif isinstance(action, AlertResolved):
                self._finish(session, action, now)
            elif isinstance(action, AlertUpdated):
                done += self._updated(session, action, now)
        return done

    def _start(self, session: Session, alert: Alert, now: float, reason: StepReason) -> list[StepOutcome]:
        row = self._row(session, alert.id)
        row.triggered_at = alert.triggered_at
        return self._run_step(session, row, 0, now, reason, already_told=())

    def _updated(self, session: Session, action: AlertUpdated, now: float) -> list[StepOutcome]:
        alert = action.alert
        row = self._row(session, alert.id)
        if alert.state in (AlertState.ACKNOWLEDGED, AlertState.ON_SITE):
            if row.next_escalation_at is not None:
                log.info(
                    "dispatch.stop alert=%s code=%s reason=acknowledged state=%s", alert.id, alert.code, alert.state
                )
            row.next_escalation_at = None  # an acknowledgement stops escalation
            # Calls not placed yet are moot: somebody is going.
            self._cancel(session, row.id, (DeliveryState.QUEUED,), "acknowledged", channel=CHANNEL_VOICE)
        if action.reason is Reason.ACKNOWLEDGED:
            acker = next((t.by for t in reversed(alert.transitions) if t.state is AlertState.ACKNOWLEDGED), None)
            by = acker or row.acknowledged_by or ""
            self._post_card(session, row, CardEvent.ACKNOWLEDGED, now, by=by)
        if action.reason is Reason.RETURNED_TO_ZONE:
            self._tell_told(session, row, now, PURPOSE_UPDATE, "returned_to_zone")
        raised = (
            action.reason is Reason.RETRIGGERED
            and alert.state is AlertState.OPEN
            and alert.severity is not Severity.LOW
        )
        if raised and self._only_digested(session, row):
            # A low alert that waited for the digest became urgent: start real escalation.
            self._cancel(session, row.id, (DeliveryState.HELD,), "severity_raised")
            return self._start(session, alert, now, StepReason.SEVERITY_RAISED)
        return []

    def _finish(self, session: Session, action: AlertResolved, now: float) -> None:
        row = self._row(session, action.alert.id)
        row.next_escalation_at = None
        # Messages not out yet are moot; held digest items too.
        self._cancel(session, row.id, (DeliveryState.QUEUED, DeliveryState.HELD), "alert_resolved")
        if action.notify_previous:
            self._tell_told(session, row, now, PURPOSE_DONE, f"done:{action.outcome.value}")
        self._post_card(session, row, CardEvent.RESOLVED, now)

    # --- deadlines ------------------------------------------------------------------------

    def sweep(self, session: Session, now: float, limit: int = 100) -> list[StepOutcome]:
        """Advance escalation steps whose wait is over, and send the digests that are due.

        Rows are claimed with FOR UPDATE SKIP LOCKED on PostgreSQL so several hubs may sweep at
        once without doubling a step (SQLite serializes writers and ignores the clause).
        """
        due = session.scalars(
            select(m.Alert)
            .where(m.Alert.next_escalation_at <= now)
            .order_by(m.Alert.next_escalation_at, m.Alert.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        done: list[StepOutcome] = []
        for row in due:
            if row.state != AlertState.OPEN:
                row.next_escalation_at = None
                continue
            done += self._advance(session, row, now, StepReason.WAIT_ELAPSED)
        self._send_digests(session, now, limit)
        return done

    def request_backup(
        self, session: Session, alert_id: str, now: float, actor: str = "", channel: str = "sms"
    ) -> list[StepOutcome]:
        """A responder asked for backup (reply `2`): the next step now."""
        row = session.scalars(select(m.Alert).where(m.Alert.id == alert_id).with_for_update()).one_or_none()
        if row is None:
            raise LookupError(f"no alert {alert_id!r}")
        if row.state == AlertState.RESOLVED:
            return []
        log.info("dispatch.backup alert=%s code=%s actor=%s channel=%s", row.id, row.code, actor, channel)
        return self._advance(session, row, now, StepReason.BACKUP_REQUESTED)

    # --- feedback from the sender and the provider ----------------------------------------

    def on_status(self, session: Session, update: StatusUpdate, now: float) -> m.Notification | None:
        """A delivery receipt. Unknown sids return None (the caller audits them)."""
        row = session.scalars(
            select(m.Notification).where(m.Notification.provider_sid == update.sid).with_for_update()
        ).one_or_none()
        if row is None:
            return None
        old = DeliveryState(row.state)
        if _RANK.get(update.state, 0) <= _RANK.get(old, 3) or update.state not in _RANK:
            return row  # stale or repeated receipt
        row.state = update.state.value
        if update.state is DeliveryState.DELIVERED:
            row.delivered_at = now
        if update.state in (DeliveryState.UNDELIVERED, DeliveryState.FAILED):
            row.error_code = update.error_code
            row.error = f"receipt:{update.provider_status}"
            self.on_send_failed(session, row, now)
        log.info(
            "dispatch.receipt notification=%s sid=%s state=%s code=%s", row.id, update.sid, row.state, update.error_code
        )
        return row

    def on_send_failed(self, session: Session, note: m.Notification, now: float) -> list[StepOutcome]:
        """A message of an escalation step failed for good: tell the next person of that role,
        or, when the step has nobody left who may be reached, the next step now."""
        if note.purpose != PURPOSE_ALERT or note.alert_id is None:
            return []
        row = self._row(session, note.alert_id)
        if row.state != AlertState.OPEN or note.step != row.escalation_step:
            return []  # acknowledged, resolved, or escalation moved on already
        resident = self._resident(session, row.resident_id)
        told = self._told_phones(session, row.id)
        substitute = None
        if resident is not None and note.role:
            substitute = replacement_for(Role(note.role), self.policy, self._directory(session, now), resident, told)
        if substitute is not None and resident is not None:
            valid_until = note.valid_until if note.valid_until is not None else now
            step = self.policy.steps(row.severity)[note.step]
            channels = channel_plan(step, now, self.channels.voice_after)
            self._queue_person(session, row, resident, substitute, note.step, now, valid_until, "replacement", channels)
            log.info("dispatch.replace alert=%s failed=%s role=%s by=%s", row.id, note.id, note.role, substitute.key)
            return [StepOutcome(row.id, note.step, "replacement", 1, 0, ())]
        live = session.scalar(
            select(m.Notification.id)
            .where(
                m.Notification.alert_id == row.id,
                m.Notification.purpose == PURPOSE_ALERT,
                m.Notification.step == note.step,
                m.Notification.state.in_([s.value for s in LIVE_STATES]),
            )
            .limit(1)
        )
        if live is not None:
            return []
        if note.step + 1 >= len(self.policy.steps(row.severity)):
            _audit(session, now, row, "escalation_exhausted", {"step": note.step, "failed": note.id})
            log.error(
                "dispatch.exhausted alert=%s code=%s step=%d: every message of the last step failed",
                row.id,
                row.code,
                note.step,
            )
            return []
        return self._advance(session, row, now, StepReason.STEP_UNDELIVERABLE)

    # --- steps ----------------------------------------------------------------------------

    def _advance(self, session: Session, row: m.Alert, now: float, reason: StepReason) -> list[StepOutcome]:
        steps = self.policy.steps(row.severity)
        if row.escalation_step + 1 < len(steps):
            return self._run_step(
                session, row, row.escalation_step + 1, now, reason, self._told_phones(session, row.id)
            )
        # Escalation stays on its last step: repeat it, telling its people again — except those
        # whose text has not gone out yet (a provider outage): they get that one, not a second.
        return self._run_step(session, row, len(steps) - 1, now, reason, self._pending_phones(session, row.id))

    def _run_step(
        self, session: Session, row: m.Alert, index: int, now: float, reason: StepReason, already_told: Iterable[str]
    ) -> list[StepOutcome]:
        resident = self._resident(session, row.resident_id)
        if resident is None:
            _audit(session, now, row, "dispatch_no_resident", {"resident": row.resident_id})
            log.error("dispatch.no_resident alert=%s resident=%s: nobody can be told", row.id, row.resident_id)
            row.next_escalation_at = None
            return []
        directory = self._directory(session, now)
        alert = _alert_of(row)
        outcomes: list[StepOutcome] = []
        told = set(already_told)
        while True:
            plan = plan_step(alert, index, self.policy, directory, resident, now, reason, told, self.channels.voice_after)
            outcomes.append(self._execute(session, row, resident, plan, now))
            if plan.recipients or not plan.has_next:
                break
            # Nobody to tell at this step: do not wait out its timer for nothing.
            index, reason = index + 1, StepReason.STEP_EMPTY
        if not any(o.queued or o.held for o in outcomes) and not self._pending_phones(session, row.id):
            _audit(session, now, row, "dispatch_nobody", {"steps": [o.step_index for o in outcomes]})
            log.error("dispatch.nobody alert=%s code=%s: no step had anyone to tell", row.id, row.code)
        return outcomes

    def _execute(
        self, session: Session, row: m.Alert, resident: core.Resident, plan: StepPlan, now: float
    ) -> StepOutcome:
        row.escalation_step = plan.step_index
        row.next_escalation_at = plan.next_at
        queued = held = 0
        valid_until = now + plan.validity.total_seconds()
        for recipient in plan.recipients:
            if plan.digest:
                self._hold_for_digest(session, row, resident, recipient, plan, now)
                held += 1
            else:
                self._queue_person(
                    session, row, resident, recipient, plan.step_index, now, valid_until, plan.reason.value, plan.channels
                )
                queued += 1
        if plan.channels is not None and plan.channels.group and plan.recipients:
            self._post_card(session, row, CardEvent.OPENED, now, resident=resident)
        skipped = tuple(f"{s.role.value}:{s.reason.value}" for s in plan.skipped)
        _audit(
            session,
            now,
            row,
            "dispatch_step",
            {
                "step": plan.step_index,
                "reason": plan.reason.value,
                "queued": queued,
                "held": held,
                "skipped": list(skipped),
                "recipients": [r.key for r in plan.recipients],
                "next_at": plan.next_at,
            },
        )
        log.info(
            "dispatch.step alert=%s code=%s step=%d reason=%s queued=%d held=%d skipped=%s next_at=%s",
            row.id,
            row.code,
            plan.step_index,
            plan.reason.value,
            queued,
            held,
            ",".join(skipped) or "-",
            plan.next_at,
        )
        if self.on_step is not None:
            self.on_step(plan.reason.value)
        return StepOutcome(row.id, plan.step_index, plan.reason.value, queued, held, skipped)

    def _queue_person(
        self,
        session: Session,
        row: m.Alert,
        resident: core.Resident,
        recipient: Recipient,
        step: int,
        now: float,
        valid_until: float,
        reason: str,
        channels: ChannelPlan | None,
    ) -> None:
        """The step's messages to one person: a text now and/or a call at `voice_at`."""
        if channels is None or channels.sms:
            self._queue_alert(session, row, resident, recipient, step, now, valid_until, reason)
        if channels is not None and channels.voice_at is not None:
            self._queue_call(session, row, resident, recipient, step, channels.voice_at, now, valid_until, reason)

    def _queue_call(
        self,
        session: Session,
        row: m.Alert,
        resident: core.Resident,
        recipient: Recipient,
        step: int,
        due_at: float,
        now: float,
        valid_until: float,
        reason: str,
    ) -> None:
        """A call due at `due_at`: durable now, placed by the sender then unless acknowledged first.
        One pending call per person and alert (a repeated last step does not ring twice)."""
        pending = session.scalar(
            select(m.Notification.id)
            .where(
                m.Notification.alert_id == row.id,
                m.Notification.phone == recipient.phone,
                m.Notification.channel == CHANNEL_VOICE,
                m.Notification.state.in_([DeliveryState.QUEUED.value, DeliveryState.SENDING.value]),
            )
            .limit(1)
        )
        if pending is not None:
            return
        # The call's own template (`voice_alert` of the voice catalogue): name, what happened, address, code.
        said = voice_message(_alert_of(row), resident, lang_of(recipient.language))
        note = _notification(row.id, PURPOSE_ALERT, step, recipient, said, now, max(valid_until, due_at + VOICE_GRACE_S), reason)
        note.channel, note.next_attempt_at = CHANNEL_VOICE, due_at
        session.add(note)

    def _post_card(
        self,
        session: Session,
        row: m.Alert,
        event: CardEvent,
        now: float,
        by: str = "",
        resident: core.Resident | None = None,
    ) -> None:
        """A card to each robot of the resident's grid: at the first step that uses the group channel
        (once), then on acknowledgement and resolution of an alert whose opening was posted."""
        posted = set(
            session.scalars(
                select(m.Notification.reason).where(
                    m.Notification.alert_id == row.id, m.Notification.purpose == PURPOSE_CARD
                )
            )
        )
        if (event is CardEvent.OPENED) == (CardEvent.OPENED.value in posted):
            return  # opened: posted already; acknowledged or resolved: the group never saw the alert
        resident = resident or self._resident(session, row.resident_id)
        route = self.channels.groups.get(resident.grid or "") if resident is not None else None
        if resident is None or route is None:
            return
        if by:
            by = session.scalar(select(m.Responder.name).where(m.Responder.id == by)) or by.split(":")[-1]
        link = f"{self.channels.board_url}/alerts/{row.id}"
        card = group_card(event, _alert_of(row), resident, lang_of(route.language), link, by)
        for robot in route.robots:
            target = Recipient(resident.grid or "", resident.grid or "", "", Role.OPERATOR, route.language)
            text = Rendered(f"card_{event.value}", {"title": card.title}, card.markdown, route.language)
            note = _notification(row.id, PURPOSE_CARD, row.escalation_step, target, text, now, now + CARD_VALIDITY_S, event.value)
            note.channel, note.role = CHANNEL_GROUP, robot
            session.add(note)
        log.info("dispatch.card alert=%s code=%s event=%s robots=%s", row.id, row.code, event.value, ",".join(route.robots))

    def _queue_alert(
        self,
        session: Session,
        row: m.Alert,
        resident: core.Resident,
        recipient: Recipient,
        step: int,
        now: float,
        valid_until: float,
        reason: str,
    ) -> None:
        link = None
        if self.link_builder is not None:
            expires_at = now + LINK_TTL_S
            link = self.link_builder(row.id, recipient.phone, expires_at)
            if self.short_links is not None:
                code = new_short_code()
                session.add(m.ShortLink(code=code, url=link, expires_at=expires_at, alert_id=row.id))
                link = short_url(self.short_links, code)
        text = alert_message(_alert_of(row), resident, lang_of(recipient.language), link)
        session.add(_notification(row.id, PURPOSE_ALERT, step, recipient, text, now, valid_until, reason))

    def _hold_for_digest(
        self, session: Session, row: m.Alert, resident: core.Resident, recipient: Recipient, plan: StepPlan, now: float
    ) -> None:
        note = _notification(row.id, PURPOSE_DIGEST_ITEM, plan.step_index, recipient, None, now, None, "digest")
        note.state = DeliveryState.HELD.value
        note.next_attempt_at = next_digest_at(now, resident.timezone)
        session.add(note)

    def _tell_told(self, session: Session, row: m.Alert, now: float, purpose: str, reason: str) -> None:
        """One message to every phone that was (or is being) told about the alert."""
        resident = self._resident(session, row.resident_id)
        if resident is None:
            return
        told = session.scalars(
            select(m.Notification)
            .where(
                m.Notification.alert_id == row.id,
                m.Notification.purpose == PURPOSE_ALERT,
                m.Notification.state.in_(
                    [DeliveryState.SENDING.value, DeliveryState.SENT.value, DeliveryState.DELIVERED.value]
                ),
            )
            .order_by(m.Notification.id)
        ).all()
        alert = _alert_of(row)
        seen: set[str] = set()
        for note in told:
            if note.phone in seen:
                continue
            seen.add(note.phone)
            lang = lang_of(note.language)
            text = (
                done_message(alert, resident, lang) if purpose == PURPOSE_DONE else returned_message(alert, resident, lang)
            )
            recipient = Recipient(
                note.recipient_id or "", note.recipient_name, note.phone, _role(note.role), note.language
            )
            session.add(
                _notification(
                    row.id, purpose, note.step, recipient, text, now, now + DONE_VALIDITY.total_seconds(), reason
                )
            )
        log.info("dispatch.%s alert=%s code=%s recipients=%d", purpose, row.id, row.code, len(seen))

    def _send_digests(self, session: Session, now: float, limit: int) -> None:
        items = session.scalars(
            select(m.Notification)
            .where(m.Notification.state == DeliveryState.HELD.value, m.Notification.next_attempt_at <= now)
            .order_by(m.Notification.phone, m.Notification.id)
            .limit(limit * 10)
            .with_for_update(skip_locked=True)
        ).all()
        by_phone: dict[str, list[m.Notification]] = defaultdict(list)
        for item in items:
            by_phone[item.phone].append(item)
        for phone, group in by_phone.items():
            lines = []
            for item in group:
                alert_row = session.get(m.Alert, item.alert_id) if item.alert_id else None
                if alert_row is None:
                    continue
                resident = self._resident(session, alert_row.resident_id)
                lines.append((resident.name if resident else alert_row.resident_id or "", _alert_of(alert_row)))
                item.state = DeliveryState.DIGESTED.value
            if not lines:
                continue
            first = group[0]
            text = digest_message(lines, lang_of(first.language))
            recipient = Recipient(
                first.recipient_id or "", first.recipient_name, phone, _role(first.role), first.language
            )
            session.add(_notification(None, PURPOSE_DIGEST, 0, recipient, text, now, now + 6 * 3600, "daily_digest"))
            log.info("dispatch.digest phone=%s alerts=%d", phone, len(lines))

    # --- loading --------------------------------------------------------------------------

    def _row(self, session: Session, alert_id: str) -> m.Alert:
        row = session.get(m.Alert, alert_id)
        if row is None:
            raise LookupError(
                f"alert {alert_id!r} is not in the session: store the engine's actions before dispatching them"
            )
        return row

    def _resident(self, session: Session, resident_id: str | None) -> core.Resident | None:
        return load_resident(session, resident_id) if resident_id else None

    def _directory(self, session: Session, now: float) -> Directory:
        return load_directory(session, now)

    def _told_phones(self, session: Session, alert_id: str) -> set[str]:
        return set(
            session.scalars(
                select(m.Notification.phone).where(
                    m.Notification.alert_id == alert_id, m.Notification.purpose == PURPOSE_ALERT
                )
            )
        )

    def _pending_phones(self, session: Session, alert_id: str) -> set[str]:
        return set(
            session.scalars(
                select(m.Notification.phone).where(
                    m.Notification.alert_id == alert_id,
                    m.Notification.purpose == PURPOSE_ALERT,
                    m.Notification.channel == CHANNEL_SMS,
                    m.Notification.state.in_([DeliveryState.QUEUED.value, DeliveryState.SENDING.value]),
                )
            )
        )

    def _only_digested(self, session: Session, row: m.Alert) -> bool:
        purposes = set(session.scalars(select(m.Notification.purpose).where(m.Notification.alert_id == row.id)))
        return PURPOSE_ALERT not in purposes

    def _cancel(
        self, session: Session, alert_id: str, states: tuple[DeliveryState, ...], why: str, channel: str | None = None
    ) -> None:
        query = select(m.Notification).where(
            m.Notification.alert_id == alert_id, m.Notification.state.in_([s.value for s in states])
        )
        if channel is not None:
            query = query.where(m.Notification.channel == channel)
        for note in session.scalars(query):
            note.state = DeliveryState.CANCELLED.value
            note.error = why
            log.info("dispatch.cancel notification=%s alert=%s why=%s", note.id, alert_id, why)


# --- helpers ------------------------------------------------------------------------------


def _notification(
    alert_id: str | None,
    purpose: str,
    step: int,
    recipient: Recipient,
    text: Rendered | None,
    now: float,
    valid_until: float | None,
    reason: str,
) -> m.Notification:
    """An outbox row; `text` None for a digest item, which goes out inside the digest."""
    return m.Notification(
        alert_id=alert_id,
        purpose=purpose,
        step=step,
        role=recipient.role.value,
        recipient_id=recipient.key or None,
        recipient_name=recipient.name,
        phone=recipient.phone,
        language=recipient.language,
        body=text.body if text else "",
        template=text.template if text else None,
        params=text.params if text else None,
        state=DeliveryState.QUEUED.value,
        attempts=0,
        created_at=now,
        next_attempt_at=now,
        valid_until=valid_until,
        reason=reason[:32],
    )


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        return Role.OPERATOR


def _alert_of(row: m.Alert) -> Alert:
    """The core's view of a stored alert, enough for texts and plans."""
    return Alert(
        id=row.id,
        code=row.code,
        kind=AlertKind(row.kind),
        severity=Severity(row.severity),
        state=AlertState(row.state),
        resident=row.resident_id or "",
        device=row.device_id,
        zone=row.zone,
        opened_at=row.opened_at,
        triggered_at=row.triggered_at if row.triggered_at is not None else row.opened_at,
        reason=stored_reason(row),
        notes=stored_notes(row),
        outcome=Outcome(row.outcome) if row.outcome else None,
    )


def _audit(session: Session, now: float, row: m.Alert, action: str, detail: dict[str, object]) -> None:
    session.add(
        m.Audit(
            at=now,
            actor="system",
            channel="dispatch",
            action=action,
            alert_id=row.id,
            resident_id=row.resident_id,
            detail=detail,
        )
    )


def load_directory(session: Session, now: float | None = None) -> Directory:
    responders = []
    for r in session.scalars(select(m.Responder).order_by(m.Responder.id)):
        home = core.Point(r.home_lat, r.home_lon) if r.home_lat is not None and r.home_lon is not None else None
        try:
            role = parse_role(r.role)
        except ValueError:
            log.warning("dispatch.bad_role responder=%s role=%s: skipped", r.id, r.role)
            continue
        responders.append(
            Responder(
                r.id,
                r.name,
                r.phone,
                role,
                tuple(sorted(g.id for g in r.grids)),
                home,
                bool(r.available),
                r.language or "zh",
            )
        )
    return Directory(tuple(responders), on_duty(session, now) if now is not None else frozenset())


def on_duty(session: Session, at: float) -> frozenset[str]:
    """Responders whose shift covers `at` (the operators' roster, table `shifts`)."""
    rows = session.scalars(select(m.Shift.responder_id).where(m.Shift.starts_at <= at, m.Shift.ends_at > at))
    return frozenset(rows)


def load_resident(session: Session, resident_id: str) -> core.Resident | None:
    r = session.get(m.Resident, resident_id)
    if r is None:
        return None
    timezone = session.scalar(
        select(m.Community.timezone).join(m.Grid, m.Grid.community_id == m.Community.id).where(m.Grid.id == r.grid_id)
    )
    return core.Resident(
        id=r.id,
        name=r.name,
        grid=r.grid_id,
        timezone=timezone or "Asia/Shanghai",
        home=core.Point(r.home_lat, r.home_lon),
        address=r.address,
        contacts=tuple(core.Contact(c.name, c.phone, c.relation, c.language) for c in r.contacts),
    )
