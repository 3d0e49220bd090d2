"""The shipped deploy/ files, adapted for a test only by path and port substitution."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from ingest.helpers import REPO

DEPLOY = REPO / "deploy"


def substitute(text: str, replacements: list[tuple[str, str]]) -> str:
    """Replace each whole-line-anchored pattern exactly once: when the shipped file changes
    shape, the test says which line it no longer finds instead of testing something else."""
    for pattern, new in replacements:
        text, count = re.subn(pattern, new, text, flags=re.MULTILINE)
        assert count == 1, f"deploy file: expected one line matching {pattern!r}, found {count}"
    return text


def shipped_mosquitto_conf(directory: Path, files: Path, tls_port: int, plain_port: int, *, mtls: bool = False) -> Path:
    """deploy/mosquitto.conf with test ports and paths: the TLS listener bound to 127.0.0.1 (the
    tests' network rule; production listens on all addresses), the certificates, passwd and
    acl from `pingan devices provision --out files`, persistence and the log in `directory`.
    `mtls` applies the documented switch (removes "#mtls "). Everything else is as shipped.
    `user root`: started as root, Mosquitto would drop to the `mosquitto` user, which cannot
    read pytest's private temporary directory (as in tests/conftest.py)."""
    text = substitute((DEPLOY / "mosquitto.conf").read_text(encoding="utf-8"), [
        (r"^listener 8883$", f"listener {tls_port} 127.0.0.1"),
        (r"^listener 1883 127\.0\.0\.1$", f"listener {plain_port} 127.0.0.1"),
        (r"^certfile /etc/mosquitto/certs/broker\.crt$", f"certfile {files}/tls/broker.crt"),
        (r"^keyfile /etc/mosquitto/certs/broker\.key$", f"keyfile {files}/tls/broker.key"),
        (r"^cafile /etc/mosquitto/certs/ca\.crt$", f"cafile {files}/tls/ca.crt"),
        (r"^password_file /etc/mosquitto/pingan/passwd$", f"password_file {files}/passwd"),
        (r"^acl_file /etc/mosquitto/pingan/acl$", f"acl_file {files}/acl"),
        (r"^persistence_location /var/lib/mosquitto/$", f"persistence_location {directory}/"),
        (r"^log_dest syslog$", f"log_dest file {directory}/mosquitto.log"),
    ])
    if mtls:
        text = substitute(text, [(r"^#mtls ", "")])
    conf = directory / "mosquitto.conf"
    conf.write_text(text + "user root\n", encoding="utf-8")
    return conf


def provision(config: Path, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`pingan devices provision` as an installer runs it."""
    return subprocess.run([sys.executable, "-m", "pingan", "--config", str(config), "devices", "provision",
                           "--out", str(out), *args], cwd=REPO, capture_output=True, text=True, timeout=120)
