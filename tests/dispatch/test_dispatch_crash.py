"""kill -9 of a sender process in the middle of a provider request.

No message is lost; a message goes out twice only when the provider had accepted it before
the kill (the window between the provider's acceptance and our commit), and at most once more.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from support.twilio_server import Behaviour, TwilioTestServer

from hub.clock import VirtualClock
from hub.dispatch.dispatcher import Dispatcher
from hub.dispatch.feedback import OutboxOnly
from hub.dispatch.providers.twilio import TwilioProvider
from hub.dispatch.sender import OutboxSender, SenderSettings
from hub.storage import models as m

from .conftest import Db, policy

ROOT = Path(__file__).resolve().parents[2]
LEASE_S = 20.0
MESSAGES = 6


def queue_messages(db: Db, now: float) -> list[str]:
    bodies = [f"message {i}" for i in range(MESSAGES)]
    with db.sessions.begin() as s:
        for i, body in enumerate(bodies):
            s.add(
                m.Notification(
                    purpose="test",
                    step=0,
                    role="operator",
                    phone=f"+86136000000{i:02d}",
                    body=body,
                    state="queued",
                    created_at=now,
                    next_attempt_at=now + i * 1e-3,
                    valid_until=now + 3600,
                )
            )
    return bodies


def run_doomed_sender(db: Db, server: TwilioTestServer, arrived: threading.Event) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("sender_process.py")),
            db.url,
            server.base_url,
            server.account_sid,
            server.auth_token,
            str(LEASE_S),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        if not arrived.wait(60):
            process.kill()
            _, err = process.communicate(10)
            pytest.fail(f"the sender never reached the slow request: {err.decode()[-2000:]}")
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        assert process.returncode == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def recover(db: Db, server: TwilioTestServer) -> OutboxSender:
    """Another sender, after the dead one's leases ran out."""
    clock = VirtualClock(time.time() + LEASE_S + 1)
    provider = TwilioProvider(server.account_sid, server.auth_token, "+15005550006", server.base_url)
    sender = OutboxSender(
        db.sessions, provider, OutboxOnly(db.sessions, Dispatcher(policy()), clock), clock, SenderSettings(owner="survivor", lease_s=LEASE_S)
    )
    while sender.run_once():
        pass
    return sender


@pytest.mark.slow
def test_killed_after_the_provider_accepted_gives_exactly_one_duplicate(
    db: Db, twilio_server: TwilioTestServer
) -> None:
    bodies = queue_messages(db, time.time())
    arrived, release = threading.Event(), threading.Event()
    twilio_server.script.extend(
        [Behaviour(), Behaviour(), Behaviour(delay_s=60, accept_before_delay=True, arrived=arrived, release=release)]
    )
    try:
        run_doomed_sender(db, twilio_server, arrived)
    finally:
        release.set()
    states = Counter(n.state for n in db.notifications())
    assert states == Counter({"sent": 2, "sending": MESSAGES - 2})  # the rest of the batch stays leased

    recover(db, twilio_server)
    assert {n.state for n in db.notifications()} == {"sent"}
    counts = Counter(twilio_server.bodies())
    assert set(counts) == set(bodies)  # nothing lost
    assert {b: c for b, c in counts.items() if c > 1} == {"message 2": 2}  # the one in flight, once more
    first = next(msg for msg in twilio_server.messages if msg.body == "message 2")
    assert first.accepted  # ...and only because the provider had accepted it


@pytest.mark.slow
def test_killed_before_the_provider_accepted_gives_no_duplicate(db: Db, twilio_server: TwilioTestServer) -> None:
    bodies = queue_messages(db, time.time())
    arrived, release = threading.Event(), threading.Event()
    twilio_server.script.extend(
        [Behaviour(), Behaviour(delay_s=60, accept_before_delay=False, arrived=arrived, release=release)]
    )
    run_doomed_sender(db, twilio_server, arrived)
    release.set()  # the server notices the client is gone and accepts nothing
    deadline = time.monotonic() + 10
    while not any(msg.status_code == 499 for msg in twilio_server.messages) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert any(msg.status_code == 499 and not msg.accepted for msg in twilio_server.messages)

    recover(db, twilio_server)
    assert {n.state for n in db.notifications()} == {"sent"}
    counts = Counter(twilio_server.bodies())
    assert counts == Counter({b: 1 for b in bodies})  # nothing lost, nothing twice
