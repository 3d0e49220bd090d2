"""Board pages, family page, responder page, reports — through the app, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

from sqlalchemy import select

from dashboards.family_links import create_family_link
from hub.storage.models import Alert, AlertTransition, Audit, FamilyToken, ShortLink

from .conftest import Web, csrf_of


def family_link(web: Web, resident: str, ttl_s: float | None = None) -> str:
    with web.sessions() as session:
        _, token = create_family_link(session, resident, web.clock.now(), "test", "女儿", ttl_s)
    return token


def test_board_lists_alerts_with_delivery_states(web: Web) -> None:
    page = web.login("viewer").get("/").text
    order = [m for m in re.findall(r'data-alert="([^"]+)"', page)]
    assert order == [web.seeded.open_alert, web.seeded.acked_alert, web.seeded.low_alert]
    assert "已送达" in page and "失败" in page  # delivered / failed (刘网格员 opted out) messages
    assert "赵组长" in page  # who acknowledged the inactivity alert, by name
    assert 'data-resident="r-0003"' in page and "警报中" in page  # an acknowledged alert still counts
    assert "外出至" in page  # r-0004's absence
    assert re.search(r'data-resident="r-0005">.*?pstate ps-unknown', page, re.S)  # no device: nobody can tell
    assert f"/alerts/{web.seeded.open_alert}/ack" not in page  # viewers get no buttons


def test_acknowledge_and_resolve_from_the_board(web: Web) -> None:
    client = web.login("operator")
    csrf = csrf_of(client.get("/").text)
    sos = web.seeded.open_alert
    assert client.post(f"/alerts/{sos}/ack", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    assert web.hub.core.engine.alert(sos).state.value == "acknowledged"  # the engine took the decision
    client.post(f"/alerts/{sos}/resolve", data={"csrf": csrf, "outcome": "false_alarm"})
    with web.sessions() as session:
        alert = session.get(Alert, sos)
        transitions = [(t.state, t.by, t.channel) for t in session.scalars(select(AlertTransition).where(AlertTransition.alert_id == sos).order_by(AlertTransition.id))]
    assert (alert.state, alert.outcome) == ("resolved", "false_alarm")
    assert transitions[1:] == [("acknowledged", "operator", "board"), ("resolved", "operator", "board")]
    again = client.post(f"/alerts/{sos}/ack", data={"csrf": csrf}, follow_redirects=True)
    assert f"{alert.code} is resolved" in again.text  # the refusal is shown, not a crash
    assert client.post(f"/alerts/{web.seeded.low_alert}/resolve", data={"csrf": csrf, "outcome": "nonsense"}).status_code == 422


def test_english_switch_is_remembered(web: Web) -> None:
    client = web.login("viewer")
    assert "Open alerts" in client.get("/?lang=en").text
    assert "Open alerts" in client.get("/").text  # from the cookie
    assert "未结束的警报" in client.get("/?lang=zh-CN").text


def test_family_page_status_location_and_audit(web: Web) -> None:
    client = web.client()
    token = family_link(web, "r-0002")
    page = client.get(f"/f/{token}")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert "平安 — 12 分钟前有活动" in page.text
    assert 'id="family-location"' in page.text and "45.75510" in page.text  # shared
    hidden = client.get(f"/f/{family_link(web, 'r-0001')}").text
    assert 'id="family-location"' not in hidden and "45.751" not in hidden  # not shared: no coordinates at all
    assert "紧急呼叫" in hidden and "正在通知网格员" in hidden  # open SOS, nobody on it yet
    en = client.get(f"/f/{token}?lang=en").text
    assert "All well — active 12 min ago" in en
    with web.sessions() as session:
        views = session.scalars(select(Audit).where(Audit.action == "family_view")).all()
        assert len(views) == 3 and {v.resident_id for v in views} == {"r-0001", "r-0002"}
        assert all(len(row.token_hash) == 64 and token not in row.token_hash for row in session.scalars(select(FamilyToken)))


def test_family_page_shows_who_is_handling(web: Web) -> None:
    web.hub.core.acknowledge(web.seeded.open_alert, "wang", "sms")
    page = web.client().get(f"/f/{family_link(web, 'r-0001')}").text
    assert "网格员已响应" in page and "王网格员" not in page  # the role, not the person (docs/SECURITY.md)


def test_unknown_revoked_and_expired_family_links_look_the_same(web: Web) -> None:
    client = web.client()
    revoked, expiring = family_link(web, "r-0002"), family_link(web, "r-0002", ttl_s=3600)
    operator = web.login("operator")
    csrf = csrf_of(operator.get("/residents/r-0002").text)
    with web.sessions() as session:
        link_id = session.scalars(select(FamilyToken.id).order_by(FamilyToken.id)).first()
    assert operator.post(f"/family-links/{link_id}/revoke", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    assert client.get(f"/f/{expiring}").status_code == 200
    web.clock.advance(3601)
    bodies = set()
    for token in (revoked, expiring, "x" * 43, "short"):
        response = client.get(f"/f/{token}")
        assert response.status_code == 404
        bodies.add(response.text)
    assert len(bodies) == 1 and "李" not in bodies.pop()


def test_family_link_created_from_the_board_is_shown_once(web: Web) -> None:
    operator = web.login("operator")
    csrf = csrf_of(operator.get("/residents/r-0001").text)
    page = operator.post("/residents/r-0001/family-links", data={"csrf": csrf, "label": "儿子", "days": "7"}).text
    url = re.search(r'id="new-family-link">([^<]+)<', page)[1]
    assert url.startswith("http://127.0.0.1:8000/f/")
    assert "new-family-link" not in operator.get("/residents/r-0001").text
    assert web.client().get(url.removeprefix("http://127.0.0.1:8000")).status_code == 200


def test_responder_link_acknowledges_and_resolves(web: Web) -> None:
    phone = web.client()
    sos = web.seeded.open_alert
    link = f"/r/{web.responder_token(sos)}"
    page = phone.get(link)
    assert page.status_code == 200 and "李奶奶" in page.text and "宣信街12号" in page.text
    csrf = csrf_of(page.text)
    after = phone.post(f"{link}/ack", data={"csrf": csrf}, follow_redirects=True)
    assert "已响应" in after.text and "王网格员" in after.text
    phone.post(f"{link}/on-site", data={"csrf": csrf})
    phone.post(f"{link}/resolve", data={"csrf": csrf, "outcome": "ok"})
    with web.sessions() as session:
        alert = session.get(Alert, sos)
        web_actions = session.scalars(select(Audit.action).where(Audit.alert_id == sos, Audit.channel == "web", Audit.actor == "wang").order_by(Audit.id)).all()
    assert (alert.state, alert.outcome) == ("resolved", "ok")
    assert web_actions == ["alert.acknowledged", "alert.on_site", "alert.resolved"]


def test_the_short_link_of_a_text_opens_the_responder_page_until_it_expires(web: Web) -> None:
    phone = web.client()
    sos = web.seeded.open_alert
    with web.sessions() as session:
        links = session.scalars(select(ShortLink).where(ShortLink.alert_id == sos)).all()
    assert links, "the dispatcher stores a short link for each alert text"
    link = links[0]
    response = phone.get(f"/s/{link.code}", follow_redirects=False)
    assert response.status_code == 302 and response.headers["location"] == link.url
    assert "/r/" in link.url
    page = phone.get(link.url.removeprefix("http://127.0.0.1:8000"))
    assert page.status_code == 200 and "李奶奶" in page.text
    assert phone.get("/s/zzzzzz", follow_redirects=False).status_code == 404  # no such code
    assert phone.get("/s/..%2Fr", follow_redirects=False).status_code == 404  # not a code at all
    web.clock.set(link.expires_at + 1)
    assert phone.get(f"/s/{link.code}", follow_redirects=False).status_code == 404  # expired with its link


def test_tampered_responder_links_are_refused(web: Web) -> None:
    phone = web.client()
    sos = web.seeded.open_alert
    good = web.responder_token(sos)
    tampered = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    assert phone.get(f"/r/{tampered}").status_code == 404
    assert phone.get(f"/r/{web.responder_token('al-no-such-alert')}").status_code == 404
    assert phone.get(f"/r/{web.responder_token(sos, ttl_s=-1)}").status_code == 404  # expired
    csrf = csrf_of(phone.get("/login").text)
    assert phone.post(f"/r/{tampered}/ack", data={"csrf": csrf}).status_code == 404
    assert phone.post(f"/r/{good}/ack", data={}).status_code == 403  # no CSRF token
    with web.sessions() as session:
        assert session.get(Alert, sos).state == "open"


def test_signed_links_from_dispatch(web: Web) -> None:
    from dashboards.responder_links import signed_link_verifier
    from hub.dispatch.links import sign_responder_link

    verify = signed_link_verifier("k", web.clock, web.sessions)
    sos = web.seeded.open_alert
    token = sign_responder_link("k", sos, "+8613800000001", web.clock.now() + 600)
    claim = verify(token)
    assert claim is not None and (claim.alert_id, claim.responder, claim.name) == (sos, "wang", "王网格员")
    family = verify(sign_responder_link("k", sos, "+8613900000001", web.clock.now() + 600))
    assert family is not None and family.responder == "family:r-0001:李明"
    assert verify(token[:-2] + ("AA" if not token.endswith("AA") else "BB")) is None
    web.clock.advance(601)
    assert verify(token) is None


def test_reports_page_and_csv(web: Web) -> None:
    client = web.login("viewer")
    page = client.get("/reports?month=2026-11").text
    assert 'id="report-alerts">5<' in page and "<svg" in page
    csv_text = client.get("/reports.csv?month=2026-11&grid=xuanxin-g01").text
    lines = csv_text.strip().split("\n")
    assert lines[0].startswith("month,grid,kind,alerts")
    rows = {line.split(",")[2]: line.split(",") for line in lines[1:]}
    assert set(rows) == {"sos", "low_battery", "fall", "all"}  # 王奶奶's inactivity is in grid 2
    assert rows["sos"][3:7] == ["2", "1", "1", "1"]  # two SOS, one resolved, a false alarm
    assert client.get("/reports?month=2026-13").status_code == 422


def test_resident_and_device_pages(web: Web) -> None:
    client = web.login("viewer")
    resident = client.get("/residents/r-0002").text
    with web.sessions() as session:
        fall_code = session.get(Alert, web.seeded.resolved_alert).code
    assert "<svg" in resident and fall_code in resident
    device = client.get("/devices/tag-0001").text
    assert re.search(r'id="days-left">约 \d+\.\d 天', device)
    assert client.get("/devices/nope").status_code == 404


def test_map_data_and_gcj02_display(web: Web) -> None:
    from dashboards.app import MapSettings, WebServices, create_app

    data = web.login("viewer").get("/map/data.json").json()
    homes = {h["id"]: h for h in data["homes"]}
    assert homes["r-0001"]["alert"] and not homes["r-0002"]["alert"]
    tag = next(t for t in data["tags"] if t["device"] == "tag-0002")
    assert len(tag["trail"]) == 12 and tag["fix"] == [45.7551, 126.6391]
    gcj = WebServices(sessions=web.sessions, config=web.hub.config, alert_commands=web.hub.core, absence_commands=web.hub.core,
                      events=web.bus, clock=web.clock,
                      map=MapSettings.from_env({"PINGAN_WEB_TILE_CRS": "gcj02", "PINGAN_WEB_TILE_URL": "http://t/{z}/{x}/{y}.png"}))  # fmt: skip
    web.app = create_app(gcj)
    shifted = web.login("viewer").get("/map/data.json").json()
    home = next(h for h in shifted["homes"] if h["id"] == "r-0001")
    assert 0.001 < abs(home["lon"] - 126.6421) < 0.01  # a few hundred metres east, as Chinese base maps are
    assert 'data-tiles="http://t/{z}/{x}/{y}.png"' in web.login("viewer").get("/map").text
