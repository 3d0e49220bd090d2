"""Finding 7: after `pingan erase`, `family:r-0001:李明` stayed in `alerts.acknowledged_by`,
`alert_transitions.by` and `audit.actor`, and audit rows keyed by a phone number
(`sms_unknown_number`, `sms_not_understood`) were untouched. The rows here come from the real
reply path (signed webhooks through the Twilio SDK, `SmsReplies`); the test dumps every table
after the erasure and finds neither the resident's name or id nor any name or number of their
contacts, in any form. SQLite and PostgreSQL."""

from __future__ import annotations

import re

from dispatch.conftest import PHONES
from dispatch.conftest import db as db
from dispatch.conftest import twilio_server as twilio_server
from privacy.test_export_erase import _everything
from sqlalchemy import select

from hub.operations.privacy import erase_resident
from hub.storage import models as m
from hub.storage.db import make_engine
from security.test_sms_replay import Hub
from security.test_sms_replay import hub as hub

SUBJECT, NAME, SON, SON_PHONE = "r-0001", "李奶奶", "李明", PHONES["son"]
DAUGHTER, DAUGHTER_PHONE = "李红", "+8613900000077"


def _transitions_as_the_core_writes_them(hub: Hub, alert_id: str) -> None:
    """The dispatch tests' command fake changes the alert row only; the hub core also writes
    a transition per change, with the actor as `by`."""
    row = hub.db.alert(alert_id)
    with hub.db.sessions.begin() as s:
        s.add(m.AlertTransition(alert_id=alert_id, state="acknowledged", at=row.acknowledged_at or 0.0,
                                by=row.acknowledged_by or "", channel="sms"))
        s.add(m.AlertTransition(alert_id=alert_id, state="resolved", at=row.resolved_at or 0.0,
                                by=f"family:{SUBJECT}:{SON}", channel="web"))  # a responder link of the son
        s.add(m.Audit(at=row.resolved_at or 0.0, actor=f"family:{SUBJECT}:{SON}", channel="web",
                      action="alert.resolve", alert_id=None, detail={"via": "responder link"}))


def test_erase_leaves_no_name_or_number_of_the_resident_or_their_contacts(hub: Hub) -> None:
    # Before anyone was registered with it, the daughter's number texts the hub: unknown.
    hub.post(hub.record(DAUGHTER_PHONE, "1"))
    # The son texts nonsense before any alert: known as the resident's contact, by name.
    hub.post(hub.record(SON_PHONE, "hello?"))
    alert = hub.open("A7K2", "1")
    hub.post(hub.record(SON_PHONE, "1"))
    hub.post(hub.record(SON_PHONE, "what"))
    hub.post(hub.record(SON_PHONE, "9"))
    _transitions_as_the_core_writes_them(hub, alert)
    with hub.db.sessions.begin() as s:
        s.get(m.Alert, alert).state = "resolved"  # the erasure waits for the alert's end
        resident = s.get(m.Resident, SUBJECT)
        assert resident is not None
        s.add(m.Notification(purpose="digest", role="grid_worker", recipient_id="wang", phone=PHONES["wang"],
                             body=f"【平安】第一网格3条低级警报:{NAME}电量低,张大爷离线", created_at=hub.clock.now()))
        resident.contacts.append(m.Contact(name=DAUGHTER, phone=DAUGHTER_PHONE, relation="daughter", position=1))
    actions = {a.action for a in _audit(hub)}
    assert {"sms_unknown_number", "sms_not_understood", "sms_reply"} <= actions
    engine = make_engine(hub.db.url)
    dump_before = _everything(engine)
    for trace in (SON, SON_PHONE, DAUGHTER_PHONE, f"family:{SUBJECT}:"):
        assert trace in dump_before, trace  # the seeding really put them there

    erase_resident(hub.db.sessions, SUBJECT, hub.clock.now(), "cli:test")

    dump = _everything(engine)
    engine.dispose()
    for trace in (SUBJECT, NAME, SON, DAUGHTER, SON_PHONE, DAUGHTER_PHONE):
        assert trace not in dump, trace
        digits = trace.lstrip("+")
        if digits.isdigit():
            assert digits not in dump and digits[-11:] not in dump, trace  # nor without "+86"
    assert not re.search(r"family:r-0001", dump)
    # The responders' own records stay: wang is staff, not the resident's contact.
    assert PHONES["wang"] in dump
    row = hub.db.alert(alert)
    assert row.acknowledged_by is not None and row.acknowledged_by.startswith("family:erased-")
    assert row.acknowledged_at is not None  # times kept for the statistics


def _audit(hub: Hub) -> list[m.Audit]:
    with hub.db.sessions() as s:
        return list(s.scalars(select(m.Audit)))
