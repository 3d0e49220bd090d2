"""Builds the running hub from its configuration: every part, connected, nothing started.

`build_hub(config)` returns a `Hub` whose `start()`/`stop()` run, in order: the core (engine
loaded from the database), MQTT ingestion feeding it, the scheduler thread (deadlines and
escalation steps), the outbox sender, and the web app that `pingan serve` and `pingan demo`
hand to uvicorn. Tests build the same object with a virtual clock or a test provider.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Gauge, start_http_server
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from alerts.escalation import EscalationPolicy
from alerts.templates import CATALOGUE
from dashboards.live import EventBus
from dashboards.live_bridge import PgLiveBus, libpq_url
from hub.clock import Clock, SystemClock
from hub.config import Config
from hub.dispatch.calls import CallResults
from hub.dispatch.dispatcher import ChannelSettings, Dispatcher, GroupRoute
from hub.dispatch.links import responder_url, sign_responder_link
from hub.dispatch.providers.base import PushProvider, SmsProvider
from hub.dispatch.providers.console import ConsoleProvider
from hub.dispatch.providers.groups import GroupRobots, robots_from_config
from hub.dispatch.providers.voice import VoiceProvider, build_voice_provider
from hub.dispatch.receipts import ReceiptPoller
from hub.dispatch.replies import SmsReplies
from hub.dispatch.sender import OutboxBell, OutboxSender, SenderSettings
from hub.ingest import IngestService, hub_connection
from hub.metrics import IngestMetrics, OperationsMetrics, WebhookMetrics
from hub.operations.retention import RetentionJobs
from hub.rules.partitions import PartitionedCore
from hub.rules.runtime import HubCore, Outputs
from hub.storage.db import make_engine, make_sessions

if TYPE_CHECKING:  # the web app is imported and built on first use: see Hub.app
    from fastapi import APIRouter, FastAPI

log = logging.getLogger("pingan.hub")


@dataclass
class Readiness:
    """Ready when the broker connection is up and the database answers."""

    ingest: IngestService
    engine: Engine

    def checks(self) -> dict[str, bool]:
        return {"broker": self.ingest.connected, "database": self._database_answers()}

    def _database_answers(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception as exc:
            log.warning("database not reachable error=%s", str(exc).splitlines()[0] if str(exc) else exc)
            return False


@dataclass
class Hub:
    config: Config
    engines: tuple[Engine, ...]
    sessions: sessionmaker[Session]
    clock: Clock
    core: HubCore | PartitionedCore
    ingest: IngestService
    sender: OutboxSender
    provider: SmsProvider
    bus: EventBus
    make_app: Callable[[], FastAPI]  # the board, the API and the webhooks (see `app`)
    _stop: threading.Event = field(default_factory=threading.Event)
    _scheduler: threading.Thread | None = None
    _jobs: RetentionJobs | None = None  # daily location purge (hub/operations/retention.py)
    metrics_registry: CollectorRegistry | None = None
    _metrics: MetricsListener | None = None  # /metrics on http.metrics_port
    receipts: ReceiptPoller | None = None  # receipts that never came (Aliyun QuerySendDetails)
    calls: CallResults | None = None  # call results of the voice fallback (on_call_results: the voice webhook)
    _receipts_thread: threading.Thread | None = None
    replies: SmsReplies | None = None  # SMS replies, as the webhooks apply them (the demo's responders too)
    _running: bool = False

    @functools.cached_property
    def app(self) -> FastAPI:
        """The web app, built on first use: `pingan serve` starts the hub first, so an SOS waiting
        in the broker does not wait for the web framework's imports and routes (docs/INGESTION.md)."""
        return self.make_app()

    def start(self) -> None:
        self._running = True
        self.core.load()
        if isinstance(self.bus, PgLiveBus):
            self.bus.start()
        self.sender.start()  # before ingestion: an SOS decided first thing after start is sent at once
        self.ingest.start()
        self._stop.clear()
        self._scheduler = threading.Thread(target=self.core.run_scheduler, args=(self._stop,), name="scheduler", daemon=True)
        self._scheduler.start()
        retention = self.config.retention
        self._jobs = RetentionJobs(self.core.sessions, self.clock, retention.gps_retention_days, records=retention)
        self._jobs.start()
        self._metrics = start_metrics_listener(self)
        if self.receipts is not None:
            self._receipts_thread = threading.Thread(target=self.receipts.run, args=(self._stop,), name="receipts", daemon=True)
            self._receipts_thread.start()
        log.info("hub started")

    def stop(self) -> None:
        """Drain ingestion (commit and ack what is queued), then stop the scheduler and the sender.
        Once: a second call (the server's shutdown after the hub's own) does nothing."""
        if not self._running:
            return
        self._running = False
        self.ingest.stop()
        if isinstance(self.core, HubCore):  # partitions save with every decision already
            try:
                self.core.save_state()
            except Exception:  # the database is gone: the next start feeds the stored events again
                log.exception("engine state not saved at stop")
        self._stop.set()
        with self.core.lock:
            self.core.wake.notify_all()
        if self._scheduler is not None:
            self._scheduler.join(10)
        if self._receipts_thread is not None:
            self._receipts_thread.join(10)
        self.sender.stop()
        if isinstance(self.bus, PgLiveBus):
            self.bus.stop()
        if self._jobs is not None:
            self._jobs.stop()
        if self._metrics is not None:
            self._metrics.stop()
        for engine in self.engines:
            engine.dispose()
        log.info("hub stopped")


def build_hub(config: Config, *, clock: Clock | None = None, provider: SmsProvider | None = None) -> Hub:
    clock = clock or SystemClock()
    db = make_engine(config.database.url)
    sessions = make_sessions(db)  # the web's reads and its own small writes
    writer_db = make_engine(config.database.url, writer=True)
    writer = make_sessions(writer_db)  # ingestion, core, outbox: see make_engine
    if config.http.secret_key is None:
        raise ValueError(
            "http.secret_key is not set: set PINGAN_HTTP__SECRET_KEY or put it in a secrets file "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`); see docs/SECURITY.md"
        )
    secret = config.http.secret_key.get_secret_value()
    # Several hubs on PostgreSQL share their boards' live events (LISTEN/NOTIFY); SQLite is one hub.
    bus = PgLiveBus(libpq_url(config.database.url)) if config.database.url.startswith("postgresql") else EventBus()
    provider = provider or make_provider(config)
    voice = build_voice_provider(config)
    metrics_registry = CollectorRegistry()
    operations = OperationsMetrics(metrics_registry, provider.name)
    dispatcher = Dispatcher(
        EscalationPolicy(config.escalation, config.volunteers),
        link_builder=lambda alert_id, phone, expires_at: responder_url(
            config.http.public_url, sign_responder_link(secret, alert_id, phone, expires_at)
        ),
        short_links=config.http.public_url,
        on_step=operations.on_step,
        channels=channel_settings(config),
    )
    connection = hub_connection(config, IngestMetrics(metrics_registry), clock)
    bell = OutboxBell()
    core = make_core(config, writer, clock, Outputs(dispatcher=dispatcher, publisher=connection, bus=bus, outbox=bell,
                                                      metrics=operations))
    sender = OutboxSender(
        writer, provider, core, clock,
        SenderSettings(owner=f"{config.mqtt.client_id}-{os.getpid()}", max_attempts=config.sms.max_attempts,
                       status_callback=config.http.public_url.rstrip("/") + "/webhooks/twilio/status"),
        bell=bell,
        voice=voice,
        groups=GroupRobots(robots_from_config(config.groups), clock.now) if config.groups else None,
    )
    Gauge("pingan_rule_failures", "events a rule raised on, isolated and skipped since start (table rule_failures)",
          registry=metrics_registry).set_function(lambda: float(core.rule_failures))
    ingest = IngestService(config, writer, connection, clock, on_batch=core.on_batch, partitioner=core.partitioner,
                           give_way_to=lambda: bell.pending)
    replies = SmsReplies(writer, core, core, clock.now)
    calls = CallResults(writer, core, core, clock.now)

    def make_app() -> FastAPI:
        return web_app(config, WebParts(sessions, db, core, ingest, provider, replies, calls, voice, bus, clock, metrics_registry))

    # Only Aliyun answers a status query by message id (QuerySendDetails); Twilio pushes reliably.
    receipts = ReceiptPoller(writer, provider, replies.handle_status, clock.now) if config.sms.provider == "aliyun" else None
    return Hub(config, (db, writer_db), sessions, clock, core, ingest, sender, provider, bus, make_app,
               metrics_registry=metrics_registry, receipts=receipts, replies=replies,
               calls=calls)


@dataclass(frozen=True)
class WebParts:
    """What the web app is built from (`web_app`)."""

    sessions: sessionmaker[Session]
    db: Engine
    core: HubCore | PartitionedCore
    ingest: IngestService
    provider: SmsProvider
    replies: SmsReplies
    calls: CallResults
    voice: VoiceProvider | None
    bus: EventBus
    clock: Clock
    metrics_registry: CollectorRegistry


def web_app(config: Config, parts: WebParts) -> FastAPI:
    """The board, the API, the ops endpoints and the providers' webhooks."""
    from dashboards.app import MapSettings, WebServices, create_app
    from dashboards.responder_links import signed_link_verifier
    from dashboards.routers.devices import devices_router
    from dashboards.routers.ops import ops_router
    from dashboards.routers.webhooks import webhooks_router
    from hub.access import authenticate_token

    assert config.http.secret_key is not None  # build_hub refused without it
    core, clock, metrics_registry = parts.core, parts.clock, parts.metrics_registry
    services = WebServices(
        sessions=parts.sessions,
        config=config,
        alert_commands=core,
        absence_commands=core,
        registry_commands=core,
        events=parts.bus,
        clock=clock,
        verify_responder_link=signed_link_verifier(config.http.secret_key.get_secret_value(), clock, parts.sessions),
        map=MapSettings.from_config(config.map),
        extra_routers=(
            ops_router(Readiness(parts.ingest, parts.db), metrics_registry,
                       config.http.metrics_token.get_secret_value() if config.http.metrics_token else None,
                       metrics_here=config.http.metrics_port is None),
            devices_router(parts.sessions, authenticate_token),
            webhooks_router(parts.provider, parts.replies, config.http.public_url, clock.now,
                            metrics=WebhookMetrics(metrics_registry)),
            *push_routers(config, parts.provider, parts.replies, clock),
            *voice_routers(config, parts.voice, parts.calls, parts.replies),
        ),
    )
    return create_app(services)


def channel_settings(config: Config) -> ChannelSettings:
    """Calls (when a voice provider is configured) and the grids' group robots, for the dispatcher."""
    voice_after = config.voice.after if config.voice.provider is not None else None
    groups = {
        grid: GroupRoute(tuple(k for k in ("wecom", "dingtalk") if getattr(group, k) is not None), group.language)
        for grid, group in config.groups.items()
    }
    return ChannelSettings(voice_after, groups, config.http.public_url.rstrip("/"))


def voice_routers(config: Config, voice: VoiceProvider | None, calls: CallResults, replies: SmsReplies) -> tuple[APIRouter, ...]:
    """The call-result webhook of a domestic voice provider (dashboards/routers/voice_webhooks.py)."""
    from dashboards.routers.voice_webhooks import voice_webhooks_router

    if voice is None or voice.name not in ("aliyun", "tencent"):
        return ()
    if config.sms.webhook_token is None:
        log.warning("sms.webhook_token is not set: no %s call results will be taken", voice.name)
        return ()
    return (voice_webhooks_router(voice, calls.on_call_results, config.sms.webhook_token.get_secret_value(), replies),)


def make_core(config: Config, sessions: sessionmaker[Session], clock: Clock, outputs: Outputs) -> HubCore | PartitionedCore:
    """One engine deciding in the ingestion transaction, or (`scale.partitions`, several hubs)
    one engine per partition of residents, run by whichever hub owns it (hub/rules/partitions.py)."""
    if config.scale.partitions is None:
        return HubCore(config, sessions, clock, outputs)
    return PartitionedCore(config, sessions, clock, outputs)


def push_routers(config: Config, provider: SmsProvider, replies: SmsReplies, clock: Clock) -> tuple[APIRouter, ...]:
    """The push webhooks of a domestic provider (dashboards/routers/push_webhooks.py)."""
    from dashboards.routers.push_webhooks import push_webhooks_router

    if not isinstance(provider, PushProvider) or config.sms.provider not in ("aliyun", "tencent"):
        return ()
    if config.sms.webhook_token is None:
        log.warning("sms.webhook_token is not set: no %s replies or receipts will be taken", config.sms.provider)
        return ()
    return (push_webhooks_router(provider, replies, config.sms.webhook_token.get_secret_value(), clock.now),)


def make_provider(config: Config) -> SmsProvider:
    if config.sms.provider == "console":
        return ConsoleProvider()
    if config.sms.provider == "aliyun":
        return _aliyun(config)
    if config.sms.provider == "tencent":
        return _tencent(config)
    from hub.dispatch.providers.twilio import TwilioProvider  # see _aliyun

    tw = config.sms.twilio
    if not (tw.account_sid and tw.auth_token and tw.from_number):
        raise ValueError("sms.provider twilio needs sms.twilio.account_sid, from_number and PINGAN_SMS__TWILIO__AUTH_TOKEN")
    return TwilioProvider(tw.account_sid, tw.auth_token.get_secret_value(), tw.from_number, tw.api_base_url)


@dataclass
class MetricsListener:
    """/metrics on its own address (`http.metrics_host`:`http.metrics_port`), without a token:
    for a port that only the monitoring network reaches."""

    server: WSGIServer
    thread: threading.Thread

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def start_metrics_listener(hub: Hub) -> MetricsListener | None:
    http = hub.config.http
    if http.metrics_port is None or hub.metrics_registry is None:
        return None
    server, thread = start_http_server(http.metrics_port, http.metrics_host, hub.metrics_registry)
    log.info("metrics listening host=%s port=%d", http.metrics_host, http.metrics_port)
    return MetricsListener(server, thread)


def _warn_missing_templates(provider: str, templates: dict[str, str | None]) -> None:
    """Not a refusal: an office may still wait for some approvals (smoke and gas alarms where
    no detector is installed). A text whose template has no code waits in the outbox, retried,
    and goes out once the code is configured; the log says which."""
    missing = [tid for tid in CATALOGUE if not templates.get(tid)]
    if missing:
        log.warning("sms.%s.templates has no approved code for %s: those texts wait until it does (docs/DISPATCH.md)",
                    provider, ", ".join(missing))


# The providers' SDKs are imported only when configured: each costs start-up time (Aliyun's
# ~0.1-0.4 s) before the hub takes its first SOS.
def _aliyun(config: Config) -> SmsProvider:
    from hub.dispatch.providers.aliyun import AliyunSmsProvider

    al = config.sms.aliyun
    if not (al.access_key_id and al.access_key_secret and al.sign_name):
        raise ValueError("sms.provider aliyun needs sms.aliyun.access_key_id, sign_name and PINGAN_SMS__ALIYUN__ACCESS_KEY_SECRET")
    _warn_missing_templates("aliyun", al.templates)
    return AliyunSmsProvider(al.access_key_id, al.access_key_secret.get_secret_value(), al.sign_name, al.templates, al.endpoint)


def _tencent(config: Config) -> SmsProvider:
    from hub.dispatch.providers.tencent import TencentSmsProvider

    tc = config.sms.tencent
    if not (tc.secret_id and tc.secret_key and tc.sdk_app_id and tc.sign_name):
        raise ValueError("sms.provider tencent needs sms.tencent.secret_id, sdk_app_id, sign_name and PINGAN_SMS__TENCENT__SECRET_KEY")
    _warn_missing_templates("tencent", tc.templates)
    return TencentSmsProvider(tc.secret_id, tc.secret_key.get_secret_value(), tc.sdk_app_id, tc.sign_name, tc.templates,
                              tc.endpoint, tc.region)
