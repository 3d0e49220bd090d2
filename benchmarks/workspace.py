"""Workspace benchmark (not a test): the registry at a city's size (issues 18 item 5, 19).

    .venv/bin/python benchmarks/workspace.py [--residents 100000] [--db sqlite,postgresql]
                                             [--requests 200] [--baseline 3000] [--fill import|direct]

For each database (SQLite in a temp dir; PostgreSQL in a scratch database on 127.0.0.1):

1. Writes a YAML registry of N residents (one contact, a home unit and a GPS tag each, 100
   grids) and imports it as `pingan import` does (`load_registry_file` + `import_document`,
   one transaction): `import_s`. The baseline, in the same run, is the previous importer's
   algorithm (one `session.get` per entry with autoflush on) against the new one on the first
   `--baseline` residents of the same file, into fresh databases: `import_speedup`.
2. Builds the whole hub's web app (`pingan.wiring.build_hub`, no threads started) over that
   database and times, through the ASGI app (TestClient), `--requests` requests of each:
   `GET /api/residents?page=P` (random pages), `GET /api/residents?q=...` by name, address, id
   and phone, the workspace page `GET /residents?q=...`, and the operator board (`GET /?page=`,
   its live residents list `GET /partials/residents?page=` and `?q=`; the worst p95 of the three
   is `board_p95_ms`): p50 and p95 in ms. Baseline in the same run: the raw driver (sqlite3 or
   psycopg) reading one page of rows (`board_to_raw_page`: how many times the board's p95 that is).

Last line per database: `workspace: db=D residents=N import_s=N import_speedup=N list_p95_ms=N
search_p95_ms=N page_p95_ms=N board_p95_ms=N board_to_raw_page=N`.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import scratch_database

from hub import access
from hub.config import Config
from hub.registry import importer
from hub.registry.file import RegistryDocument, load_registry_file
from hub.storage.db import make_engine, reset_schema

PASSWORD = "benchmark password"
GRIDS = 100


def write_registry(path: Path, residents: int) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write("communities: [{id: c1, name: 宣信社区, timezone: Asia/Shanghai}]\ngrids:\n")
        for g in range(GRIDS):
            f.write(f"  - {{id: g{g:03d}, community: c1, name: 第{g}网格}}\n")
        f.write("residents:\n")
        for i in range(residents):
            f.write(f"  - {{id: r-{i:07d}, name: 居民{i:07d}, grid: g{i % GRIDS:03d}, address: 宣信街{i}号, "
                    f"home: {{lat: 45.75, lon: 126.64}}, contacts: [{{name: 家人{i}, phone: \"+86139{i:08d}\"}}]}}\n")
        f.write("devices:\n")
        for i in range(residents):
            f.write(f"  - {{id: cat-{i:07d}, kind: pingan_cat, resident: r-{i:07d}}}\n")
            f.write(f"  - {{id: tag-{i:07d}, kind: gps_tag, resident: r-{i:07d}}}\n")


def previous_import(session: Session, doc: RegistryDocument) -> None:
    """The importer before issue 18's change: a lookup (and an autoflush) per entry."""
    for section, upsert in (("communities", importer._upsert_community), ("grids", importer._upsert_grid),
                            ("responders", importer.upsert_responder), ("residents", importer.upsert_resident),
                            ("devices", importer.upsert_device)):
        for entry in getattr(doc, section):
            upsert(session, entry)
        session.flush()


def timed_import(url: str, path: Path, run: Callable[[Session, RegistryDocument], Any]) -> float:
    engine = make_engine(url)
    reset_schema(engine)
    sessions = sessionmaker(engine)
    started = time.perf_counter()
    with sessions() as session:
        known = importer.known_ids(session)
    doc = load_registry_file(path, known)
    loaded = time.perf_counter()
    with sessions.begin() as session:
        run(session, doc)
    elapsed = time.perf_counter() - started
    print(f"    {doc.size():,} entries: read and validated in {loaded - started:.1f} s, written in {elapsed - (loaded - started):.1f} s",
          flush=True)
    engine.dispose()
    return elapsed


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


WARMUP = 5  # first requests of each kind not counted (caches, the first query plans)


def measure(label: str, requests: int, call: Callable[[int], Any]) -> tuple[float, float]:
    for i in range(WARMUP):
        call(i)
    times = []
    for i in range(requests):
        started = time.perf_counter()
        response = call(i)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (label, response.status_code, response.text[:300])
    p50, p95 = statistics.median(times), percentile(times, 95)
    print(f"  {label:<28} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms", flush=True)
    return p50, p95


def web_timings(url: str, residents: int, requests: int) -> dict[str, float]:
    from fastapi.testclient import TestClient

    from pingan.wiring import build_hub

    config = Config.model_validate({
        "database": {"url": url}, "mqtt": {"url": "mqtt://127.0.0.1:9"}, "http": {"secret_key": "benchmark-secret"},
        "escalation": {"critical": [{"notify": ["grid_worker"]}], "high": [{"notify": ["grid_worker"]}], "low": [{"notify": ["grid_worker"]}]},
    })
    hub = build_hub(config)
    now = time.time()
    with hub.sessions.begin() as session:
        access.add_user(session, "bench", "viewer", PASSWORD, now)
        token = access.create_token(session, "bench", "viewer", now)
    client = TestClient(hub.app, base_url="http://127.0.0.1")
    headers = {"Authorization": f"Bearer {token}"}
    rng = random.Random(7)
    pages = max(1, residents // 50)
    some = [rng.randrange(residents) for _ in range(requests)]
    out: dict[str, float] = {}
    out["list"] = measure("GET /api/residents?page=", requests,
                          lambda i: client.get(f"/api/residents?page={rng.randrange(1, pages + 1)}", headers=headers))[1]
    searches = {
        "name": lambda k: f"居民{k:07d}",
        "address": lambda k: f"宣信街{k}号",
        "id": lambda k: f"r-{k:07d}",
        "phone": lambda k: f"139{k:08d}",
    }
    worst = 0.0
    for kind, text in searches.items():
        worst = max(worst, measure(f"GET /api/residents?q= ({kind})", requests,
                                   lambda i, text=text: client.get("/api/residents", params={"q": text(some[i])}, headers=headers))[1])
    out["search"] = worst
    login = client.get("/login")
    csrf = login.text.split('name="csrf" value="')[1].split('"')[0]
    client.post("/login", data={"username": "bench", "password": PASSWORD, "csrf": csrf, "next": "/residents"}, follow_redirects=False)
    out["page"] = measure("GET /residents?q= (page)", requests,
                          lambda i: client.get("/residents", params={"q": f"居民{some[i]:07d}"}))[1]
    # The operator board (issue 19 item 4): the whole page, a residents page of the live list, a search.
    out["board"] = max(
        measure("GET /?page= (board)", requests, lambda i: client.get("/", params={"page": rng.randrange(1, pages + 1)}))[1],
        measure("GET /partials/residents?page=", requests,
                lambda i: client.get("/partials/residents", params={"page": rng.randrange(1, pages + 1)}))[1],
        measure("GET /partials/residents?q=", requests,
                lambda i: client.get("/partials/residents", params={"q": f"居民{some[i]:07d}"}))[1],
    )
    out["raw"] = measure("raw driver: one page of rows", requests, lambda i: raw_page(url, rng.randrange(pages)))[1]
    for engine in hub.engines:
        engine.dispose()
    return out


class _Done:
    status_code = 200
    text = ""


def raw_page(url: str, page: int) -> _Done:
    """The baseline: the raw database driver reading one page of the residents table."""
    if url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute("SELECT id, name, address FROM residents ORDER BY id LIMIT 50 OFFSET ?", (page * 50,)).fetchall()
    else:
        import psycopg

        with psycopg.connect("postgresql://" + url.split("://", 1)[1]) as conn:
            conn.execute("SELECT id, name, address FROM residents ORDER BY id LIMIT 50 OFFSET %s", (page * 50,)).fetchall()
    return _Done()


def fill_directly(url: str, residents: int) -> None:
    """The same registry written with bulk INSERTs (seconds, not minutes): for timing the list
    and search alone (`--fill direct`); the import is timed by the default `--fill import`."""
    from sqlalchemy import insert

    from hub.storage import models as m

    engine = make_engine(url)
    reset_schema(engine)
    with sessionmaker(engine).begin() as session:
        session.execute(insert(m.Community), [{"id": "c1", "name": "宣信社区", "timezone": "Asia/Shanghai"}])
        session.execute(insert(m.Grid), [{"id": f"g{g:03d}", "community_id": "c1", "name": f"第{g}网格"} for g in range(GRIDS)])
        for start in range(0, residents, 10_000):
            span = range(start, min(residents, start + 10_000))
            session.execute(insert(m.Resident), [{"id": f"r-{i:07d}", "name": f"居民{i:07d}", "grid_id": f"g{i % GRIDS:03d}",
                                                  "address": f"宣信街{i}号", "home_lat": 45.75, "home_lon": 126.64,
                                                  "share_location": False} for i in span])
            session.execute(insert(m.Contact), [{"resident_id": f"r-{i:07d}", "position": 0, "name": f"家人{i}",
                                                 "phone": f"+86139{i:08d}", "language": "zh"} for i in span])
            session.execute(insert(m.Device), [{"id": f"{kind}-{i:07d}", "kind": name, "resident_id": f"r-{i:07d}", "heartbeat_s": 300}
                                               for i in span for kind, name in (("cat", "pingan_cat"), ("tag", "gps_tag"))])
    engine.dispose()


def run(db: str, url: str, path: Path, args: argparse.Namespace, small: Path) -> None:
    residents = args.residents
    import_s, speedup = float("nan"), float("nan")
    if args.fill == "import":
        old = timed_import(url, small, previous_import)
        new = timed_import(url, small, importer.import_document)
        speedup = old / new
        print(f"  import of {args.baseline:,} residents: previous {old:.1f} s, now {new:.1f} s ({speedup:.1f}x)", flush=True)
        import_s = timed_import(url, path, importer.import_document)
        print(f"  import of {residents:,} residents with {2 * residents:,} devices: {import_s:.1f} s", flush=True)
    else:
        fill_directly(url, residents)
    nan = float("nan")
    web = web_timings(url, residents, args.requests) if args.requests else dict.fromkeys(("list", "search", "page", "board", "raw"), nan)
    print(f"workspace: db={db} residents={residents} import_s={import_s:.1f} import_speedup={speedup:.1f} "
          f"list_p95_ms={web['list']:.1f} search_p95_ms={web['search']:.1f} page_p95_ms={web['page']:.1f} "
          f"board_p95_ms={web['board']:.1f} board_to_raw_page={web['board'] / web['raw']:.0f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--baseline", type=int, default=3000)
    parser.add_argument("--fill", choices=("import", "direct"), default="import",
                        help="build the registry by importing it (timed) or with bulk INSERTs (list/search only)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pingan-workspace-") as tmp:
        path, small = Path(tmp) / "registry.yaml", Path(tmp) / "small.yaml"
        if args.fill == "import":
            write_registry(path, args.residents)
            write_registry(small, args.baseline)
        for db in args.db.split(","):
            print(f"{db}:", flush=True)
            if db == "sqlite":
                run(db, f"sqlite:///{tmp}/workspace.db", path, args, small)
            else:
                with scratch_database(f"pingan_bench_workspace_{args.fill}") as url:
                    run(db, url, path, args, small)


if __name__ == "__main__":
    main()
