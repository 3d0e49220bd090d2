"""JSON Schema of every protocol v1 payload, exported from the msgspec models.

`python -m devices.schema [DIR]` writes docs/protocol/{heartbeat,event,gps,status,cmd}.schema.json;
a test fails when the committed files drift from the code, so device makers can trust them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from devices.payloads import MODELS
from devices.topics import Channel

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "docs" / "protocol"


def payload_schema(channel: Channel) -> dict[str, Any]:
    """The JSON Schema of one channel's payload, with a title and the topic it travels on."""
    schema: dict[str, Any] = msgspec.json.schema(MODELS[channel])
    direction = "hub → device" if channel is Channel.CMD else "device → hub"
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"Ping'an protocol v1 {channel.value} payload",
        "description": f"Payload of pingan/v1/dev/{{id}}/{channel.value} ({direction}), a JSON object in UTF-8.",
        **schema,
    }


def render(channel: Channel) -> str:
    return json.dumps(payload_schema(channel), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def write_all(directory: Path = DEFAULT_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for channel in Channel:
        path = directory / f"{channel.value}.schema.json"
        path.write_text(render(channel), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR):
        print(written_path)
