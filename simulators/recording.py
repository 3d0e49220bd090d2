"""The recording format (PRODUCT.md "Configuration and CLI"): JSONL, one message a line.

    {"t":1764124800.123,"topic":"pingan/v1/dev/cat-0001/event","payload":"{\\"type\\":\\"motion\\",...}"}
    {"t":1764124800.5,"topic":"...","payload_b64":"/w=="}          # bytes that are not UTF-8
    {"t":1764125000.0,"truth":{"kind":"inactivity","resident":"r-0001"}}

`t` is the receive time in epoch seconds. Lines are written compactly (no spaces) and
deterministically, so the same stream gives the same bytes. A path ending in `.gz` is read and
written gzip-compressed (with a zero mtime, so still byte-for-byte reproducible).

Readers: `read_recording(path)` yields `(t, topic, payload_bytes)` tuples for messages and the
line's dict (`{"t": ..., "truth": {...}}`) for ground truth, in file order.
"""

from __future__ import annotations

import base64
import gzip
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import msgspec


class RecordingError(ValueError):
    """A line that is not in the recording format; the message names the file and line."""


class _Line(msgspec.Struct):
    t: float
    topic: str
    payload: str


class _B64Line(msgspec.Struct):
    t: float
    topic: str
    payload_b64: str


class _TruthLine(msgspec.Struct):
    t: float
    truth: dict[str, str]


_ENC = msgspec.json.Encoder()
_DEC = msgspec.json.Decoder()

Entry = tuple[float, str, bytes] | dict[str, Any]


def message_line(t: float, topic: str, payload: bytes) -> bytes:
    """One recording line (with the newline) for a message."""
    try:
        line: msgspec.Struct = _Line(t, topic, payload.decode("utf-8"))
    except UnicodeDecodeError:
        line = _B64Line(t, topic, base64.b64encode(payload).decode("ascii"))
    return _ENC.encode(line) + b"\n"


def truth_line(t: float, truth: dict[str, str]) -> bytes:
    return _ENC.encode(_TruthLine(t, truth)) + b"\n"


def open_write(path: Path) -> IO[bytes]:
    """A binary file for writing; gzip (mtime 0, no name) when the path ends in .gz."""
    if path.suffix == ".gz":
        raw = open(path, "wb")  # noqa: SIM115 - owned by the GzipFile below
        return gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6)  # type: ignore[return-value]
    return open(path, "wb")


class RecordingWriter:
    """Buffered writer of recording lines; use as a context manager."""

    def __init__(self, path: Path, buffer_lines: int = 20000) -> None:
        self.path = path
        self._fh = open_write(path)
        self._buf: list[bytes] = []
        self._limit = buffer_lines
        self.count = 0

    def message(self, t: float, topic: str, payload: bytes) -> None:
        self._add(message_line(t, topic, payload))

    def truth(self, t: float, truth: dict[str, str]) -> None:
        self._add(truth_line(t, truth))

    def add_line(self, line: bytes) -> None:
        """Add one ready-made line (with its newline)."""
        self._add(line)

    def _add(self, line: bytes) -> None:
        self._buf.append(line)
        self.count += 1
        if len(self._buf) >= self._limit:
            self.flush()

    def flush(self) -> None:
        self._fh.write(b"".join(self._buf))
        self._buf.clear()
        self._fh.flush()

    def close(self) -> None:
        self.flush()
        self._fh.close()
        if isinstance(self._fh, gzip.GzipFile) and self._fh.fileobj is not None:
            self._fh.fileobj.close()

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open_read(path: Path) -> IO[bytes] | gzip.GzipFile:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return open(path, "rb")


def read_recording(path: str | Path) -> Iterator[Entry]:
    """Messages as (t, topic, payload bytes), ground truth as the line's dict, in file order."""
    path = Path(path)
    with _open_read(path) as fh:
        yield from parse_lines(fh, str(path))


def parse_lines(lines: Iterable[bytes], name: str = "<recording>") -> Iterator[Entry]:
    for number, raw in enumerate(lines, start=1):
        if raw.strip():
            yield parse_line(raw, f"{name}:{number}")


def parse_line(raw: bytes, where: str) -> Entry:
    try:
        obj = _DEC.decode(raw)
    except msgspec.DecodeError as exc:
        raise RecordingError(f"{where}: not JSON: {exc}") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("t"), int | float) or isinstance(obj.get("t"), bool):
        raise RecordingError(f"{where}: expected an object with a numeric 't'")
    if "truth" in obj:
        if not isinstance(obj["truth"], dict) or "kind" not in obj["truth"]:
            raise RecordingError(f"{where}: 'truth' must be an object with a 'kind'")
        return obj
    topic = obj.get("topic")
    if not isinstance(topic, str):
        raise RecordingError(f"{where}: missing 'topic'")
    return float(obj["t"]), topic, _payload(obj, where)


def _payload(obj: dict[str, Any], where: str) -> bytes:
    if isinstance(obj.get("payload"), str):
        text: str = obj["payload"]
        return text.encode("utf-8")
    if isinstance(obj.get("payload_b64"), str):
        try:
            return base64.b64decode(obj["payload_b64"], validate=True)
        except ValueError:
            raise RecordingError(f"{where}: 'payload_b64' is not base64") from None
    raise RecordingError(f"{where}: needs 'payload' (text) or 'payload_b64'")


def messages_only(entries: Iterable[Entry]) -> Iterator[tuple[float, str, bytes]]:
    """The messages of a recording, truth lines skipped."""
    for entry in entries:
        if isinstance(entry, tuple):
            yield entry
