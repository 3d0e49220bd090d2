"""The workspace's resident search is served by trigram indexes on PostgreSQL (issue 18 item 5):
at a city's size a scan of every resident per keystroke is what grows, not the page."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from dashboards.workspace_queries import resident_filter, search_residents
from hub.storage import models as m
from hub.storage.db import make_engine


@pytest.fixture
def pg_session(pg_schema_copies) -> Session:  # type: ignore[no-untyped-def]
    engine = make_engine(pg_schema_copies.fresh())
    with Session(engine) as session:
        session.execute(insert(m.Community), [{"id": "c1", "name": "宣信社区", "timezone": "Asia/Shanghai"}])
        session.execute(insert(m.Grid), [{"id": "g1", "community_id": "c1", "name": "第1网格"}])
        session.execute(insert(m.Resident), [
            {"id": f"r-{i:04d}", "name": f"居民{i:04d}", "grid_id": "g1", "address": f"宣信街{i}号", "home_lat": 45.75,
             "home_lon": 126.64} for i in range(300)])
        session.execute(insert(m.Contact), [{"resident_id": f"r-{i:04d}", "name": "家人", "phone": f"+86139{i:08d}"}
                                            for i in range(300)])
        session.commit()
        yield session
    engine.dispose()


@pytest.mark.parametrize(("q", "index"), [("居民0123", "ix_residents_name_trgm"), ("宣信街12", "ix_residents_address_trgm"),
                                          ("r-0123", "ix_residents_id_trgm"), ("1390000012", "ix_contacts_phone_trgm")])
def test_each_searched_column_is_read_through_its_trigram_index(pg_session: Session, q: str, index: str) -> None:
    pg_session.execute(text("SET enable_seqscan = off"))  # a table this small would be scanned anyway
    query = select(m.Resident.id).where(*resident_filter(q, dialect="postgresql"))
    compiled = query.compile(pg_session.get_bind())
    with pg_session.connection().connection.cursor() as cursor:  # the driver's own parameter style
        cursor.execute(f"EXPLAIN {compiled}", compiled.params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert index in plan, plan


def test_the_search_finds_by_part_of_a_name_an_address_and_a_phone(pg_session: Session) -> None:
    assert [r.id for r in search_residents(pg_session, "民0123").residents] == ["r-0123"]
    assert [r.id for r in search_residents(pg_session, "宣信街29号").residents] == ["r-0029"]
    assert [r.id for r in search_residents(pg_session, "13900000299").residents] == ["r-0299"]
