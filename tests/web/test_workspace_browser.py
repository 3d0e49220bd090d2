"""Issue 19 items 5 and 2 in Debian's Chromium: a new critical alert arriving on the live board plays the
alarm sound, shows a browser notification and marks the tab title until it is acknowledged;
muting is per session and visible; an admin disabling a user ends their open board; a
grid-limited operator never sees another grid's resident. The alerts come from device messages through ingestion and
the real core (tests/web/test_browser.py has the server and browser fixtures)."""

from __future__ import annotations

import re

from sqlalchemy import select

from hub.storage.models import Alert

from .seed import PASSWORD, Feeder
from .test_browser import LiveServer, browser, login, server  # noqa: F401  (fixtures)

MARK = re.compile(r"^【1 条紧急】")


def _critical(server: LiveServer, device: str, event: str) -> str:  # noqa: F811
    """A critical event published through ingestion; the id of the alert it opened."""
    web = server.web
    feed = Feeder(web.hub)
    feed.seq[device] = 20_000
    now = web.clock.now()
    feed.deliver(now, [feed.message(now, device, "event", type=event)])
    with web.sessions() as session:
        return session.scalars(select(Alert.id).where(Alert.kind == event, Alert.device_id == device, Alert.state == "open")).one()


def test_a_critical_alert_rings_notifies_and_marks_the_title_until_acknowledged(server: LiveServer, browser) -> None:  # noqa: F811
    from playwright.sync_api import expect

    context = browser.new_context(permissions=["notifications"], base_url=server.url)
    page = context.new_page()
    login(page, server, "operator")
    expect(page.locator("#live-status.on")).to_be_visible()
    title = page.title()
    mute = page.locator("#alarm-mute")
    expect(mute).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#alarm-enable")).to_be_hidden()  # notifications are granted already
    # The operator touches the board once (the browser lets a page play sound after a click).
    mute.click()
    expect(mute).to_have_attribute("aria-pressed", "true")
    expect(mute).to_contain_text("已静音")
    mute.click()
    expect(mute).to_contain_text("声音：开")

    fall = _critical(server, "cat-0002", "fall")
    expect(page.locator(f'article[data-alert="{fall}"]')).to_be_visible()
    expect(page).to_have_title(MARK)
    expect(page.locator("#alarm-banner")).to_be_visible()
    expect(page.locator("#alarm")).to_have_attribute("data-plays", "1")
    assert page.evaluate("document.getElementById('alarm-sound').played.length") >= 1
    expect(page.locator("#alarm")).to_have_attribute("data-notifications", "1")

    # Acknowledged from this screen (the form reloads the board): the mark goes.
    page.locator(f'article[data-alert="{fall}"] button.ack').click()
    expect(page.locator(f'article[data-alert="{fall}"] .state')).to_contain_text("已响应")
    expect(page).to_have_title(title)
    expect(page.locator("#alarm-banner")).to_be_hidden()

    # Muted for this session, visibly, across a reload: the next one marks the title, silently.
    page.locator("#alarm-mute").click()
    page.reload()
    expect(page.locator("#alarm-mute")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#alarm")).to_have_class(re.compile(r"\bmuted\b"))
    page.locator("#alarm-mute").click()  # a click in the new document too, then mute again
    page.locator("#alarm-mute").click()
    sos = _critical(server, "cat-0003", "sos")
    expect(page.locator(f'article[data-alert="{sos}"]')).to_be_visible()
    expect(page).to_have_title(MARK)
    expect(page.locator("#alarm")).to_have_attribute("data-notifications", "1")
    assert page.locator("#alarm").get_attribute("data-plays") == "0"
    # "Seen" on this screen clears the mark without acknowledging the alert.
    page.locator("#alarm-seen").click()
    expect(page).to_have_title(title)
    assert server.web.hub.core.engine.alert(sos).state.value == "open"

    # Another browser session is not muted.
    other = browser.new_context(permissions=["notifications"]).new_page()
    login(other, server, "viewer")
    expect(other.locator("#alarm-mute")).to_have_attribute("aria-pressed", "false")
    context.close()


def test_an_admin_disables_a_user_whose_open_board_loses_its_session(server: LiveServer, browser) -> None:  # noqa: F811
    from playwright.sync_api import expect

    board = browser.new_context().new_page()
    login(board, server, "operator")
    expect(board.locator("#live-status.on")).to_be_visible()
    admin = browser.new_context().new_page()
    login(admin, server, "admin")
    admin.goto(server.url + "/users")
    admin.locator('tr[data-user="operator"] button.disable').click()
    expect(admin.locator('tr[data-user="operator"] .state')).to_have_text("已停用")
    # The operator's open board is told over its live stream at once and goes to the login page.
    board.wait_for_url(re.compile(r"/login"), timeout=4000)  # under http.live_recheck_s (5 s): the stream was told
    expect(board.locator("input[name=username]")).to_be_visible()
    board.goto(server.url + "/")
    assert "/login" in board.url


def test_a_grid_limited_operator_never_sees_another_grids_resident(server: LiveServer, browser) -> None:  # noqa: F811
    """In Chromium: limited to grid 1, the operator's board, search and map show grid 1 only; a
    live alert of grid 2 never reaches the open board; a direct link to grid 2 is not found."""
    from playwright.sync_api import expect

    from hub import access

    web = server.web
    with web.sessions.begin() as session:
        access.add_user(session, "g1", "operator", PASSWORD, web.clock.now())
        access.set_scope(session, "g1", ["xuanxin-g01"], web.clock.now(), "test")
    page = browser.new_page()
    login(page, server, "g1")
    expect(page.locator("#resident-list")).to_contain_text("李奶奶")
    expect(page.locator("#resident-list")).not_to_contain_text("王奶奶")  # grid 2
    page.fill("#resident-filter input[name=q]", "王奶奶")
    page.locator("#resident-filter button").click()
    expect(page.locator("#resident-count")).to_have_attribute("data-total", "0")
    page.goto(server.url + "/")
    expect(page.locator("#live-status.on")).to_be_visible()
    other = _critical(server, "cat-0004", "fall")  # 陈爷爷, grid 2
    mine = _critical(server, "cat-0002", "fall")  # 张大爷, grid 1: published after the other one
    expect(page.locator(f'article[data-alert="{mine}"]')).to_be_visible()
    expect(page.locator(f'article[data-alert="{other}"]')).to_have_count(0)
    assert "陈爷爷" not in page.content()
    assert page.goto(server.url + "/residents/r-0004").status == 404
    assert page.goto(server.url + f"/alerts/{other}").status == 404
