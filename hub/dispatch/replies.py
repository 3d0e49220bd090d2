"""SMS replies and delivery receipts, applied to alerts: what the webhook router calls.

Owns finding the alert a reply means and applying it through the hub's `AlertCommands` port
(acknowledge, backup, on site, resolve ok) with actor = the responder and channel = "sms".
Numbers that were never sent an alert and belong to no responder are ignored and audited.
Parsing is the pure alerts/replies.py; wording is alerts/texts.py.

A reply is a command from whoever holds a validly signed request, and the provider's signature
has no timestamp (docs/SECURITY.md, finding 1), so:
- `first_delivery` records each inbound message id (`sms_inbound`) before it acts: the same
  message acts at most once, whoever posts it again and however late;
- a reply acts only on open alerts texted to that number (sent, not just queued) before it
  arrived: the code it names, else the newest;
- "9" (resolve) without a code closes only an alert the replier took on (acknowledged or
  reported on site); otherwise the answer asks for the code. A late or replayed "9" meant for
  an earlier alert cannot close a new SOS that nobody went to.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from alerts.actions import AlertState
from alerts.replies import ReplyCommand, parse_reply
from alerts.texts import Lang, Rendered, ReplyOutcome, lang_of, reply_message
from hub.dispatch.dispatcher import PURPOSE_ALERT
from hub.dispatch.feedback import FeedbackSink
from hub.dispatch.providers.base import DeliveryState, InboundReply, StatusUpdate
from hub.ports import AlertCommands, AlertNotFound, InvalidTransition
from hub.storage import models as m

log = logging.getLogger("pingan.sms.replies")
CHANNEL = "sms"
PURPOSE_REPLY = "reply"
REPLY_VALIDITY_S = 600  # a confirmation later than this would confuse more than help


@dataclass(frozen=True, slots=True)
class Sender:
    """Who a reply came from, as far as the hub knows them."""

    phone: str
    actor: str  # responder id, "family:<resident>:<name>", or the phone
    name: str
    language: Lang
    registered: bool  # a responder of the registry (may act on any alert by its code)


@dataclass(frozen=True, slots=True)
class OpenAlert:
    id: str
    code: str
    resident_name: str


class SmsReplies:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        commands: AlertCommands,
        feedback: FeedbackSink,
        clock: Callable[[], float],
    ) -> None:
        self.sessions = sessions
        self.commands = commands
        self.feedback = feedback
        self.clock = clock

    # --- replies --------------------------------------------------------------------------

    def first_delivery(self, provider: str, sid: str) -> bool:
        """Record the inbound message id; False when it was seen before (a replay or a retry)."""
        try:
            with self.sessions.begin() as session:
                session.add(m.InboundSms(provider=provider[:16], sid=sid[:64], received_at=self.clock()))
        except IntegrityError:
            return False
        return True

    def handle_reply(self, reply: InboundReply) -> Rendered | None:
        """Apply a reply; returns the confirmation to answer (template `reply`), or None to answer nothing."""
        with self.sessions() as session:
            sender = self._sender(session, reply.from_number)
            if sender is None:
                self.audit(
                    "sms_unknown_number", {"from": reply.from_number, "body": reply.body[:160], "sid": reply.sid}
                )
                log.warning("sms.unknown_number from=%s sid=%s: ignored", reply.from_number, reply.sid)
                return None
            parsed = parse_reply(reply.body)
            candidates = self._open_alerts_sent_to(session, sender.phone, self.clock())
            target, problem = self._target(parsed.code, candidates)
            hint = parsed.code or ""
            if (target is not None and parsed.command is ReplyCommand.RESOLVE_OK and parsed.code is None
                    and not self._took_on(session, target.id, sender.actor)):
                hint = target.code
                target, problem = None, ReplyOutcome.CODE_NEEDED
        detail: dict[str, Any] = {
            "from": sender.phone,
            "body": reply.body[:160],
            "sid": reply.sid,
            "parse": parsed.reason,
        }
        if parsed.command is None:
            self.audit("sms_not_understood", detail, actor=sender.actor)
            return reply_message(ReplyOutcome.NOT_UNDERSTOOD, sender.language)
        if target is None:
            assert problem is not None
            self.audit(
                "sms_reply_no_alert", {**detail, "code": parsed.code, "problem": problem.value}, actor=sender.actor
            )
            return reply_message(problem, sender.language, code=hint)
        outcome = self._apply(parsed.command, target, sender)
        open_count = len(candidates) if parsed.code is None else 1
        self.audit(
            "sms_reply",
            {**detail, "command": parsed.command.value, "code": target.code, "result": outcome.value},
            actor=sender.actor,
            alert_id=target.id,
        )
        log.info(
            "sms.reply from=%s alert=%s code=%s command=%s result=%s",
            sender.phone,
            target.id,
            target.code,
            parsed.command.value,
            outcome.value,
        )
        return reply_message(outcome, sender.language, target.code, target.resident_name, open_count)

    def _apply(self, command: ReplyCommand, target: OpenAlert, sender: Sender) -> ReplyOutcome:
        try:
            if command is ReplyCommand.ACKNOWLEDGE:
                self.commands.acknowledge(target.id, sender.actor, CHANNEL)
                return ReplyOutcome.ACKNOWLEDGED
            if command is ReplyCommand.BACKUP:
                self.commands.request_backup(target.id, sender.actor, CHANNEL)
                return ReplyOutcome.BACKUP
            if command is ReplyCommand.ON_SITE:
                self.commands.on_site(target.id, sender.actor, CHANNEL)
                return ReplyOutcome.ON_SITE
            self.commands.resolve(target.id, "ok", sender.actor, CHANNEL)
            return ReplyOutcome.RESOLVED
        except InvalidTransition:
            return ReplyOutcome.NOT_ALLOWED
        except AlertNotFound:
            return ReplyOutcome.UNKNOWN_CODE

    def _sender(self, session: Session, phone: str) -> Sender | None:
        responder = session.scalars(
            select(m.Responder).where(m.Responder.phone == phone).order_by(m.Responder.id)
        ).first()
        if responder is not None:
            return Sender(phone, responder.id, responder.name, lang_of(responder.language), registered=True)
        note = session.scalars(
            select(m.Notification).where(m.Notification.phone == phone).order_by(m.Notification.id.desc())
        ).first()
        if note is not None:
            return Sender(
                phone, note.recipient_id or phone, note.recipient_name, lang_of(note.language), registered=False
            )
        contact = session.scalars(select(m.Contact).where(m.Contact.phone == phone).order_by(m.Contact.id)).first()
        if contact is not None:
            return Sender(
                phone,
                f"family:{contact.resident_id}:{contact.name}",
                contact.name,
                lang_of(contact.language),
                registered=False,
            )
        return None

    def _open_alerts_sent_to(self, session: Session, phone: str, arrived_at: float) -> list[OpenAlert]:
        """Open alerts whose text went out to `phone` before the reply arrived, newest first."""
        newest = func.max(m.Notification.sent_at).label("newest")
        rows = session.execute(
            select(m.Alert.id, m.Alert.code, m.Resident.name, newest)
            .join(m.Notification, m.Notification.alert_id == m.Alert.id)
            .outerjoin(m.Resident, m.Resident.id == m.Alert.resident_id)
            .where(
                m.Notification.phone == phone,
                m.Notification.purpose == PURPOSE_ALERT,
                m.Notification.sent_at.is_not(None),
                m.Notification.sent_at <= arrived_at,
                m.Alert.state != AlertState.RESOLVED.value,
            )
            .group_by(m.Alert.id, m.Alert.code, m.Resident.name)
            .order_by(newest.desc(), m.Alert.id.desc())
        ).all()
        return [OpenAlert(r[0], r[1], r[2] or "") for r in rows]

    @staticmethod
    def _target(code: str | None, candidates: list[OpenAlert]) -> tuple[OpenAlert | None, ReplyOutcome | None]:
        """The named alert among those texted to the sender, else the newest of them.

        No alert outside `candidates`, not even for staff naming a code: a code is four
        characters, reused over time, and replayed replies carry one (finding 1)."""
        if code is None:
            return (candidates[0], None) if candidates else (None, ReplyOutcome.NO_OPEN_ALERT)
        named = next((c for c in candidates if c.code == code), None)
        return (named, None) if named is not None else (None, ReplyOutcome.UNKNOWN_CODE)

    @staticmethod
    def _took_on(session: Session, alert_id: str, actor: str) -> bool:
        """Whether `actor` acknowledged the alert or reported on site for it."""
        took = session.scalar(
            select(func.count())
            .select_from(m.Alert)
            .outerjoin(m.AlertTransition, m.AlertTransition.alert_id == m.Alert.id)
            .where(
                m.Alert.id == alert_id,
                or_(
                    m.Alert.acknowledged_by == actor,
                    (m.AlertTransition.by == actor)
                    & m.AlertTransition.state.in_((AlertState.ACKNOWLEDGED.value, AlertState.ON_SITE.value)),
                ),
            )
        )
        return bool(took)

    def forget_delivery(self, provider: str, sid: str) -> None:
        """Undo `first_delivery` for a reply that could not be applied: the provider's retry may act."""
        with self.sessions.begin() as session:
            session.execute(delete(m.InboundSms).where(m.InboundSms.provider == provider[:16], m.InboundSms.sid == sid[:64]))

    def was_texted(self, phone: str) -> bool:
        """Whether the outbox ever sent `phone` a text: unsigned pushes act only for such numbers."""
        with self.sessions() as session:
            return (
                session.scalar(
                    select(m.Notification.id)
                    .where(m.Notification.phone == phone, m.Notification.provider_sid.is_not(None))
                    .limit(1)
                )
                is not None
            )

    def queue_answer(self, phone: str, answer: Rendered) -> None:
        """Providers that cannot answer in the webhook's response (Aliyun, Tencent) text the
        confirmation through the outbox, like any other message."""
        now = self.clock()
        with self.sessions.begin() as session:
            session.add(
                m.Notification(
                    alert_id=None, purpose=PURPOSE_REPLY, step=0, role="", recipient_id=None, recipient_name="",
                    phone=phone, language=answer.lang, body=answer.body, template=answer.template,
                    params=answer.params, state=DeliveryState.QUEUED.value, attempts=0, created_at=now,
                    next_attempt_at=now, valid_until=now + REPLY_VALIDITY_S, reason="reply",
                )
            )

    # --- receipts -------------------------------------------------------------------------

    def handle_status(self, update: StatusUpdate) -> bool:
        """Apply a delivery receipt (decided by the hub's core); False (and an audit row) for a
        sid the outbox never sent."""
        if not self.feedback.on_receipt(update):
            self.audit("sms_status_unknown_sid", {"sid": update.sid, "status": update.provider_status})
            log.warning("sms.status_unknown_sid sid=%s status=%s", update.sid, update.provider_status)
            return False
        return True

    # --- audit ----------------------------------------------------------------------------

    def audit(self, action: str, detail: dict[str, Any], actor: str = "webhook", alert_id: str | None = None) -> None:
        with self.sessions.begin() as session:
            session.add(
                m.Audit(
                    at=self.clock(), actor=actor[:200], channel=CHANNEL, action=action, alert_id=alert_id, detail=detail
                )
            )
