"""The board, family and responder pages in Debian's Chromium (Playwright) against the whole hub's
app (build_hub, real HubCore) in uvicorn on a free port: login, an alert raised by a device message
through ingestion appears over SSE without reload, acknowledge, family page on a phone, responder
link. (tests/web/test_e2e_serve.py drives `pingan serve` as a subprocess over MQTT.) Waits are Playwright's event waits (element appears), never sleeps.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest
import uvicorn
from conftest import free_port, require, wait_for_port
from sqlalchemy import select

from hub.storage.models import Alert, AlertTransition

from .conftest import Web, build_web
from .seed import PASSWORD, Feeder

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]  # fmt: skip
PHONE = {"width": 390, "height": 844}


class LiveServer:
    """uvicorn serving the test's app in a thread, so the test can publish on the same bus."""

    def __init__(self, web: Web) -> None:
        self.web = web
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(web.app, host="127.0.0.1", port=self.port, log_level="warning", timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        wait_for_port(self.port)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)


@pytest.fixture
def server(db_url: str) -> Iterator[LiveServer]:
    web = build_web(db_url)
    with LiveServer(web) as live:
        yield live
    web.close()


@pytest.fixture
def browser() -> Iterator[object]:
    require(os.path.exists(CHROMIUM), "Debian chromium at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def login(page, server: LiveServer, role: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(server.url + "/login")
    page.fill("input[name=username]", role)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#alert-list")


def test_new_alert_appears_live_and_is_acknowledged(server: LiveServer, browser) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page = browser.new_page()
    login(page, server, "operator")
    expect(page.locator("#live-status.on")).to_be_visible()  # the SSE stream is open
    page.evaluate("window.__noReload = true")
    web = server.web
    feed = Feeder(web.hub)
    feed.seq["cat-0002"] = 10_000  # after the seed's messages
    feed.deliver(web.clock.now(), [feed.message(web.clock.now(), "cat-0002", "event", type="fall")])  # ingestion → core → bus
    with web.sessions() as session:
        fall = session.scalars(select(Alert.id).where(Alert.kind == "fall", Alert.state == "open")).one()
    card = page.locator(f'article[data-alert="{fall}"]')
    expect(card).to_be_visible()
    assert page.evaluate("window.__noReload") is True  # no page reload happened
    expect(card.locator(".timer")).to_have_text(__import__("re").compile(r"^\d\d:\d\d$"))

    sos = web.seeded.open_alert
    page.locator(f'article[data-alert="{sos}"] button.ack').click()
    expect(page.locator(f'article[data-alert="{sos}"] .state')).to_contain_text("已响应")
    assert web.hub.core.engine.alert(sos).state.value == "acknowledged"


def test_family_page_on_a_phone(server: LiveServer, browser) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    from dashboards.family_links import create_family_link

    web = server.web
    with web.sessions() as session:
        _, hidden = create_family_link(session, "r-0001", web.clock.now(), "test")
        _, shared = create_family_link(session, "r-0002", web.clock.now(), "test")
    page = browser.new_page(viewport=PHONE, is_mobile=True)
    page.goto(f"{server.url}/f/{hidden}")
    expect(page.locator("h1")).to_have_text("李奶奶")
    expect(page.locator("#family-headline")).to_contain_text("需要关注")
    expect(page.locator("#family-location")).to_have_count(0)
    assert "45.751" not in page.content()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]  # no sideways scrolling on a phone
    page.goto(f"{server.url}/f/{shared}")
    expect(page.locator("#family-headline")).to_have_text("平安 — 12 分钟前有活动")
    expect(page.locator("#family-location")).to_be_visible()
    page.click("text=English")
    expect(page.locator("#family-headline")).to_have_text("All well — active 12 min ago")
    page.goto(f"{server.url}/f/not-a-token")
    expect(page.locator("h1")).to_have_text("404")


def test_responder_link_acknowledges(server: LiveServer, browser) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    web = server.web
    page = browser.new_page(viewport=PHONE, is_mobile=True)
    page.goto(f"{server.url}/r/{web.responder_token(web.seeded.open_alert)}")
    expect(page.locator("#responder-alert")).to_contain_text("李奶奶")
    page.click("text=我去处理")
    expect(page.locator("#responder-state")).to_contain_text("已响应 · 王网格员")
    with web.sessions() as session:
        by = session.scalars(select(AlertTransition.by).where(AlertTransition.alert_id == web.seeded.open_alert, AlertTransition.state == "acknowledged")).one()
    assert by == "wang"
    response = page.goto(f"{server.url}/r/forged-token")
    assert response is not None and response.status == 404
