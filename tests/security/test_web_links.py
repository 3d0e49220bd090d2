"""Findings 10 and 11 of issue 16.

10: a responder link acts only while its alert is open and its phone is still a responder (or a
contact of the resident); once the alert is resolved the page says only that it is closed.
11: the family page says which role is on the alert ("网格员已响应"), never a phone or a login."""

from __future__ import annotations

from sqlalchemy import update

from dashboards.family_links import create_family_link
from hub.storage.models import Alert, Responder

from .web_kit import Web, csrf_of

WANG_PHONE = "+8613800000001"



def test_a_link_of_a_resolved_alert_shows_only_that_it_is_closed(web: Web) -> None:
    alert = web.seeded.open_alert
    token = web.responder_token(alert)
    client = web.client()
    page = client.get(f"/r/{token}")
    assert page.status_code == 200 and "宣信街12号3单元501" in page.text  # open: the responder needs the address
    csrf = csrf_of(page.text)
    web.hub.core.resolve(alert, "ok", "operator", "board")
    closed = client.get(f"/r/{token}")
    assert closed.status_code == 410
    for secret in ("李奶奶", "宣信街12号3单元501", "geo:", "45.75", "126.64"):
        assert secret not in closed.text, secret
    assert "已结束" in closed.text or "closed" in closed.text
    acted = client.post(f"/r/{token}/on-site", data={"csrf": csrf}, follow_redirects=False)
    assert acted.status_code == 410
    with web.sessions() as session:
        assert session.get(Alert, alert).on_site_at is None


def test_a_link_for_a_phone_no_longer_a_responder_does_nothing(web: Web) -> None:
    alert = web.seeded.open_alert
    token = web.responder_token(alert, WANG_PHONE)
    client = web.client()
    csrf = csrf_of(client.get(f"/r/{token}").text)
    with web.sessions.begin() as session:  # 王网格员 left: the registry gives the grid a new number
        session.execute(update(Responder).where(Responder.id == "wang").values(phone="+8613800009999"))
    assert client.get(f"/r/{token}").status_code == 404
    assert client.post(f"/r/{token}/ack", data={"csrf": csrf}, follow_redirects=False).status_code == 404
    with web.sessions() as session:
        assert session.get(Alert, alert).state == "open"


def test_a_contact_link_is_good_only_for_their_own_resident(web: Web) -> None:
    other_alert = web.seeded.acked_alert  # r-0003's; +8613900000001 is r-0001's son
    token = web.responder_token(other_alert, "+8613900000001")
    assert web.client().get(f"/r/{token}").status_code == 404


def _family_page(web: Web, resident: str, lang: str = "zh-CN") -> str:
    with web.sessions.begin() as session:
        _link, token = create_family_link(session, resident, web.clock.now(), "test", "family", None)
    return web.client().get(f"/f/{token}?lang={lang}").text


def test_the_family_page_names_the_role_not_the_person(web: Web) -> None:
    alert = web.seeded.open_alert
    client = web.client()
    token = web.responder_token(alert, WANG_PHONE)
    csrf = csrf_of(client.get(f"/r/{token}").text)
    assert client.post(f"/r/{token}/ack", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    page = _family_page(web, "r-0001")
    assert "网格员已响应" in page
    for identity in (WANG_PHONE, "王网格员", ">wang<"):
        assert identity not in page, identity
    assert "A grid worker is on it" in _family_page(web, "r-0001", "en")
    # 赵组长 (grid leader) acknowledged r-0003's alert by SMS.
    assert "网格组长已响应" in _family_page(web, "r-0003")


def test_the_family_page_never_shows_a_login_or_a_number(web: Web) -> None:
    alert = web.seeded.open_alert
    web.hub.core.acknowledge(alert, "operator", "board")
    page = _family_page(web, "r-0001")
    assert "服务中心已响应" in page and "operator" not in page
    with web.sessions.begin() as session:  # an acknowledgement recorded under a bare phone number
        session.execute(update(Alert).where(Alert.id == alert).values(acknowledged_by="+8613700000000"))
    page = _family_page(web, "r-0001")
    assert "+8613700000000" not in page and "已有人响应" in page
