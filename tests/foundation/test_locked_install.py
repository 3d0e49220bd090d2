"""The installed environment is exactly the lock, and the package ships what runs outside the checkout."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^ ;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def locked(path: Path) -> dict[str, str]:
    """name -> version of every pin in a uv/pip-compile lock whose marker holds on this machine."""
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match and (match[3] is None or Marker(match[3]).evaluate()):
            pins[canonicalize_name(match[1])] = match[2]
    return pins


def test_every_locked_package_is_installed_at_its_locked_version() -> None:
    pins = locked(ROOT / "requirements" / "dev.lock")
    assert len(pins) > 50 and "msgspec" in pins and "pytest" in pins
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    wrong = {name: (version, installed.get(name)) for name, version in pins.items() if installed.get(name) != version}
    assert not wrong, f"installed versions differ from requirements/dev.lock (locked, installed): {wrong}"


def test_the_dev_lock_keeps_the_runtime_locks_versions() -> None:
    runtime, dev = locked(ROOT / "requirements" / "runtime.lock"), locked(ROOT / "requirements" / "dev.lock")
    assert runtime and {name: dev.get(name) for name in runtime} == runtime


def test_the_wheel_ships_the_default_configuration_and_the_migrations(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True,
    )
    (wheel,) = tmp_path.glob("pingan_hub-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "hub/default_config.yaml" in names
    assert any(n.startswith("hub/storage/migrations/versions/") for n in names)
    assert any(n.startswith("dashboards/templates/") for n in names)
