"""What the tests of every blind world check alike (test_harbin.py, test_lingnan.py, test_shanghai.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from simulators.engine import Stream, write_recording
from simulators.recording import read_recording


def truths(path: Path) -> list[tuple[float, dict[str, str]]]:
    """The recording's truth lines: (time, truth)."""
    return [(e["t"], e["truth"]) for e in read_recording(path) if isinstance(e, dict)]


def assert_same_seed_same_bytes(world: Callable[[int], Stream], tmp_path: Path) -> None:
    """The same seed writes the same bytes, another seed others."""
    paths = []
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        paths.append(tmp_path / f"{name}.jsonl")
        write_recording(world(seed), paths[-1])
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()
