"""The workspace end to end against `pingan serve` (a subprocess, a private Mosquitto, SQLite):
a resident and a home unit added while the hub runs — through the API with a bearer token, and
in Debian's Chromium through the residents page — and the home unit's SOS published over MQTT
opens an alert for that resident without a restart (on the board, over SSE, in the browser).

Bounded waits only (Playwright's, or a poll with a deadline); nothing asserts how fast."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from .test_browser import CHROMIUM, CHROMIUM_ARGS, require
from .test_e2e_serve import PASSWORD, REGISTRY, USER, ServedHub


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


def press_sos(broker_url: str, device: str) -> None:
    host, port = broker_url.removeprefix("mqtt://").split(":")
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{device}-test")
    client.connect(host, int(port))
    client.loop_start()
    try:
        payload = json.dumps({"ts": time.time(), "seq": 1, "type": "sos"})
        client.publish(f"pingan/v1/dev/{device}/event", payload, qos=1).wait_for_publish(10)
    finally:
        client.loop_stop()
        client.disconnect()


def api(served: ServedHub, method: str, path: str, token: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(served.url + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@pytest.mark.timeout(180)
def test_a_resident_added_through_the_api_is_ruled_at_once(served: ServedHub, broker) -> None:  # type: ignore[no-untyped-def]
    token = served.cli("tokens", "create", "office", "--role", "operator").strip().splitlines()[-1]
    resident = {"id": "r-0100", "name": "周奶奶", "grid": "xuanxin-g01", "home": {"lat": 45.7512, "lon": 126.6421},
                "contacts": [{"name": "周明", "phone": "+8613900000100"}]}
    assert api(served, "POST", "/api/residents", token, resident)[0] == 201
    assert api(served, "POST", "/api/devices", token, {"id": "cat-0100", "kind": "pingan_cat", "resident": "r-0100"})[0] == 201

    press_sos(broker.url, "cat-0100")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status, alerts = api(served, "GET", "/api/alerts?resident=r-0100", token)
        if status == 200 and alerts:
            break
        time.sleep(0.2)
    assert [(a["kind"], a["device"], a["state"]) for a in alerts] == [("sos", "cat-0100", "open")]


@pytest.mark.timeout(240)
def test_an_operator_adds_a_resident_in_the_browser_and_sees_its_sos(served: ServedHub, broker) -> None:  # type: ignore[no-untyped-def]
    require(os.path.exists(CHROMIUM), "Debian chromium at /usr/bin/chromium")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(permissions=["notifications"]).new_page()
            page.goto(served.url + "/login")
            page.fill("input[name=username]", USER)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.click("nav a[href='/residents']")
            form = page.locator("#new-resident form")
            for name, value in {"id": "r-0100", "name": "周奶奶", "address": "宣信街40号1单元101", "home_lat": "45.7512",
                                "home_lon": "126.6421", "contact_name": "周明", "contact_phone": "13900000100",
                                "device_id": "cat-0100"}.items():
                form.locator(f"input[name={name}]").fill(value)
            form.locator("select[name=device_kind]").select_option("pingan_cat")
            form.locator("#create-resident").click()
            expect(page.locator("#ws-errors")).to_contain_text("contacts.0.phone")  # the import's check, on the form
            page.locator("#new-resident input[name=contact_phone]").fill("+8613900000100")
            page.locator("#create-resident").click()
            expect(page.locator("#ws-devices")).to_contain_text("cat-0100")  # on the new resident's edit page

            page.goto(served.url + "/")
            expect(page.locator("#live-status.on")).to_be_visible()
            page.locator("#alarm-mute").click()  # the operator touches the board once: the page may play sound
            page.locator("#alarm-mute").click()
            page.evaluate("window.__noReload = true")
            press_sos(broker.url, "cat-0100")
            card = page.locator("article.alert.sev-critical", has_text="周奶奶")
            expect(card).to_be_visible(timeout=30_000)
            assert page.evaluate("window.__noReload") is True  # over SSE: no restart, no reload
            expect(page.locator("#alarm")).to_have_attribute("data-plays", "1")  # the SOS rang
            assert page.evaluate("document.getElementById('alarm-sound').played.length") >= 1

            # The team handles it on the alert's page: a note, an assignment, then resolved.
            card.locator("a[href^='/alerts/']").first.click()
            page.locator("#note-form textarea[name=text]").fill("已电话联系周明，王网格员前往")
            page.locator("#note-form button").click()
            expect(page.locator("#notes")).to_contain_text("已电话联系周明")
            page.locator("#assign-form select[name=responder]").select_option(index=0)
            page.locator("#assign-form button").click()
            expect(page.locator("#assignee strong")).to_be_visible()
            resolve = page.locator("form[action$='/resolve']")
            resolve.locator("select[name=outcome]").select_option("ok")
            resolve.locator("button").click()
            expect(page.locator("body")).to_contain_text("平安无事")
            expect(page.locator("form[action$='/resolve']")).to_have_count(0)  # resolved: no more actions
        finally:
            browser.close()
