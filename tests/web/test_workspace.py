"""The workspace (issue 19 item 1): residents, devices and responders created, edited and retired
through the API and the board, with the import's validation (422 with the field), an audit row
for every change, and the change live in the running engine without a full registry reload.

The hub is the real one (tests/web/conftest.py: the whole hub on SQLite and PostgreSQL, a
virtual clock); device messages go through the ingestion writer into the engine."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from hub.storage.models import Alert, Audit, Device, Event, Resident

from .conftest import Web, csrf_of
from .seed import Feeder

NEW = {
    "id": "r-0100", "name": "周奶奶", "grid": "xuanxin-g01", "address": "宣信街40号1单元101",
    "home": {"lat": 45.7512, "lon": 126.6421},
    "contacts": [{"name": "周明", "phone": "+8613900000100", "relation": "son"}],
    "zones": [{"name": "小区周边", "circle": {"lat": 45.7512, "lon": 126.6421, "radius_m": 500}}],
}


def audit_actions(web: Web, resident: str | None = None) -> list[str]:
    with web.sessions() as s:
        query = select(Audit.action).order_by(Audit.id)
        if resident is not None:
            query = query.where(Audit.resident_id == resident)
        return [a for a in s.scalars(query) if a.startswith(("resident.", "device.", "responder.", "registry."))]


def sos(web: Web, device: str) -> list[tuple[str, str | None, str]]:
    """Press SOS on `device` through ingestion; the SOS alerts of the resident it belongs to now."""
    feed = Feeder(web.hub)
    feed.seq[device] = 100
    now = web.clock.now() + 60
    feed.deliver(now, [feed.message(now, device, "event", type="sos")])
    with web.sessions() as s:
        return [(a.kind, a.resident_id, a.device_id) for a in s.scalars(select(Alert).where(Alert.device_id == device))]


def test_resident_crud_with_the_import_validation_and_audit(web: Web) -> None:
    api = web.client()
    op, viewer = web.bearer("operator"), web.bearer("viewer")

    assert api.post("/api/residents", json=NEW).status_code == 401
    assert api.post("/api/residents", json=NEW, headers=viewer).status_code == 403
    bad = api.post("/api/residents", json={**NEW, "contacts": [{"name": "周明", "phone": "13900000100"}]}, headers=op)
    assert bad.status_code == 422
    problem = bad.json()["detail"][0]
    assert problem["field"] == "contacts.0.phone" and problem["loc"] == ["body", "contacts", "0", "phone"]
    assert problem["msg"] == "phone '13900000100' is not E.164: '+' and 8–15 digits, e.g. +8613800000001"  # the import's words
    unknown_grid = api.post("/api/residents", json={**NEW, "grid": "nowhere"}, headers=op).json()["detail"]
    assert [(p["field"], p["msg"]) for p in unknown_grid] == [("grid", "unknown grid 'nowhere'")]
    typo = api.post("/api/residents", json={**NEW, "adress": "x"}, headers=op).json()["detail"]
    assert typo[0]["field"] == "adress" and "did you mean 'address'" in typo[0]["msg"]

    created = api.post("/api/residents", json=NEW, headers=op)
    assert created.status_code == 201, created.text
    assert created.json()["contacts"][0]["phone"] == "+8613900000100"
    again = api.post("/api/residents", json=NEW, headers=op)
    assert again.status_code == 422 and again.json()["detail"][0]["field"] == "id"

    patched = api.patch("/api/residents/r-0100", json={"address": "宣信街41号", "zones": []}, headers=op)
    assert patched.status_code == 200 and patched.json()["address"] == "宣信街41号" and patched.json()["zones"] == []
    assert patched.json()["contacts"] == created.json()["contacts"]  # a list left out is kept
    bad_zone = api.patch("/api/residents/r-0100", json={"zones": [{"name": "z", "polygon": [[45.7, 126.6]]}]}, headers=op)
    assert bad_zone.status_code == 422 and bad_zone.json()["detail"][0]["field"] == "zones.0.polygon"
    assert api.get("/api/residents/r-0100", headers=viewer).json()["address"] == "宣信街41号"

    assert api.delete("/api/residents/r-0100", headers=viewer).status_code == 403
    assert api.delete("/api/residents/r-0100", headers=op).status_code == 204
    assert api.get("/api/residents/r-0100", headers=viewer).status_code == 404
    with web.sessions() as s:
        assert s.get(Resident, "r-0100").retired_at is not None  # type: ignore[union-attr]  # kept for its history
    assert audit_actions(web, "r-0100") == ["resident.create", "resident.update", "resident.retire"]


def test_a_resident_with_an_open_alert_is_not_retired(web: Web) -> None:
    response = web.client().delete("/api/residents/r-0001", headers=web.bearer("operator"))
    assert response.status_code == 409 and "resolve it first" in response.json()["detail"]


def test_a_new_residents_sos_reaches_the_running_engine_without_a_reload(web: Web) -> None:
    api, op = web.client(), web.bearer("operator")
    registry = web.hub.core.registry
    assert api.post("/api/residents", json=NEW, headers=op).status_code == 201
    device = api.post("/api/devices", json={"id": "cat-0100", "kind": "pingan_cat", "resident": "r-0100"}, headers=op)
    assert device.status_code == 201, device.text
    assert web.hub.core.registry.devices["cat-0100"].resident == "r-0100"  # live, per entry
    assert web.hub.core.registry is registry  # not by reloading the whole registry
    assert sos(web, "cat-0100") == [("sos", "r-0100", "cat-0100")]
    assert audit_actions(web, "r-0100") == ["resident.create", "device.create"]


def test_device_validation_and_replace_keeps_the_history(web: Web) -> None:
    api, op = web.client(), web.bearer("operator")
    bad = api.post("/api/devices", json={"id": "cat-0101", "kind": "pingan_catt", "resident": "r-0005"}, headers=op)
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "kind"
    assert bad.json()["detail"][0]["msg"].startswith("unknown device kind 'pingan_catt'; one of pingan_cat")
    bad_id = api.post("/api/devices/cat-0003/replace", json={"new_id": "CAT 9"}, headers=op)
    assert bad_id.status_code == 422 and bad_id.json()["detail"][0]["field"] == "new_id"
    taken = api.post("/api/devices/cat-0003/replace", json={"new_id": "cat-0004"}, headers=op)
    assert taken.status_code == 422 and taken.json()["detail"][0]["field"] == "new_id"
    with web.sessions() as s:
        old_events = s.scalar(select(Event.id).where(Event.device_id == "cat-0003").limit(1))
    assert old_events is not None

    replaced = api.post("/api/devices/cat-0003/replace", json={"new_id": "cat-0103"}, headers=op)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json() == {"id": "cat-0103", "kind": "pingan_cat", "resident": "r-0003", "heartbeat_s": 3600}
    with web.sessions() as s:
        old = s.get(Device, "cat-0003")
        assert old is not None and old.retired_at is not None and old.resident_id == "r-0003"  # history kept
        assert s.scalar(select(Event.id).where(Event.device_id == "cat-0003").limit(1)) == old_events
    assert api.patch("/api/devices/cat-0003", json={"heartbeat_s": 60}, headers=op).status_code == 404
    assert "cat-0003" not in web.hub.core.registry.devices
    assert sos(web, "cat-0003") == []  # the retired device no longer raises anything
    assert sos(web, "cat-0103") == [("sos", "r-0003", "cat-0103")]
    assert audit_actions(web, "r-0003") == ["device.replace"]

    assert api.patch("/api/devices/cat-0103", json={"heartbeat_s": 5}, headers=op).json()["detail"][0]["field"] == "heartbeat_s"
    assert api.delete("/api/devices/cat-0103", headers=op).status_code == 204
    assert "cat-0103" not in web.hub.core.registry.devices


def test_residents_list_is_paged_and_searched(web: Web) -> None:
    api, viewer = web.client(), web.bearer("viewer")
    first = api.get("/api/residents?per_page=2", headers=viewer).json()
    assert first["total"] == 5 and [r["id"] for r in first["items"]] == ["r-0001", "r-0002"]
    third = api.get("/api/residents?per_page=2&page=3", headers=viewer).json()
    assert [r["id"] for r in third["items"]] == ["r-0005"]

    def ids(q: str) -> list[str]:
        return [r["id"] for r in api.get("/api/residents", params={"q": q}, headers=viewer).json()["items"]]

    assert ids("王奶奶") == ["r-0003"]  # name
    assert ids("20号") == ["r-0003"]  # address
    assert ids("R-0004") == ["r-0004"]  # id, any case
    assert ids("13900000001") == ["r-0001"]  # a contact's phone, without +86
    assert ids("100%") == []  # LIKE wildcards are text
    grid = api.get("/api/residents?grid=xuanxin-g02", headers=viewer).json()
    assert grid["total"] == 3


def test_responders_crud(web: Web) -> None:
    api, op = web.client(), web.bearer("operator")
    new = {"id": "sun", "name": "孙志愿者", "phone": "+8613800000009", "role": "volunteer", "grids": ["xuanxin-g01"]}
    bad = api.post("/api/responders", json={**new, "role": "hero"}, headers=op)
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "role"
    assert api.post("/api/responders", json=new, headers=op).status_code == 201
    patched = api.patch("/api/responders/sun", json={"available": False, "grids": ["xuanxin-g02"]}, headers=op).json()
    assert patched["available"] is False and patched["grids"] == ["xuanxin-g02"]
    assert "sun" in [r["id"] for r in api.get("/api/responders", headers=web.bearer("viewer")).json()]
    assert api.delete("/api/responders/sun", headers=op).status_code == 204
    assert api.get("/api/responders/sun", headers=op).status_code == 404
    assert audit_actions(web)[-3:] == ["responder.create", "responder.update", "responder.remove"]


def test_the_board_session_writes_with_its_csrf_header(web: Web) -> None:
    board = web.login("operator")
    csrf = csrf_of(board.get("/residents").text)
    assert board.post("/api/residents", json=NEW).status_code == 403
    assert board.post("/api/residents", json=NEW, headers={"X-CSRF-Token": csrf}).status_code == 201
    assert web.login("viewer").get("/api/residents/r-0100").status_code == 200


def test_create_and_edit_a_resident_on_the_pages(web: Web) -> None:
    board = web.login("operator")
    page = board.get("/residents?q=王")
    assert page.status_code == 200 and "王奶奶" in page.text and "李奶奶" not in page.text
    form = {"csrf": csrf_of(page.text), "id": "r-0100", "name": "周奶奶", "grid": "xuanxin-g01", "home_lat": "45.75",
            "home_lon": "126.64", "contact_name": "周明", "contact_phone": "13900000100", "device_id": "cat-0100", "device_kind": "pingan_cat"}
    refused = board.post("/residents", data=form)
    assert refused.status_code == 422 and "contacts.0.phone" in refused.text and "is not E.164" in refused.text
    done = board.post("/residents", data={**form, "contact_phone": "+8613900000100"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/residents/r-0100/edit"

    edit = board.get("/residents/r-0100/edit")
    assert 'value="+8613900000100"' in edit.text and "cat-0100" in edit.text
    fields = _form_fields(edit.text, "resident-form")
    fields |= {"zone-0-name": "菜市场", "zone-0-polygon": "45.75 126.64; 45.76 126.64; 45.76 126.65", "zone-0-crs": "gcj02"}
    assert board.post("/residents/r-0100/edit", data=fields, follow_redirects=False).status_code == 303
    stored = web.client().get("/api/residents/r-0100", headers=web.bearer("viewer")).json()
    assert stored["zones"][0]["name"] == "菜市场" and len(stored["zones"][0]["polygon"]) == 3
    bad = board.post("/residents/r-0100/edit", data={**fields, "zone-0-polygon": "45.75 126.64; 45.76"})
    assert bad.status_code == 422 and "is not &#39;lat lon&#39;" in bad.text

    csrf = csrf_of(edit.text)
    replaced = board.post("/devices/cat-0100/replace", data={"csrf": csrf, "new_id": "cat-0200"}, follow_redirects=False)
    assert replaced.status_code == 303
    assert sos(web, "cat-0200") == [("sos", "r-0100", "cat-0200")]
    assert audit_actions(web, "r-0100") == ["resident.create", "device.create", "resident.update", "device.replace"]


def test_viewers_see_but_do_not_change(web: Web) -> None:
    viewer = web.login("viewer")
    page = viewer.get("/residents")
    assert page.status_code == 200 and 'id="new-resident"' not in page.text
    assert viewer.post("/residents", data={"csrf": csrf_of(page.text), "id": "r-0100"}).status_code == 403


RESIDENTS_CSV = """id,name,grid,address,home_lat,home_lon
r-0200,钱奶奶,xuanxin-g01,宣信街50号,45.7512,126.6421
r-0201,吴爷爷,xuanxin-g09,宣信街51号,45.7512,126.6421
r-0202,郑奶奶,xuanxin-g02,宣信街52号,91,126.6421
"""
CONTACTS_CSV = """resident,name,phone,relation
r-0200,钱明,+8613900000200,son
r-0202,郑明,13900000202,daughter
"""
DEVICES_CSV = """id,kind,resident
cat-0200,pingan_cat,r-0200
cat-0202,pingan_cat,r-0202
"""


def test_csv_upload_previews_every_error_by_line_and_commits_all_or_nothing(web: Web) -> None:
    board = web.login("operator")
    csrf = csrf_of(board.get("/workspace/import").text)

    def upload(residents: str, commit: bool = False) -> Any:
        files = [("files", ("residents.csv", residents.encode(), "text/csv")), ("files", ("contacts.csv", CONTACTS_CSV.encode(), "text/csv")),
                 ("files", ("devices.csv", DEVICES_CSV.encode(), "text/csv"))]
        return board.post("/workspace/import", data={"csrf": csrf, **({"commit": "1"} if commit else {})}, files=files, follow_redirects=False)

    preview = upload(RESIDENTS_CSV)
    assert preview.status_code == 422
    problems = re.findall(r"<li>(.*?)</li>", preview.text.split('id="import-problems"')[1].split("</ul>")[0])
    assert problems == [
        "contacts.csv:3 entry r-0202 field phone: phone &#39;13900000202&#39; is not E.164: &#39;+&#39; and 8–15 digits, e.g. +8613800000001",
        "residents.csv:3 entry r-0201 field grid: unknown grid &#39;xuanxin-g09&#39;",
        "residents.csv:4 entry r-0202 field home_lat: Input should be less than or equal to 90",
    ]
    assert upload(RESIDENTS_CSV, commit=True).status_code == 422  # a commit validates again: nothing written
    with web.sessions() as s:
        assert s.scalars(select(Resident.id).where(Resident.id.in_(["r-0200", "r-0201", "r-0202"]))).all() == []

    fixed = RESIDENTS_CSV.replace("xuanxin-g09", "xuanxin-g02").replace(",91,", ",45.75,")
    global CONTACTS_CSV
    saved, CONTACTS_CSV = CONTACTS_CSV, CONTACTS_CSV.replace(",13900000202,", ",+8613900000202,")
    try:
        ok = upload(fixed)
        assert ok.status_code == 200 and "residents: 3 created, 0 updated, 0 unchanged" in ok.text
        carried = re.findall(r'name="carried" value="([^"]+)"', ok.text)
        assert len(carried) == 3
        commit = board.post("/workspace/import", data={"csrf": csrf, "commit": "1", "carried": carried}, follow_redirects=False)
        assert commit.status_code == 303
    finally:
        CONTACTS_CSV = saved
    assert sos(web, "cat-0202") == [("sos", "r-0202", "cat-0202")]  # live in the engine at once
    assert audit_actions(web)[-1] == "registry.import"


def _form_fields(html: str, form_id: str) -> dict[str, str]:
    """The named inputs of one form with their values (selects: the selected option or the first)."""
    body = html.split(f'id="{form_id}"')[1].split("</form>")[0]
    fields = dict(re.findall(r'<input name="([^"]+)" value="([^"]*)"', body))
    fields |= dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', body))
    for name, options in re.findall(r'<select name="([^"]+)">(.*?)</select>', body, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', options) or re.search(r'<option value="([^"]*)"', options)
        fields[name] = chosen[1] if chosen else ""
    for name, value in re.findall(r'<input name="([^"]+)" value="([^"]*)"[^>]*>', body):
        fields[name] = value
    return {k: v.replace("&#39;", "'").replace("&amp;", "&") for k, v in fields.items()}


def test_a_grid_limited_operator_edits_only_inside_its_grids(web: Web) -> None:
    from hub import access

    from .seed import PASSWORD

    now = web.clock.now()
    with web.sessions.begin() as session:
        access.add_user(session, "g1op", "operator", PASSWORD, now)
        access.set_scope(session, "g1op", ["xuanxin-g01"], now, "test")
    board = web.client()
    csrf = csrf_of(board.get("/login").text)
    board.post("/login", data={"username": "g1op", "password": PASSWORD, "csrf": csrf, "next": "/"})
    csrf = csrf_of(board.get("/residents").text)
    head = {"X-CSRF-Token": csrf}

    listed = board.get("/api/residents").json()
    assert listed["total"] == 2 and {r["id"] for r in listed["items"]} == {"r-0001", "r-0002"}
    assert board.get("/api/residents/r-0003").status_code == 404  # another grid's resident does not exist for it
    assert board.patch("/api/residents/r-0003", json={"address": "x"}, headers=head).status_code == 403
    assert board.post("/api/devices/cat-0003/replace", json={"new_id": "cat-0303"}, headers=head).status_code == 403
    assert board.post("/api/residents", json={**NEW, "grid": "xuanxin-g02"}, headers=head).status_code == 403
    assert board.patch("/api/residents/r-0002", json={"grid": "xuanxin-g02"}, headers=head).status_code == 403  # nor move one out
    assert board.post("/api/responders", json={"id": "x", "name": "x", "phone": "+8613800000009", "role": "volunteer"},
                      headers=head).status_code == 403
    assert board.post("/api/residents", json=NEW, headers=head).status_code == 201
    assert "周奶奶" in board.get("/residents").text and "王奶奶" not in board.get("/residents").text
    with web.sessions() as s:
        assert s.get(Resident, "r-0003").address == "宣信街20号2单元101"  # type: ignore[union-attr]
        assert s.get(Resident, "r-0002").grid_id == "xuanxin-g01"  # type: ignore[union-attr]
        assert s.get(Device, "cat-0303") is None
