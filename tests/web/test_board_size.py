"""The board at any size: the residents list is paged, problems first (an open alert, then no
working sensor), searchable by name, address, id and phone, filtered by grid and person state.
The whole hub on SQLite and PostgreSQL, with 120 more residents than the seeded community."""

from __future__ import annotations

import re

from sqlalchemy import select

from hub.storage import models as m
from web.conftest import Web

EXTRA = 120


def _add_residents(web: Web) -> None:
    with web.sessions.begin() as session:
        session.add_all(m.Resident(id=f"r-9{i:03d}", name=f"居民{i:03d}", grid_id="xuanxin-g02", address=f"新街{i}号",
                                   home_lat=45.75, home_lon=126.64) for i in range(EXTRA))


def _rows(html: str) -> list[str]:
    return re.findall(r'data-resident="([^"]+)"', html)


def test_the_residents_list_is_paged_with_problems_first(web: Web) -> None:
    _add_residents(web)
    board = web.login("viewer")
    with web.sessions() as session:
        alerting = sorted(set(session.scalars(select(m.Alert.resident_id).where(m.Alert.state != "resolved"))))
        total = len(session.scalars(select(m.Resident.id)).all())
    first = board.get("/partials/residents").text
    rows = _rows(first)
    assert len(rows) == 50 and f'data-total="{total}"' in first
    assert rows[: len(alerting)] == alerting  # those with an open alert lead, whatever their id
    pages = [_rows(board.get(f"/partials/residents?page={p}").text) for p in (1, 2, 3)]
    seen = [r for page in pages for r in page]
    assert len(seen) == total == len(set(seen))  # every resident once over the pages
    assert board.get("/partials/residents?page=4").status_code == 200


def test_search_and_filters_narrow_the_list(web: Web) -> None:
    _add_residents(web)
    board = web.login("viewer")
    assert _rows(board.get("/partials/residents?q=居民007").text) == ["r-9007"]
    assert _rows(board.get("/partials/residents?q=新街11").text)[:1] == ["r-9011"]
    assert _rows(board.get("/partials/residents?q=r-0002").text) == ["r-0002"]
    assert _rows(board.get("/partials/residents?q=13900000001").text) == ["r-0001"]  # a contact's phone
    grid_1 = _rows(board.get("/partials/residents?grid=xuanxin-g01").text)
    assert sorted(grid_1) == ["r-0001", "r-0002"]
    with web.sessions() as session:
        alerting = set(session.scalars(select(m.Alert.resident_id).where(m.Alert.state != "resolved")))
    assert set(_rows(board.get("/partials/residents?state=alert").text)) == alerting
    assert board.get("/partials/residents?state=nonsense").status_code == 422
