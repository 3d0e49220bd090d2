"""Adapter from the dispatch module's signed SMS links to the responder page's verifier.

`hub.dispatch.links.verify_responder_link` checks the signature and expiry and yields the alert
and the phone the link was sent to; here the phone becomes the actor the hub records (the
responder's id, a family contact as `family:<resident>:<name>` like SMS replies, else the phone).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dashboards.app import ResponderClaim, ResponderLinkVerifier
from hub.clock import Clock
from hub.dispatch.links import verify_responder_link
from hub.storage.models import Contact, Responder


def signed_link_verifier(secret: str | bytes, clock: Clock, sessions: sessionmaker[Session]) -> ResponderLinkVerifier:
    def verify(token: str) -> ResponderClaim | None:
        link = verify_responder_link(secret, token, clock.now())
        if link is None:
            return None
        with sessions() as session:
            responder = session.scalar(select(Responder).where(Responder.phone == link.responder_phone).order_by(Responder.id))
            if responder is not None:
                return ResponderClaim(link.alert_id, responder.id, responder.name)
            contact = session.scalar(select(Contact).where(Contact.phone == link.responder_phone).order_by(Contact.id))
            if contact is not None:
                return ResponderClaim(link.alert_id, f"family:{contact.resident_id}:{contact.name}", contact.name)
        return ResponderClaim(link.alert_id, link.responder_phone, link.responder_phone)

    return verify
