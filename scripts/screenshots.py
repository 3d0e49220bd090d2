"""Regenerate the screenshots in docs/screenshots/ of every web page, on the test community.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

Builds the whole hub (pingan.wiring.build_hub: ingestion writer, rules core, dispatcher, outbox,
web app) over a throwaway SQLite database, plays the web tests' community through it as device
messages (tests/web/seed.py: every alert, person state and SMS is the real hub's), serves the
app with uvicorn on a free 127.0.0.1 port and drives Debian's Chromium (/usr/bin/chromium)
through Playwright. The clock is virtual (2026-11-26 14:00 Asia/Shanghai) so the pictures are stable.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import uvicorn

ROOT = Path(__file__).resolve().parent.parent
# Import the web tests' package as `web` (a stray top-level `tests` package in site-packages can
# shadow the project's `tests`).
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]  # fmt: skip
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import sync_playwright
    from web.conftest import build_web
    from web.seed import PASSWORD

    from dashboards.family_links import create_family_link
    from hub.storage.db import make_engine
    from hub.storage.models import Base

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/screens.db"
        Base.metadata.create_all(make_engine(url))
        web = build_web(url)
        with web.sessions() as session:
            _, family_token = create_family_link(session, "r-0001", web.clock.now(), "screenshots")
            _, family_shared = create_family_link(session, "r-0002", web.clock.now(), "screenshots")
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(web.app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                desk = browser.new_page(viewport=DESKTOP)
                desk.goto(base + "/login")
                desk.screenshot(path=args.out / "login.png")
                desk.fill("input[name=username]", "admin")
                desk.fill("input[name=password]", PASSWORD)
                desk.click("button[type=submit]")
                desk.wait_for_selector("#live-status.on")
                desk.locator(f'article[data-alert="{web.seeded.open_alert}"] details').evaluate("d => d.open = true")
                shots = [
                    ("board.png", "/", None),
                    ("alert.png", f"/alerts/{web.seeded.acked_alert}", None),
                    ("resident.png", "/residents/r-0001", None),
                    ("device.png", "/devices/tag-0001", None),
                    ("map.png", "/map", ".leaflet-interactive"),
                    ("reports.png", "/reports?month=2026-11", None),
                    ("board-en.png", "/?lang=en", None),
                    ("docs.png", "/docs", ".swagger-ui .opblock"),
                ]
                for name, path, wait_for in shots:
                    desk.goto(base + path)
                    if wait_for:
                        desk.wait_for_selector(wait_for)
                    desk.screenshot(path=args.out / name, full_page=name not in ("map.png",))
                    print(args.out / name)
                desk.goto(base + "/?lang=zh-CN")
                phone = browser.new_page(viewport=PHONE, is_mobile=True, device_scale_factor=2)
                for name, path in (
                    ("family.png", f"/f/{family_token}"),
                    ("family-shared-en.png", f"/f/{family_shared}?lang=en"),
                    ("responder.png", f"/r/{web.responder_token(web.seeded.open_alert)}?lang=zh-CN"),
                ):
                    phone.goto(base + path)
                    phone.screenshot(path=args.out / name, full_page=True)
                    print(args.out / name)
                browser.close()
        finally:
            server.should_exit = True
            thread.join(10)
            web.close()


if __name__ == "__main__":
    main()
