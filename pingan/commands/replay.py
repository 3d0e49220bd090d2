"""`pingan replay FILE`: a recording to a broker, or --offline into the rules (hub/rules/replay.py),
or --compare B to backtest a configuration change (hub/rules/backtest.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from alerts.actions import Alert
from alerts.registry import RegistrySnapshot
from dashboards.i18n import translator
from dashboards.reasons import ReasonWords
from hub.config import Config, ConfigError, config_path, load_config
from hub.registry.file import RegistryError, load_registry_file, to_snapshot
from hub.rules.backtest import compare, text_lines
from hub.rules.replay import RESPONDER_AFTER_S, ReplayResult, run_offline
from simulators.cli import replay_to_broker


def replay_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="recording (JSONL, optionally .gz)", exists=True, dir_okay=False)],
    offline: Annotated[bool, typer.Option("--offline", help="feed the rules directly on a virtual clock, as fast as possible")] = False,
    registry: Annotated[Path | None, typer.Option("--registry", "-r", help="registry file (YAML/JSON/CSV) the recording's devices belong to")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="configuration A to replay under (default: the hub's: pingan --config, $PINGAN_CONFIG, ./config.yaml, else the packaged one)")] = None,
    compare: Annotated[Path | None, typer.Option("--compare", help="backtest: replay also under configuration B and list the alerts only under A, only under B, and the score of each (implies --offline)")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="one JSON object per alert, then a summary object")] = False,
    speed: Annotated[float, typer.Option("--speed", help="time factor for broker replay (0 = as fast as possible)")] = 1.0,
    broker_url: Annotated[str, typer.Option("--broker-url", "--url", help="broker replay: MQTT broker URL")] = "mqtt://127.0.0.1:1883",
    retime: Annotated[bool, typer.Option(help="broker replay: move payload ts onto the wall clock")] = False,
    responder_after: Annotated[float, typer.Option("--responder-after", min=0, help="offline: minutes after which a modelled responder resolves an SOS, fall, smoke or gas alert still open (0: nobody does)")] = RESPONDER_AFTER_S / 60,
) -> None:
    """Replay a recording: to a broker at its timing × speed, or --offline into the rules on a
    virtual clock, printing the alerts (and, with ground truth, what was found and missed);
    --compare B backtests a configuration change against A."""
    if not offline and compare is None:
        replay_to_broker(file, broker_url, speed, retime)
        return
    snapshot = _registry_snapshot(file, registry)
    # --config after `replay` is A; without it, the global `pingan --config` (ctx.obj) holds.
    path_a = config or (ctx.obj if isinstance(ctx.obj, Path) else None)
    after_s = responder_after * 60 or None
    result = run_offline(file, snapshot, _config(path_a), after_s)
    if compare is not None:
        b = run_offline(file, snapshot, _config(compare), after_s)
        _print_comparison(result, b, str(config_path(path_a)), str(compare), json_out, snapshot)
        return
    if json_out:
        for line in result.json_lines():
            typer.echo(line)
        return
    for alert in result.alerts:
        typer.echo(alert_text(alert, snapshot))
    typer.echo(json.dumps(result.summary, ensure_ascii=False, sort_keys=True, indent=2))


def alert_text(alert: Alert, snapshot: RegistrySnapshot | None = None) -> str:
    """One line per alert; its reason worded in English, times in the resident's time zone (UTC if unknown)."""
    resolved = f"{alert.outcome.value} after {alert.resolved_at - alert.opened_at:.0f} s" if alert.outcome and alert.resolved_at else "open"
    resident = snapshot.residents.get(alert.resident) if snapshot else None
    words = ReasonWords(translator("en"), "en", resident.timezone if resident else "UTC", alert.opened_at)
    return (f"{alert.opened_at:.0f} {alert.code} {alert.severity.value:8} {alert.kind.value:14} {alert.resident} "
            f"{alert.device or '-'}  {resolved}  {words.alert(alert)}")


def _config(path: Path | None) -> Config:
    try:
        return load_config(path)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def _registry_snapshot(file: Path, registry: Path | None) -> RegistrySnapshot:
    if registry is None:
        beside = file.with_name(file.name + ".registry.yaml")
        if not beside.exists():
            raise typer.BadParameter(f"offline replay needs the registry: give --registry or put {beside.name} beside the recording", param_hint="--registry")
        registry = beside
    try:
        return to_snapshot(load_registry_file(registry))
    except RegistryError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def _print_comparison(a: ReplayResult, b: ReplayResult, name_a: str, name_b: str, json_out: bool,
                      snapshot: RegistrySnapshot) -> None:
    comparison = compare(a, b)
    if json_out:
        for obj in comparison.json_lines():
            typer.echo(json.dumps(obj, ensure_ascii=False, sort_keys=True))
        return
    def describe(alert: Alert) -> str:  # times in the resident's time zone, as without --compare
        return alert_text(alert, snapshot)

    for line in text_lines(comparison, name_a, name_b, describe, len(snapshot.residents)):
        typer.echo(line)
