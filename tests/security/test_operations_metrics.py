"""The operations series of /metrics that a hub counts by itself: how late the scheduler fires a
due deadline, and the alerts a deadline opens (the SMS path is covered in
tests/dispatch/test_e2e_sos.py). A real hub on SQLite and PostgreSQL, on a virtual clock."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

from prometheus_client import generate_latest
from web.conftest import make_config
from web.seed import Feeder, import_registry

from hub.clock import VirtualClock
from hub.dispatch.providers.console import ConsoleProvider
from pingan.wiring import build_hub

START = 1_764_124_800.0
ROOT = Path(__file__).resolve().parents[2]


def _value(hub, name: str, **labels: str) -> float:  # type: ignore[no-untyped-def]
    assert hub.metrics_registry is not None
    return hub.metrics_registry.get_sample_value(name, labels) or 0.0


def test_the_scheduler_reports_how_late_it_fired_a_deadline(db_url: str) -> None:
    clock = VirtualClock(START)
    hub = build_hub(make_config(db_url), clock=clock, provider=ConsoleProvider(echo=False))
    import_registry(hub.sessions)
    hub.core.load()
    feed = Feeder(hub)
    feed.deliver(START + 60, [feed.message(START + 60, "cat-0001", "heartbeat", battery=80)])
    due = hub.core.engine.next_deadline()
    assert due is not None
    clock.set(due + 42)  # the hub was busy (or asleep): the deadline is 42 s overdue
    stop = threading.Event()
    scheduler = threading.Thread(target=hub.core.run_scheduler, args=(stop, 0.05))
    scheduler.start()
    try:
        deadline = time.monotonic() + 20
        while _value(hub, "pingan_scheduler_lag_seconds_count") == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        scheduler.join(10)
        for engine in hub.engines:
            engine.dispose()
    assert _value(hub, "pingan_scheduler_lag_seconds_count") >= 1
    assert _value(hub, "pingan_scheduler_lag_seconds_bucket", le="15.0") == 0  # 42 s late, not less
    assert _value(hub, "pingan_scheduler_lag_seconds_bucket", le="60.0") >= 1
    exposition = generate_latest(hub.metrics_registry).decode()
    for series in ("pingan_alerts_opened_total", "pingan_alert_time_to_ack_seconds", "pingan_messages_total",
                   "pingan_escalation_steps_total", "pingan_alerts_resolved_total"):
        assert series in exposition or f"# TYPE {series.removesuffix('_total')}" in exposition


def test_every_grafana_panel_asks_for_series_and_labels_the_hub_exposes(db_url: str) -> None:
    hub = build_hub(make_config(db_url), clock=VirtualClock(START), provider=ConsoleProvider(echo=False))
    assert hub.metrics_registry is not None
    assert hub.app is not None  # a running hub serves the web app, which adds the webhook series (built after the hub starts)
    # Each series name -> its label names (prometheus_client keeps them on the collector; series
    # with labels have no sample before their first increment, so collect() cannot tell).
    labels: dict[str, set[str]] = {}
    for collector, names in hub.metrics_registry._collector_to_names.items():
        for name in names:
            labels[name] = {"le", "instance", *getattr(collector, "_labelnames", ())}
    for engine in hub.engines:
        engine.dispose()

    dashboard = json.loads((ROOT / "deploy" / "grafana-pingan.json").read_text(encoding="utf-8"))
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert len(exprs) >= 12
    for expr in exprs:
        series = set(re.findall(r"\bpingan_\w+", expr))
        assert series and series <= labels.keys(), (expr, series - labels.keys())
        used = {label for group in re.findall(r"by \(([^)]*)\)", expr) for label in group.replace(" ", "").split(",")}
        used |= set(re.findall(r"[{,](\w+)=~?\"", expr))
        for name in series:
            assert used <= labels[name] | {"le"}, (expr, name, used - labels[name])
