"""Call results, applied to alerts: what a voice provider's webhook hands the hub.

`CallResults.on_call_results(results)` is the one entry point (the voice webhook router calls it
with what `VoiceProvider.parse_call_push` parsed, the poller with `query_call` answers):

- the result moves the call's outbox row forward like an SMS receipt (`FeedbackSink.on_receipt`,
  decided by the hub core): answered = told (`delivered`); not answered, busy, failed = that
  call failed (`undelivered`/`failed`), and escalation moves on as for a failed text (the next
  person of the role, or the next step when the step has nobody left);
- key "1" on an answered call acknowledges the alert as the callee, through `AlertCommands`
  with channel `voice` — the path of the SMS reply "1", so the home unit gets `alert_ack` —
  and is audited (`voice_ack`, channel voice);
- each result acts once: its push id (or call id, state and key) is recorded in `sms_inbound`
  (provider `voice`) before it acts, so a provider's retry or a repeated push acts no more.

Returns False when a result could not be applied (a call id the outbox has not recorded yet,
a database failure): the webhook then answers so that the provider retries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from hub.dispatch.dispatcher import CHANNEL_VOICE
from hub.dispatch.feedback import FeedbackSink
from hub.dispatch.providers.base import DeliveryState, StatusUpdate
from hub.dispatch.providers.voice import CallResult, CallState
from hub.ports import AlertCommands, AlertNotFound, InvalidTransition
from hub.storage import models as m

log = logging.getLogger("pingan.voice.results")
CHANNEL = "voice"
ACK_KEY = "1"

#: what a call's end means for its outbox row (PLACED changes nothing)
_STATE = {
    CallState.ANSWERED: DeliveryState.DELIVERED,
    CallState.NOT_ANSWERED: DeliveryState.UNDELIVERED,
    CallState.BUSY: DeliveryState.UNDELIVERED,
    CallState.FAILED: DeliveryState.FAILED,
}


class CallResults:
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

    def on_call_results(self, results: list[CallResult]) -> bool:
        """Apply call results; False when one could not be (the provider should retry)."""
        ok = True
        for result in results:
            ok = self._apply(result) and ok
        return ok

    def _apply(self, result: CallResult) -> bool:
        key = (result.push_id or f"{result.call_id}:{result.state.value}:{result.key_pressed or ''}")[:64]
        if not self._first_delivery(key):
            return True  # taken before: the provider retried
        try:
            applied = self._act(result)
        except Exception:
            log.exception("voice.result_failed call=%s", result.call_id)
            applied = False
        if not applied:
            self._forget(key)  # the provider's retry may act
        return applied

    def _act(self, result: CallResult) -> bool:
        with self.sessions() as session:
            row = session.scalars(
                select(m.Notification).where(
                    m.Notification.provider_sid == result.call_id, m.Notification.channel == CHANNEL_VOICE
                )
            ).one_or_none()
            call = None if row is None else (row.id, row.alert_id, row.recipient_id or row.phone, row.phone)
        if call is None:
            self._audit("voice_unknown_call", {"call": result.call_id, "state": result.state.value})
            log.warning("voice.unknown_call call=%s state=%s", result.call_id, result.state.value)
            return False  # the push overtook the sender's commit: the retry finds the row
        note_id, alert_id, actor, phone = call
        state = _STATE.get(result.state)
        if state is not None:
            error = None if state is DeliveryState.DELIVERED else result.state.value
            self.feedback.on_receipt(StatusUpdate(result.call_id, state, result.provider_status, error))
        log.info("voice.result call=%s notification=%s state=%s key=%s", result.call_id, note_id, result.state.value,
                 result.key_pressed or "-")
        if result.state is CallState.ANSWERED and result.key_pressed == ACK_KEY and alert_id is not None:
            self._acknowledge(alert_id, actor, phone, result)
        return True

    def _acknowledge(self, alert_id: str, actor: str, phone: str, result: CallResult) -> None:
        try:
            self.commands.acknowledge(alert_id, actor, CHANNEL)
            outcome = "acknowledged"
        except InvalidTransition:
            outcome = "not_allowed"  # taken by someone else, or resolved meanwhile
        except AlertNotFound:
            outcome = "unknown_alert"
        self._audit("voice_ack", {"call": result.call_id, "from": phone, "key": result.key_pressed,
                                  "result": outcome}, actor=actor, alert_id=alert_id)
        log.info("voice.ack alert=%s actor=%s result=%s", alert_id, actor, outcome)

    # --- once per result ------------------------------------------------------------------

    def _first_delivery(self, key: str) -> bool:
        try:
            with self.sessions.begin() as session:
                session.add(m.InboundSms(provider=CHANNEL, sid=key, received_at=self.clock()))
        except IntegrityError:
            return False
        return True

    def _forget(self, key: str) -> None:
        with self.sessions.begin() as session:
            session.execute(delete(m.InboundSms).where(m.InboundSms.provider == CHANNEL, m.InboundSms.sid == key))

    def _audit(self, action: str, detail: dict[str, Any], actor: str = "webhook", alert_id: str | None = None) -> None:
        with self.sessions.begin() as session:
            session.add(m.Audit(at=self.clock(), actor=actor[:200], channel=CHANNEL, action=action,
                                alert_id=alert_id, detail=detail))
