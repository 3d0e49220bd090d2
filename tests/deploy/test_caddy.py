"""deploy/Caddyfile: `caddy validate` accepts it as shipped, and a real Caddy running it (Debian's
package) serves a real `pingan serve` over HTTPS: login, then the board's /live event stream,
whose first event arrives at once (nothing buffers it).

The test's Caddy differs from the shipped file only where a test machine must: the site name
and the hub's port (free ports), and global options in place of the e-mail line: Caddy's own
local CA instead of Let's Encrypt, listeners on 127.0.0.1 only, no admin endpoint, storage in
the test's directory."""

from __future__ import annotations

import os
import re
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import Broker, free_port, require, wait_for_port
from ingest.helpers import REPO, HubProcess, wait_until, write_config

from deploy.kit import DEPLOY, substitute
from hub.storage.db import make_engine, reset_schema

PASSWORD = "a-long-test-password-31"


def caddy(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["caddy", *args], capture_output=True, text=True, timeout=60, env={**os.environ, **env})


def test_the_shipped_caddyfile_is_valid_and_formatted(tmp_path: Path) -> None:
    require(shutil.which("caddy") is not None, "caddy (Debian package)")
    out = caddy("validate", "--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile",
                env={"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)})
    assert out.returncode == 0 and "Valid configuration" in out.stdout + out.stderr, out.stderr
    assert "not formatted" not in out.stderr


def caddy_config(directory: Path, https_port: int, hub_port: int) -> Path:
    text = substitute((DEPLOY / "Caddyfile").read_text(encoding="utf-8"), [
        (r"^pingan\.example\.org \{$", f"localhost:{https_port} {{"),
        (r"^(\t+)reverse_proxy 127\.0\.0\.1:8000 \{$", rf"\1reverse_proxy 127.0.0.1:{hub_port} {{"),
        (r"^(\t+)reverse_proxy 127\.0\.0\.1:8000$", rf"\1reverse_proxy 127.0.0.1:{hub_port}"),
        (r"^\temail .*$", f"\tlocal_certs\n\tskip_install_trust\n\tdefault_bind 127.0.0.1\n\tadmin off\n"
                          f"\thttp_port {free_port()}\n\thttps_port {https_port}\n\tstorage file_system {directory}/data"),
    ])
    path = directory / "Caddyfile"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def hub_behind_caddy(tmp_path: Path, broker: Broker) -> Iterator[tuple[str, Path, Path]]:
    """(the board's https URL, Caddy's root certificate, the hub's log) with a hub and one operator."""
    require(shutil.which("caddy") is not None, "caddy (Debian package)")
    db_url = f"sqlite:///{tmp_path}/pingan.db"
    engine = make_engine(db_url)
    reset_schema(engine)
    engine.dispose()
    https_port, hub_port = free_port(), free_port()
    public = f"https://localhost:{https_port}"
    config = write_config(tmp_path / "hub.yaml", broker.url, db_url, hub_port)
    config.write_text(config.read_text().replace(f"http://127.0.0.1:{hub_port}", public))
    added = subprocess.run([sys.executable, "-m", "pingan", "--config", str(config), "users", "add", "op", "--role",
                            "operator"], input=PASSWORD + "\n", cwd=REPO, capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr
    hub = HubProcess(config, hub_port, tmp_path / "hub.log")
    hub.start()
    proxy = subprocess.Popen(["caddy", "run", "--config", str(caddy_config(tmp_path, https_port, hub_port)),
                              "--adapter", "caddyfile"], stdout=subprocess.DEVNULL,
                             stderr=(tmp_path / "caddy.log").open("wb"), env={**os.environ, "HOME": str(tmp_path)})
    try:
        hub.wait_ready(60)
        wait_for_port(https_port, 30)
        root = tmp_path / "data" / "pki" / "authorities" / "local" / "root.crt"
        wait_until(root.is_file, 30, "Caddy's local CA")
        yield public, root, hub.log
    finally:
        proxy.kill()  # a graceful stop would wait for the proxied streams without end
        proxy.wait(10)
        hub.cleanup()


def test_the_board_and_its_live_stream_through_caddy(hub_behind_caddy: tuple[str, Path, Path]) -> None:
    public, root, hub_log = hub_behind_caddy
    # The browser's side of the connection from 127.0.0.2 (Caddy sees that address, the hub only
    # ever sees Caddy at 127.0.0.1): the hub names 127.0.0.2 only if it takes X-Forwarded-For.
    transport = httpx.HTTPTransport(local_address="127.0.0.2", verify=ssl.create_default_context(cafile=root))
    with httpx.Client(base_url=public, transport=transport, timeout=10) as client:
        wait_until(lambda: client.get("/healthz").status_code == 200, 30, "the hub through Caddy (log: caddy.log)")
        form = client.get("/login")
        assert form.status_code == 200 and form.url.scheme == "https"
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf, form.text[:500]
        login = client.post("/login", data={"username": "op", "password": PASSWORD, "csrf": csrf.group(1), "next": "/"})
        assert login.status_code == 303, login.text[:500]
        assert "secure" in login.headers["set-cookie"].lower()  # public_url is https: cookies only over HTTPS
        assert login.headers.get("strict-transport-security", "").startswith("max-age=")
        assert "login user=op role=operator client=127.0.0.2" in hub_log.read_text()  # X-Forwarded-For believed

        started = time.monotonic()
        with client.stream("GET", "/live", headers={"accept": "text/event-stream"}) as live:
            assert live.status_code == 200 and live.headers["content-type"].startswith("text/event-stream")
            assert "content-encoding" not in live.headers  # /live is never compressed
            first = next(live.iter_lines())
        # The hello event is sent as the stream opens; the hub's next write is a ping 15 s later.
        # Had anything buffered the stream, the first line would come with that ping or never.
        assert first == "event: hello" and time.monotonic() - started < 5
