"""End to end in Debian's Chromium against `pingan serve` as a subprocess: a private Mosquitto,
a SQLite database, console SMS. The registry is imported and a user added with the CLI; an SOS
published over MQTT by the home unit appears on the open board without reload (SSE); the
operator acknowledges it there, the home unit receives `alert_ack`, the alert page shows the
console SMS with their delivery state, the family page on a phone says which role is handling it, and
the operator resolves it with an outcome.

Bounded: every wait is Playwright's (element appears) or a poll with a deadline; the test has a
timeout of its own. Nothing asserts how fast anything happened."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .test_browser import CHROMIUM, CHROMIUM_ARGS, PHONE, free_port, require

ROOT = Path(__file__).resolve().parents[2]
PINGAN = str(Path(sys.executable).with_name("pingan"))
REGISTRY = ROOT / "tests" / "foundation" / "data" / "registry.yaml"
USER, PASSWORD = "xiaoli", "operator password 1"


class ServedHub:
    def __init__(self, tmp: Path, mqtt_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = tmp / "pingan.db"
        self.config = tmp / "config.yaml"
        self.config.write_text(
            (ROOT / "hub" / "default_config.yaml").read_text(encoding="utf-8")
            .replace('url: "mqtt://127.0.0.1:1883"', f'url: "{mqtt_url}"')
            .replace('url: "sqlite:///pingan.db"', f'url: "sqlite:///{self.db}"')
            .replace("port: 8000", f"port: {self.port}")
            .replace('public_url: "http://127.0.0.1:8000"', f'public_url: "{self.url}"')
            .replace("client_id: pingan-hub", "client_id: pingan-hub-e2e-web"),
            encoding="utf-8",
        )
        self.env = {**os.environ, "PINGAN_HTTP__SECRET_KEY": "e2e-web-secret"}
        self.log = tmp / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run([PINGAN, "--config", str(self.config), *args], input=stdin, capture_output=True, text=True,
                              env=self.env, cwd=ROOT, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def start(self) -> None:
        self.process = subprocess.Popen([PINGAN, "--config", str(self.config), "serve", "--no-upgrade"], env=self.env, cwd=ROOT,
                                        stdout=self.log.open("w"), stderr=subprocess.STDOUT)  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("pingan serve was not ready within 60 s:\n" + self.log.read_text()[-3000:])

    def stop(self) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(10)

    def alert(self, kind: str) -> tuple[str, str, str, str | None]:
        with sqlite3.connect(self.db) as conn:
            row = conn.execute("SELECT id, code, state, outcome FROM alerts WHERE kind = ? ORDER BY opened_at DESC", (kind,)).fetchone()
        assert row is not None, f"no {kind} alert"
        return row


@pytest.fixture
def served(tmp_path: Path, broker) -> Iterator[ServedHub]:  # type: ignore[no-untyped-def]
    hub = ServedHub(tmp_path, broker.url)
    hub.cli("db", "upgrade")
    hub.cli("import", str(REGISTRY))
    hub.cli("users", "add", USER, "--role", "operator", stdin=PASSWORD + "\n")
    hub.start()
    yield hub
    code = hub.stop()
    assert code == 0, hub.log.read_text()[-3000:]


@pytest.mark.timeout(240)
def test_sos_on_the_board_acknowledged_resolved_and_seen_by_the_family(served: ServedHub, home_unit) -> None:  # type: ignore[no-untyped-def]
    require(os.path.exists(CHROMIUM), "Debian chromium at /usr/bin/chromium")
    from playwright.sync_api import expect, sync_playwright

    device, commands = home_unit
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(served.url + "/login")
            page.fill("input[name=username]", USER)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page.locator("#live-status.on")).to_be_visible()  # the SSE stream is open
            page.evaluate("window.__noReload = true")

            sos = json.dumps({"ts": time.time(), "seq": 1, "type": "sos"})
            device.publish("pingan/v1/dev/cat-0001/event", sos, qos=1).wait_for_publish(10)
            card = page.locator("article.alert.sev-critical", has_text="李奶奶")
            expect(card).to_be_visible(timeout=30_000)
            assert page.evaluate("window.__noReload") is True  # it came over SSE, no reload
            alert_id, code, state, _ = served.alert("sos")
            assert state == "open" and card.get_attribute("data-alert") == alert_id

            card.locator("button.ack").click()
            acked = page.locator(f'article[data-alert="{alert_id}"]')
            expect(acked.locator(".state")).to_contain_text(f"已响应 · {USER}")
            assert json.loads(commands.get(timeout=30)) == {"cmd": "alert_ack", "alert": code}

            page.goto(f"{served.url}/alerts/{alert_id}")
            messages = page.locator("table.small tr", has_text="已送达")  # console SMS, delivered
            expect(messages.filter(has_text="王网格员")).to_have_count(1)
            expect(messages.filter(has_text="李明")).to_have_count(1)

            family_url = served.cli("family-link", "r-0001", "--label", "儿子").strip().splitlines()[-1]
            phone = browser.new_page(viewport=PHONE, is_mobile=True)
            phone.goto(family_url)
            expect(phone.locator("h1")).to_have_text("李奶奶")
            expect(phone.locator("body")).to_contain_text("服务中心已响应")  # the role, never the login
            expect(phone.locator("body")).not_to_contain_text(USER)
            assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

            page.goto(served.url + "/")
            board_card = page.locator(f'article[data-alert="{alert_id}"]')
            board_card.locator("select[name=outcome]").select_option("assisted")
            board_card.locator("form[action$='/resolve'] button").click()
            expect(page.locator(f'article[data-alert="{alert_id}"]')).to_have_count(0)  # gone from the open list
            assert served.alert("sos")[2:] == ("resolved", "assisted")
        finally:
            browser.close()
