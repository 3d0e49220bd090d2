"""`pingan devices provision`: per-device broker credentials and certificates (hub/operations/provision.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from hub.clock import SystemClock
from hub.storage.db import make_engine, make_sessions
from hub.storage.models import Device
from pingan.commands.context import load

devices_app = typer.Typer(no_args_is_help=True, help="Device credentials for the broker.")


@devices_app.command("provision")
def provision_command(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="directory for passwd, acl, the CSV and secrets/")] = Path("mosquitto"),
    rotate: Annotated[bool, typer.Option("--rotate", help="new passwords (and certificates, except the CA) for every device and the hub")] = False,
    show: Annotated[bool, typer.Option("--print", help="also print the new credentials as CSV")] = False,
    tls_hosts: Annotated[list[str] | None, typer.Option(
        "--tls-host", help="host name or IP the broker is reached at (repeat): makes tls/ca.* once and tls/broker.*")] = None,
    client_certs: Annotated[bool, typer.Option(
        "--client-certs", help="with --tls-host: also a client certificate per device and for the hub (mutual TLS)")] = False,
    hub_users: Annotated[list[str] | None, typer.Option(
        "--hub-user", help="broker user of a hub (repeat for several hubs; default mqtt.username or pingan-hub)")] = None,
) -> None:
    """Write per-device MQTT credentials (CSV for the device maker) and Mosquitto's passwd and acl files."""
    # Here, not at the top: the cryptography package is not imported by every `pingan` command (`serve`).
    from hub.operations import certs
    from hub.operations.provision import DEFAULT_HUB_USER, hub_logins, provision, provision_tls, write_credentials_csv

    cfg = load(ctx)
    if client_certs and not tls_hosts:
        typer.echo("error: --client-certs needs --tls-host (the CA and the broker's certificate come first)", err=True)
        raise typer.Exit(2)
    try:
        certs.subject_alt_names(tls_hosts or ["localhost"])  # bad host names fail before anything is written
    except certs.CertError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    engine = make_engine(cfg.database.url)
    with make_sessions(engine)() as session:
        devices = {d.id: d.kind for d in session.scalars(select(Device).order_by(Device.id))}
    engine.dispose()
    hubs = hub_users or [cfg.mqtt.username or DEFAULT_HUB_USER]
    result = provision(devices, out, hubs, cfg.mqtt.topic_root, rotate)
    stamp = datetime.fromtimestamp(SystemClock().now(), UTC).strftime("%Y%m%dT%H%M%SZ")
    csv_path = out / f"device-credentials-{stamp}.csv"
    if result.created:
        # Devices reach the broker at the name its certificate is for, not at the hub's own
        # (often loopback) mqtt.url.
        broker = f"mqtts://{tls_hosts[0]}:8883" if tls_hosts else (cfg.mqtt.url or "")
        write_credentials_csv(csv_path, result.created, devices, broker)
        if show:
            typer.echo(csv_path.read_text(encoding="utf-8"), nl=False)
    typer.echo(f"devices: {len(result.created)} new credentials, {result.kept} kept, {len(result.removed)} removed"
               f" ({', '.join(result.removed) or 'none'})")
    if result.created:
        typer.echo(f"credentials for the device maker: {csv_path} (mode 0600; passwords are not stored in clear)")
    if result.hub_password is not None:
        typer.echo(f"hub users {', '.join(hub_logins(hubs))}: password in {out / 'secrets' / 'PINGAN_MQTT__PASSWORD'}"
                   " (use PINGAN_SECRETS_DIR or PINGAN_MQTT__PASSWORD; set mqtt.username)")
    typer.echo(f"broker files: {out / 'passwd'} {out / 'acl'}")
    if tls_hosts:
        users = [*hubs, *sorted(devices)] if client_certs else None
        try:
            tls = provision_tls(out, tls_hosts, users, certs.utc(SystemClock().now()), rotate)
        except certs.CertError as exc:  # e.g. ca.crt kept but ca.key lost
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        tls_dir = out / "tls"
        typer.echo(f"CA: {tls_dir / 'ca.crt'} ({'new' if tls.ca_created else 'kept'}; keep ca.key off the broker)"
                   f"; broker certificate for {', '.join(tls_hosts)}: {tls_dir / 'broker.crt'}"
                   f" ({'new' if tls.broker_renewed else 'kept'})")
        if client_certs:
            typer.echo(f"client certificates in {tls_dir / 'clients'}: {len(tls.clients_issued)} new,"
                       f" {len(tls.clients_removed)} removed ({', '.join(tls.clients_removed) or 'none'})")


