"""`pingan import` on SQLite and PostgreSQL: idempotent, all-or-nothing, zones stored in WGS-84."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from hub.gcj02 import gcj02_to_wgs84
from hub.registry.file import load_registry_file, to_snapshot
from hub.registry.importer import import_document, known_ids
from hub.registry.snapshot import load_snapshot
from hub.storage import models as m
from hub.storage.db import make_engine, make_sessions
from pingan.cli import app

DATA = Path(__file__).parent / "data"
YAML_FILE = DATA / "registry.yaml"
CSV_DIR = DATA / "csv"
REGISTRY_TABLES = [m.Community, m.Grid, m.Responder, m.ResponderGrid, m.Resident, m.Contact, m.Zone, m.Device]


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def config_file(tmp_path: Path, db_url: str) -> Path:
    path = tmp_path / "config.yaml"
    text = (Path(__file__).parents[2] / "hub" / "default_config.yaml").read_text(encoding="utf-8")
    path.write_text(text.replace('url: "sqlite:///pingan.db"', f'url: "{db_url}"'), encoding="utf-8")
    assert db_url in path.read_text(encoding="utf-8")
    return path


def run_import(config_file: Path, target: Path, *extra: str) -> Any:
    return CliRunner().invoke(app, ["--config", str(config_file), "import", str(target), *extra])


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every registry row, every column, in a stable order."""
    with Session(engine) as session:
        result = {}
        for model in REGISTRY_TABLES:
            columns = [c.key for c in model.__table__.columns]
            rows = session.execute(select(*[getattr(model, c) for c in columns])).all()
            result[model.__tablename__] = sorted((tuple(r) for r in rows), key=repr)
        return result


def test_import_then_reimport_changes_nothing(engine: Engine, config_file: Path) -> None:
    first = run_import(config_file, YAML_FILE)
    assert first.exit_code == 0, first.output
    assert "residents: 2 created, 0 updated, 0 unchanged" in first.output
    assert "devices: 4 created, 0 updated, 0 unchanged" in first.output
    before = dump(engine)
    assert len(before["contacts"]) == 1 and len(before["zones"]) == 2 and len(before["responder_grids"]) == 3

    again = run_import(config_file, YAML_FILE)
    assert again.exit_code == 0, again.output
    for section, count in [("communities", 1), ("grids", 2), ("responders", 4), ("residents", 2), ("devices", 4)]:
        assert f"{section}: 0 created, 0 updated, {count} unchanged" in again.output
    assert dump(engine) == before


def test_csv_folder_after_yaml_is_unchanged(engine: Engine, config_file: Path) -> None:
    assert run_import(config_file, YAML_FILE).exit_code == 0
    before = dump(engine)
    result = run_import(config_file, CSV_DIR)
    assert result.exit_code == 0, result.output
    assert "residents: 0 created, 0 updated, 2 unchanged" in result.output
    assert dump(engine) == before


def test_gcj02_zone_is_stored_converted(engine: Engine, config_file: Path) -> None:
    assert run_import(config_file, YAML_FILE).exit_code == 0
    with Session(engine) as session:
        zone = session.scalars(select(m.Zone).where(m.Zone.name == "菜市场路线")).one()
        circle = session.scalars(select(m.Zone).where(m.Zone.name == "小区周边")).one()
    assert zone.source_crs == "gcj02"
    assert zone.polygon == [list(gcj02_to_wgs84(lat, lon)) for lat, lon in [(45.75, 126.64), (45.76, 126.64), (45.76, 126.65)]]
    assert zone.polygon[0] != [45.75, 126.64]
    assert (circle.source_crs, circle.center_lat, circle.center_lon, circle.radius_m) == ("wgs84", 45.7512, 126.6421, 500)


def test_snapshot_from_database_equals_snapshot_from_file(engine: Engine, config_file: Path) -> None:
    assert run_import(config_file, YAML_FILE).exit_code == 0
    with make_sessions(engine)() as session:
        session.add(m.Absence(resident_id="r-0001", start_at=100.0, until_at=2000.0, note="hospital"))
        session.add(m.Absence(resident_id="r-0002", start_at=100.0, until_at=500.0, note="over"))
        session.commit()
        snapshot = load_snapshot(session, now=1000.0)
    from_file = to_snapshot(load_registry_file(YAML_FILE))
    assert snapshot.residents == from_file.residents
    assert snapshot.devices == from_file.devices
    assert [(a.resident, a.until, a.note) for a in snapshot.absences] == [("r-0001", 2000.0, "hospital")]


def test_an_error_anywhere_writes_nothing_and_names_entry_and_field(engine: Engine, config_file: Path, tmp_path: Path) -> None:
    assert run_import(config_file, YAML_FILE).exit_code == 0
    before = dump(engine)
    # A valid change early in the file (a new name) and a bad value in the very last entry.
    text = YAML_FILE.read_text(encoding="utf-8").replace("name: 李奶奶", "name: 李奶奶改").replace(
        "{id: spare-0001, kind: smoke_alarm}", "{id: spare-0001, kind: smoke_alarm, heartbeat_s: 5}"
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    result = run_import(config_file, bad)
    assert result.exit_code == 2
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "heartbeat_s: 5" in t)
    assert f"{bad}:{line} entry spare-0001 field heartbeat_s: Input should be greater than or equal to 10" in result.output
    assert "nothing was imported" in result.output
    assert dump(engine) == before


def test_a_database_failure_midway_rolls_everything_back(engine: Engine) -> None:
    doc = load_registry_file(YAML_FILE)
    sessions = make_sessions(engine)
    with sessions() as session:
        known = known_ids(session)
        assert not known.residents
        calls = 0

        def fail_late() -> None:
            nonlocal calls
            calls += 1
            if calls == doc.size() - 1:  # after most entries were written and flushed
                raise RuntimeError("disk full")

        with pytest.raises(RuntimeError):
            import_document(session, doc, fail_late)
        session.rollback()
    assert all(rows == [] for rows in dump(engine).values())


def test_reimport_replaces_contacts_zones_and_grids_as_a_whole(engine: Engine, config_file: Path, tmp_path: Path) -> None:
    assert run_import(config_file, YAML_FILE).exit_code == 0
    text = YAML_FILE.read_text(encoding="utf-8")
    text = text.replace(
        'contacts: [{name: 李明, phone: "+8613900000001", relation: son}]',
        'contacts: [{name: 李华, phone: "+8613900000009", relation: daughter}, {name: 李明, phone: "+8613900000001"}]',
    )
    text = text.replace("grids: [xuanxin-g01, xuanxin-g02]", "grids: [xuanxin-g02]")
    text = text.replace("      - {name: 小区周边, circle: {lat: 45.7512, lon: 126.6421, radius_m: 500}}\n", "")
    changed = tmp_path / "changed.yaml"
    changed.write_text(text, encoding="utf-8")
    result = run_import(config_file, changed)
    assert result.exit_code == 0, result.output
    assert "residents: 0 created, 1 updated, 1 unchanged" in result.output
    assert "responders: 0 created, 1 updated, 3 unchanged" in result.output
    with Session(engine) as session:
        grandma = session.get_one(m.Resident, "r-0001")
        assert [(c.name, c.relation) for c in grandma.contacts] == [("李华", "daughter"), ("李明", None)]
        assert [z.name for z in grandma.zones] == ["菜市场路线"]
        assert [g.id for g in session.get_one(m.Responder, "zhao").grids] == ["xuanxin-g02"]
        assert session.query(m.Contact).count() == 2 and session.query(m.Zone).count() == 1


def test_devices_csv_alone_may_refer_to_stored_residents(engine: Engine, config_file: Path, tmp_path: Path) -> None:
    assert run_import(config_file, YAML_FILE).exit_code == 0
    devices = tmp_path / "devices.csv"
    devices.write_text("id,kind,resident,heartbeat_s\ncat-0001,pingan_cat,r-0001,600\nwater-0002,water_meter,r-0002,\n")
    result = run_import(config_file, devices)
    assert result.exit_code == 0, result.output
    assert "devices: 1 created, 1 updated, 0 unchanged" in result.output
    with Session(engine) as session:
        assert session.get_one(m.Device, "cat-0001").heartbeat_s == 600
        assert session.get_one(m.Resident, "r-0001").contacts, "a devices-only import keeps the residents' contacts"


def test_dry_run_writes_nothing(engine: Engine, config_file: Path) -> None:
    result = run_import(config_file, YAML_FILE, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "residents: 2 created" in result.output and "nothing written" in result.output
    assert all(rows == [] for rows in dump(engine).values())


def test_large_csv_import_counts(engine: Engine, config_file: Path, tmp_path: Path) -> None:
    folder = tmp_path / "big"
    shutil.copytree(CSV_DIR, folder)
    residents = ["id,name,grid,home_lat,home_lon"] + [f"r-{i:05d},居民{i},xuanxin-g01,45.75,126.64" for i in range(600)]
    (folder / "residents.csv").write_text("\n".join(residents) + "\n", encoding="utf-8")
    (folder / "contacts.csv").write_text("resident,name,phone\n" + "".join(
        f"r-{i:05d},家属{i},+86139{i:08d}\n" for i in range(600)
    ), encoding="utf-8")
    (folder / "zones.csv").unlink()
    (folder / "devices.csv").write_text("id,kind,resident\n" + "".join(f"cat-{i:05d},pingan_cat,r-{i:05d}\n" for i in range(600)))
    result = run_import(config_file, folder)
    assert result.exit_code == 0, result.output
    assert "residents: 600 created" in result.output and "devices: 600 created" in result.output
    assert len(dump(engine)["contacts"]) == 600
