"""`pingan family-link RESIDENT` prints a working URL as its last line."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from pingan.cli import app

from .conftest import Web


def test_family_link_command(web: Web, db_url: str, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(Path("hub/default_config.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    env = {"PINGAN_DATABASE__URL": db_url, "PINGAN_HTTP__PUBLIC_URL": "https://hub.example"}
    result = CliRunner().invoke(app, ["--config", str(config), "family-link", "r-0002", "--label", "女儿", "--days", "30"], env=env)
    assert result.exit_code == 0, result.output
    url = result.output.strip().splitlines()[-1]
    assert url.startswith("https://hub.example/f/")
    assert web.client().get(url.removeprefix("https://hub.example")).status_code == 200
    missing = CliRunner().invoke(app, ["--config", str(config), "family-link", "r-9999"], env=env)
    assert missing.exit_code == 1
