"""Finding 15: the console SMS provider logged every body at INFO, live `/r/` responder links
included (a link acts for its responder: a credential), kept every message in a list, and the
outbox sender kept every commit window. Links are masked in every log record; both lists are
bounded."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
from dispatch.conftest import policy
from sqlalchemy.orm import Session, sessionmaker

from hub.clock import VirtualClock
from hub.dispatch import sender as sender_module
from hub.dispatch.dispatcher import Dispatcher
from hub.dispatch.feedback import OutboxOnly
from hub.dispatch.links import responder_url, sign_responder_link
from hub.dispatch.providers import console
from hub.dispatch.providers.console import ConsoleProvider
from hub.dispatch.sender import OutboxSender, SenderSettings
from hub.logging_setup import mask_secrets
from hub.storage import models as m
from hub.storage.db import make_engine, make_sessions

NOW = 1_790_000_000.0
TOKEN = sign_responder_link("s3cret", "al-0001", "+8613800000001", NOW + 3600)
LINK = responder_url("https://hub.example.org", TOKEN)
BODY = f"【平安】李奶奶SOS。回复1前往。码A7K2 {LINK}"

SERVE_LIKE = f"""
import logging
from hub.logging_setup import configure_logging
from hub.dispatch.providers.console import ConsoleProvider
configure_logging()
ConsoleProvider(echo=False).send("+8613800000001", {BODY!r}, 300, None)
logging.getLogger("pingan.web").info("GET /r/{TOKEN} 200")
"""


def test_responder_links_are_masked_in_every_log_record() -> None:
    run = subprocess.run([sys.executable, "-c", SERVE_LIKE], capture_output=True, text=True, timeout=60, check=True)
    assert "sms.console" in run.stderr and "GET /r/" in run.stderr
    assert TOKEN not in run.stderr
    assert TOKEN.split(".")[-1] not in run.stderr  # not even the signature
    assert "https://hub.example.org/r/***" in run.stderr


def test_the_console_provider_masks_links_in_its_own_record(caplog: pytest.LogCaptureFixture) -> None:
    """Also where no filter is installed (a library user, tests): the record itself is masked."""
    with caplog.at_level(logging.INFO, logger="pingan.sms.console"):
        ConsoleProvider(echo=False).send("+8613800000001", BODY, 300, None)
    (record,) = [r for r in caplog.records if r.name == "pingan.sms.console"]
    assert TOKEN not in record.getMessage() and "/r/***" in record.getMessage()
    assert mask_secrets(f"see {LINK}, then reply") == "see https://hub.example.org/r/***, then reply"


def test_the_console_provider_keeps_a_bounded_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "KEPT_MESSAGES", 50)
    provider = ConsoleProvider(echo=False)
    sids = {provider.send("+8613800000001", "same body", 300, None).sid for _ in range(200)}
    assert len(sids) == 200  # still unique once the list is full
    assert len(provider.messages) == 50
    assert provider.messages[-1].sid in sids


def _queue(sessions: sessionmaker[Session], n: int) -> None:
    with sessions.begin() as session:
        for i in range(n):
            session.add(m.Notification(purpose="digest", phone=f"+86134{i:08d}", body="x", state="queued",
                                       created_at=NOW, next_attempt_at=NOW, valid_until=NOW + 300))


def test_the_outbox_keeps_a_bounded_number_of_commit_windows(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sender_module, "WINDOWS_KEPT", 10)
    engine = make_engine(f"sqlite:///{tmp_path}/o.db")
    m.Base.metadata.create_all(engine)
    sessions = make_sessions(engine)
    _queue(sessions, 30)
    dispatcher = Dispatcher(policy())
    sender = OutboxSender(sessions, ConsoleProvider(echo=False), OutboxOnly(sessions, dispatcher, VirtualClock(NOW)), VirtualClock(NOW), SenderSettings(batch=50))
    while sender.run_once():
        pass
    engine.dispose()
    assert sender.stats.sent == 30
    windows = sender.stats.record_windows_s
    assert windows is not None and len(windows) == 10


def test_short_links_and_the_push_webhook_token_are_masked_too() -> None:
    text = "SMS 【平安】李奶奶SOS。码A7K2 hub.example.org/s/Ab3xK9; POST /webhooks/aliyun/sms-up/tok-123_abc HTTP/1.1"
    masked = mask_secrets(text)
    assert "Ab3xK9" not in masked and "hub.example.org/s/***" in masked
    assert "tok-123_abc" not in masked and "/webhooks/aliyun/sms-up/*** HTTP/1.1" in masked
    assert mask_secrets("/webhooks/tencent/sms-status/secret?x=1") == "/webhooks/tencent/sms-status/***?x=1"
    assert mask_secrets("GET /static/app.css") == "GET /static/app.css"
