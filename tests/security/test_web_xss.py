"""Finding 3 of issue 16: names are text everywhere, and every page sends a Content-Security-Policy
without inline script. A resident, a zone and a responder named like an HTML payload are shown
on the board, map, resident, alert, reports, family and responder pages in Chromium: no element
is made of them, no script runs, and the browser reports no policy violation (the pages need no
inline script or style of their own)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from conftest import require
from sqlalchemy import update
from web.test_browser import CHROMIUM, CHROMIUM_ARGS, LiveServer

from dashboards.family_links import create_family_link
from hub.storage.models import Resident, Responder, Zone

from .web_kit import PASSWORD, build_web

PAYLOAD = '<img src=x onerror="document.body.dataset.pwned=1">'


@pytest.fixture
def server(db_url: str) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    web = build_web(db_url)
    with web.sessions.begin() as session:
        session.execute(update(Resident).where(Resident.id == "r-0001").values(name="李" + PAYLOAD))
        session.execute(update(Zone).where(Zone.resident_id == "r-0001").values(name="周边" + PAYLOAD))
        session.execute(update(Responder).where(Responder.id == "wang").values(name="王" + PAYLOAD))
        _link, family_token = create_family_link(session, "r-0001", web.clock.now(), "test", "son", None)
    pages = {
        "board": "/",
        "map": "/map",
        "resident": "/residents/r-0001",
        "alert": f"/alerts/{web.seeded.open_alert}",
        "reports": "/reports?grid=" + PAYLOAD[:60],
        "family": f"/f/{family_token}",
        "responder": f"/r/{web.responder_token(web.seeded.open_alert)}",
    }
    with LiveServer(web) as live:
        yield live, pages
    web.close()


def test_names_are_text_and_no_script_runs(server: tuple[LiveServer, dict[str, str]]) -> None:
    require(os.path.exists(CHROMIUM), "Debian chromium at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    live, pages = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        violations: list[str] = []
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(live.url + "/login")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("#alert-list")
        for name, path in pages.items():
            response = page.goto(live.url + path)
            assert response is not None and response.status == 200, (name, response and response.status)
            policy = response.headers.get("content-security-policy", "")
            assert "script-src 'self'" in policy and "unsafe-inline" not in policy, (name, policy)
            if name == "map":
                page.wait_for_selector(".leaflet-tooltip")  # the open alert's home: a permanent tooltip
                assert "李" + PAYLOAD in page.inner_text("#map")
            page.wait_for_load_state("networkidle")
            assert page.locator('img[src="x"]').count() == 0, f"{name}: a name became HTML"
            assert page.evaluate("document.body.dataset.pwned") is None, f"{name}: the payload ran"
        assert violations == []
        browser.close()
