"""Prometheus series of the hub (prefix `pingan_`), created in a registry the caller owns.

No module-level collectors: every process, test and benchmark builds its own
`CollectorRegistry`, so two hubs in one test run never share counters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from alerts.actions import Action, Alert, AlertOpened, AlertResolved, AlertUpdated

BATCH_SIZE_BUCKETS = (1, 5, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
COMMIT_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class IngestMetrics:
    """The ingestion series: messages by channel and result, quarantine by reason, batches, queue, broker."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.messages = Counter(
            "pingan_ingest_messages", "device messages handled, by channel and result (stored, duplicate, quarantined)",
            ["channel", "result"], registry=registry,
        )
        self.quarantined = Counter(
            "pingan_ingest_quarantined", "messages kept in the quarantine table, by reason", ["reason"], registry=registry
        )
        self.clock_skew = Counter(
            "pingan_ingest_clock_skew", "messages whose device ts was in the future and replaced by the receive time",
            registry=registry,
        )
        self.late = Counter("pingan_ingest_late", "messages that arrived late (buffered on the device)", registry=registry)
        self.batch_size = Histogram(
            "pingan_ingest_batch_size", "messages per database transaction", buckets=BATCH_SIZE_BUCKETS, registry=registry
        )
        self.commit_seconds = Histogram(
            "pingan_ingest_commit_seconds", "time to write and commit one batch", buckets=COMMIT_SECONDS_BUCKETS,
            registry=registry,
        )
        self.db_errors = Counter(
            "pingan_ingest_db_errors", "failed batch transactions (retried, messages not acknowledged)", ["kind"],
            registry=registry,
        )
        self.hook_errors = Counter(
            "pingan_ingest_hook_errors", "batches whose on_batch hook raised", registry=registry
        )
        self.queue_depth = Gauge(
            "pingan_ingest_queue_depth", "messages received from the broker and not yet committed", registry=registry
        )
        self.broker_connected = Gauge(
            "pingan_mqtt_connected", "1 while the hub is connected to the broker", registry=registry
        )
        self.reconnects = Counter("pingan_mqtt_connects", "successful connections to the broker", registry=registry)

    def watch_queue(self, depth: Callable[[], int]) -> None:
        self.queue_depth.set_function(lambda: float(depth()))


class WebhookMetrics:
    """Requests to the SMS provider's webhooks that were not acted on, by path and reason:
    signature_missing, signature_bad, too_large, bad_request, duplicate (a MessageSid seen
    before), rate_limited."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.refused = Counter(
            "pingan_webhook_refused", "webhook requests refused or ignored, by path and reason", ["path", "reason"],
            registry=registry,
        )


#: Time to acknowledge: telecare answers within 60 s and is at the door within 45 min.
ACK_SECONDS_BUCKETS = (30, 60, 120, 300, 600, 900, 1800, 2700, 3600, 7200, 14400)
LAG_SECONDS_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0)


class OperationsMetrics:
    """What operators and their managers watch: alerts opened, acknowledged and resolved by kind,
    time to acknowledge, messages by provider, channel and state, escalation steps, how late the
    scheduler fires deadlines. Counted in the process that made the change, after its commit
    (escalation steps when they are planned, inside the transaction): with several hubs, sum
    over hubs (deploy/grafana-pingan.json does)."""

    def __init__(self, registry: CollectorRegistry, provider: str) -> None:
        self.provider = provider
        self.opened = Counter("pingan_alerts_opened", "alerts opened, by kind and severity", ["kind", "severity"],
                              registry=registry)
        self.acknowledged = Counter("pingan_alerts_acknowledged", "alerts acknowledged, by kind and channel",
                                    ["kind", "channel"], registry=registry)
        self.resolved = Counter("pingan_alerts_resolved", "alerts resolved, by kind and outcome", ["kind", "outcome"],
                                registry=registry)
        self.time_to_ack = Histogram("pingan_alert_time_to_ack_seconds", "from an alert's opening to its acknowledgement",
                                     ["severity"], buckets=ACK_SECONDS_BUCKETS, registry=registry)
        self.messages = Counter("pingan_messages", "outbox messages reaching a state, by provider, channel and state",
                                ["provider", "channel", "state"], registry=registry)
        self.escalation_steps = Counter("pingan_escalation_steps", "escalation steps taken, by why (StepReason)",
                                        ["reason"], registry=registry)
        self.scheduler_lag = Histogram("pingan_scheduler_lag_seconds", "how late the scheduler fired a due deadline",
                                       buckets=LAG_SECONDS_BUCKETS, registry=registry)

    def on_actions(self, actions: Iterable[Action]) -> None:
        for action in actions:
            if isinstance(action, AlertOpened):
                self.opened.labels(action.alert.kind.value, action.alert.severity.value).inc()
            elif isinstance(action, AlertResolved):
                self.resolved.labels(action.alert.kind.value, action.outcome.value).inc()
            elif isinstance(action, AlertUpdated) and action.reason.value == "acknowledged":
                self._acknowledged(action.alert)

    def _acknowledged(self, alert: Alert) -> None:
        channel = alert.transitions[-1].channel if alert.transitions else ""
        self.acknowledged.labels(alert.kind.value, channel or "unknown").inc()
        if alert.acknowledged_at is not None:
            self.time_to_ack.labels(alert.severity.value).observe(max(0.0, alert.acknowledged_at - alert.opened_at))

    def on_message(self, state: str, channel: str = "sms") -> None:
        # calls and group cards do not go through the SMS provider: their channel names their sender
        provider = self.provider if channel == "sms" else channel
        self.messages.labels(provider, channel, state).inc()

    def on_step(self, reason: str) -> None:
        self.escalation_steps.labels(reason).inc()
