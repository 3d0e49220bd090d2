"""Command functions for `pingan simulate`, `pingan record` and `pingan replay` (broker replay).

Plain functions with Typer annotations: the hub's CLI registers them
(`app.command("simulate")(simulators.cli.simulate)`, `app.command("record")(simulators.cli.record)`)
and calls `replay_to_broker(...)` from its `replay` command when `--offline` is not given.
`python -m simulators.cli --help` runs them standalone.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from devices.topics import DEFAULT_ROOT
from simulators import publisher, recorder
from simulators.community import DEFAULT_CENTRE, registry_yaml
from simulators.engine import LOCAL_TZ, SimConfig, Simulation, from_scenario, write_recording
from simulators.incidents import ScenarioError, load_scenario, scenario_names
from simulators.recording import messages_only, read_recording

DEFAULT_URL = "mqtt://127.0.0.1:1883"

UrlOption = Annotated[str, typer.Option("--broker-url", "--url", help="MQTT broker URL, mqtt://[user:pass@]host:port")]


def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"),
                    TimeRemainingColumn(), transient=False)


def _centre(text: str | None) -> tuple[float, float]:
    if not text:
        return DEFAULT_CENTRE
    try:
        lat, lon = (float(x) for x in text.split(","))
    except ValueError:
        raise typer.BadParameter("--centre is LAT,LON, e.g. 45.7512,126.6421") from None
    return lat, lon


def _config(residents: int | None, days: float | None, seed: int | None, scenario: str | None, start: str | None,
            centre: str | None, incidents: bool, topic_root: str, live: bool) -> SimConfig:
    overrides: dict[str, Any] = {"residents": residents, "days": days, "seed": seed, "start": start, "topic_root": topic_root,
                 "centre": _centre(centre)}
    if scenario:
        try:
            config = from_scenario(load_scenario(scenario), **overrides)
        except ScenarioError as exc:
            raise typer.BadParameter(f"{exc} (known: {', '.join(scenario_names())})") from None
    else:
        config = SimConfig(random_incidents=incidents, **{k: v for k, v in overrides.items() if v is not None})
    if live and start is None and not (scenario and config.start):
        config.start = datetime.now(UTC).astimezone(LOCAL_TZ).replace(microsecond=0).isoformat()
    return config


def simulate(
    residents: Annotated[int | None, typer.Option(help="residents (homes); default 20 or the scenario's")] = None,
    days: Annotated[float | None, typer.Option(help="simulated days; default 1 or the scenario's")] = None,
    seed: Annotated[int | None, typer.Option(help="random seed: same seed and options, same output")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write a recording (JSONL, .gz ok) and FILE.registry.yaml instead of publishing")] = None,
    broker_url: UrlOption = DEFAULT_URL,
    speed: Annotated[float, typer.Option(help="live: simulated seconds per wall second (0 = as fast as possible)")] = 60.0,
    scenario: Annotated[str | None, typer.Option(help="scenario name (fall, wandering, sos, sos_cancelled, dead_device, battery, quiet_day) or YAML path")] = None,
    start: Annotated[str | None, typer.Option(help="start: local date 2025-11-26 or ISO datetime; default 2025-11-26 (--out) or now (live)")] = None,
    centre: Annotated[str | None, typer.Option(help="community centre LAT,LON (default 45.7512,126.6421, Harbin)")] = None,
    incidents: Annotated[bool, typer.Option(help="draw random incidents (falls, wandering, SOS, dead devices, batteries) with ground truth")] = True,
    topic_root: Annotated[str, typer.Option(help="MQTT topic root")] = DEFAULT_ROOT,
) -> None:
    """Simulate a community of residents and their devices: publish live, or write a recording."""
    sim = Simulation(_config(residents, days, seed, scenario, start, centre, incidents, topic_root, live=out is None))
    if out is not None:
        _write(sim, out)
    else:
        _publish(sim, broker_url, speed)


def registry_path(out: Path) -> Path:
    return out.with_name(out.name + ".registry.yaml")


def _write(sim: Simulation, out: Path) -> None:
    registry = registry_path(out)
    registry.write_text(registry_yaml(sim.community), encoding="utf-8")
    began = time.perf_counter()
    with _progress() as bar:
        task = bar.add_task("simulating", total=sim.end - sim.start)
        lines = write_recording(sim, out, lambda dt: bar.advance(task, dt))
    typer.echo(f"wrote {lines} lines to {out} in {time.perf_counter() - began:.1f}s; registry: {registry}")


def _publish(sim: Simulation, url: str, speed: float) -> None:
    typer.echo(f"publishing {len(sim.community.devices)} devices of {len(sim.community.residents)} residents "
               f"to {url} at ×{speed or 'max'}; payload ts = now + simulated elapsed / speed")
    try:
        with _progress() as bar:
            task = bar.add_task("simulating", total=sim.end - sim.start)
            sent = publisher.publish_simulation(sim, url, speed, lambda dt: bar.advance(task, dt))
            bar.update(task, completed=sim.end - sim.start)
    except publisher.BrokerError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"published {sent} messages")


def record(
    out: Annotated[Path, typer.Option("--out", "-o", help="recording file to write (JSONL, .gz ok)")],
    broker_url: UrlOption = DEFAULT_URL,
    topic_root: Annotated[str, typer.Option(help="MQTT topic root; subscribes to ROOT/dev/+/+")] = DEFAULT_ROOT,
    duration_s: Annotated[float | None, typer.Option("--duration", help="stop after this many seconds")] = None,
    count: Annotated[int | None, typer.Option(help="stop after this many messages")] = None,
) -> None:
    """Record device traffic from a broker into a recording file (Ctrl-C stops)."""
    typer.echo(f"recording {topic_root}/dev/+/+ from {broker_url} to {out}")
    with Progress(TextColumn("[bold]recording"), TextColumn("{task.completed} messages")) as bar:
        task = bar.add_task("recording", total=None)
        try:
            n = recorder.record(broker_url, out, topic_root, duration_s, count,
                                on_message=lambda k: bar.update(task, completed=k))
        except publisher.BrokerError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
    typer.echo(f"recorded {n} messages to {out}")


def replay_to_broker(
    file: Annotated[Path, typer.Argument(help="recording to publish", exists=True, dir_okay=False)],
    broker_url: UrlOption = DEFAULT_URL,
    speed: Annotated[float, typer.Option(help="recorded seconds per wall second (0 = as fast as possible)")] = 1.0,
    retime: Annotated[bool, typer.Option(help="rewrite payload ts onto the wall clock (now + elapsed / speed)")] = False,
) -> None:
    """Publish a recording to a broker at its timing × speed (ground-truth lines skipped)."""
    span = _span(file)
    try:
        with _progress() as bar:
            task = bar.add_task("replaying", total=max(span, 1.0))
            sent = publisher.replay_to_broker(file, broker_url, speed, lambda dt: bar.advance(task, dt), retime)
            bar.update(task, completed=max(span, 1.0))
    except publisher.BrokerError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"published {sent} messages from {file}")


def _span(file: Path) -> float:
    """Recorded time covered by a file (first to last message)."""
    first = last = None
    for t, _, _ in messages_only(read_recording(file)):
        first = t if first is None else first
        last = t
    return 0.0 if first is None or last is None else last - first


app = typer.Typer(no_args_is_help=True, help="Ping'an simulators: simulate, record, replay to a broker.")
app.command("simulate")(simulate)
app.command("record")(record)
app.command("replay")(replay_to_broker)

if __name__ == "__main__":
    app()
