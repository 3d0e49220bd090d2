"""Adapter from the dispatch module's signed SMS links to the responder page's verifier.

`hub.dispatch.links.verify_responder_link` checks the signature and expiry and yields the alert
and the phone the link was sent to; here the phone becomes the actor the hub records: the
responder's id, or a contact of the alert's resident as `family:<resident>:<name>` like SMS
replies. A phone that is neither (any more) gets no claim: the link of someone who left the
registry, or a contact's link to another resident's alert, does nothing.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dashboards.app import ResponderClaim, ResponderLinkVerifier
from hub.clock import Clock
from hub.dispatch.links import verify_responder_link
from hub.storage.models import Alert, Contact, Responder


def signed_link_verifier(secret: str | bytes, clock: Clock, sessions: sessionmaker[Session]) -> ResponderLinkVerifier:
    def verify(token: str) -> ResponderClaim | None:
        link = verify_responder_link(secret, token, clock.now())
        if link is None:
            return None
        with sessions() as session:
            responder = session.scalar(select(Responder).where(Responder.phone == link.responder_phone).order_by(Responder.id))
            if responder is not None:
                return ResponderClaim(link.alert_id, responder.id, responder.name)
            alert = session.get(Alert, link.alert_id)
            contact = session.scalar(
                select(Contact).where(Contact.phone == link.responder_phone, Contact.resident_id == alert.resident_id).order_by(Contact.id)
            ) if alert is not None and alert.resident_id else None
            if contact is not None:
                return ResponderClaim(link.alert_id, f"family:{contact.resident_id}:{contact.name}", contact.name)
        return None

    return verify
