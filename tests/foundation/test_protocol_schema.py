"""The committed JSON Schema files in docs/protocol/ match the payload models in devices/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devices import Channel
from devices.schema import DEFAULT_DIR, render, write_all

ROOT = Path(__file__).parents[2]


def test_schema_directory_is_docs_protocol() -> None:
    assert DEFAULT_DIR == ROOT / "docs" / "protocol"


@pytest.mark.parametrize("channel", list(Channel), ids=str)
def test_committed_schema_matches_code(channel: Channel) -> None:
    committed = (DEFAULT_DIR / f"{channel.value}.schema.json").read_text(encoding="utf-8")
    assert committed == render(channel), f"regenerate with: python -m devices.schema  ({channel.value} drifted)"


def test_schemas_describe_the_protocol(tmp_path: Path) -> None:
    written = write_all(tmp_path)
    assert sorted(p.name for p in written) == sorted(f"{c.value}.schema.json" for c in Channel)
    gps = json.loads((tmp_path / "gps.schema.json").read_text(encoding="utf-8"))
    props = gps["$defs"]["Gps"]["properties"]
    assert (props["lat"]["minimum"], props["lat"]["maximum"]) == (-90, 90)
    assert set(gps["$defs"]["Gps"]["required"]) == {"lat", "lon"}
    status = json.loads((tmp_path / "status.schema.json").read_text(encoding="utf-8"))
    assert set(status["$defs"]["Status"]["properties"]["state"]["enum"]) == {"online", "offline"}
