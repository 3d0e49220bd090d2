"""A sender process for the crash test: runs an OutboxSender against a database and a
Twilio-compatible server until it is killed. Usage:
python tests/dispatch/sender_process.py DB_URL BASE_URL ACCOUNT_SID AUTH_TOKEN LEASE_S
"""

from __future__ import annotations

import sys

from alerts.config import EscalationConfig, VolunteersConfig
from alerts.escalation import EscalationPolicy
from hub.clock import SystemClock
from hub.dispatch.dispatcher import Dispatcher
from hub.dispatch.feedback import OutboxOnly
from hub.dispatch.providers.twilio import TwilioProvider
from hub.dispatch.sender import OutboxSender, SenderSettings
from hub.storage.db import make_engine, make_sessions

# Imports nothing from the test tree: this file runs as a plain script in its own process.
ESCALATION = {
    "critical": [{"notify": ["grid_worker"], "wait": "5m"}],
    "high": [{"notify": ["grid_worker"], "wait": "15m"}],
    "low": [{"notify": ["grid_worker"], "digest": "daily"}],
}


def main() -> None:
    db_url, base_url, account_sid, auth_token, lease_s = sys.argv[1:6]
    sessions = make_sessions(make_engine(db_url))
    provider = TwilioProvider(account_sid, auth_token, "+15005550006", base_url, timeout_s=float(lease_s) / 2)
    policy = EscalationPolicy(EscalationConfig.model_validate(ESCALATION), VolunteersConfig())
    settings = SenderSettings(owner="doomed", lease_s=float(lease_s), idle_wait_s=0.05)
    sender = OutboxSender(sessions, provider, OutboxOnly(sessions, Dispatcher(policy), SystemClock()), SystemClock(), settings)
    print("ready", flush=True)
    while True:
        if not sender.run_once():
            sender._wake.wait(0.05)


if __name__ == "__main__":
    main()
