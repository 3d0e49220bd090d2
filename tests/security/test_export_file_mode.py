"""Finding 16: `pingan export --out` writes personal data readable by its owner only (0600),
whatever the umask, and also when the file existed before with a wider mode."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.storage import models as m
from hub.storage.db import make_engine, make_sessions
from pingan.cli import app

REPO = Path(__file__).resolve().parents[2]


def test_export_out_is_mode_0600(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(db_url)
    with make_sessions(engine).begin() as s:
        s.add(m.Community(id="c", name="社区"))
        s.flush()
        s.add(m.Grid(id="g1", community_id="c", name="第一网格"))
        s.flush()
        s.add(m.Resident(id="r-0001", name="李奶奶", grid_id="g1", home_lat=45.75, home_lon=126.64))
    engine.dispose()
    monkeypatch.setenv("PINGAN_DATABASE__URL", db_url)
    old_umask = os.umask(0o022)  # the usual default: new files would be world-readable
    try:
        fresh = tmp_path / "fresh.json"
        existing = tmp_path / "existing.json"
        existing.write_text("old")
        existing.chmod(0o644)
        for out in (fresh, existing):
            done = CliRunner().invoke(app, ["--config", str(REPO / "config.yaml"), "export", "r-0001", "--out", str(out)])
            assert done.exit_code == 0, done.output
            assert stat.S_IMODE(out.stat().st_mode) == 0o600, out.name
            assert "李奶奶" in out.read_text(encoding="utf-8")
    finally:
        os.umask(old_umask)
