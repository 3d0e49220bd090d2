"""Registry files: the YAML of PRODUCT.md, JSON, CSV; every error names file, line, entry and field."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from alerts.registry import Point
from devices.kinds import DeviceKind
from hub.gcj02 import gcj02_to_wgs84
from hub.registry.file import KnownIds, RegistryError, load_registry_file, to_snapshot

DATA = Path(__file__).parent / "data"
YAML_FILE = DATA / "registry.yaml"
CSV_DIR = DATA / "csv"


def problems_of(path: Path, known: KnownIds | None = None) -> list[str]:
    with pytest.raises(RegistryError) as info:
        load_registry_file(path, known)
    return [str(p) for p in info.value.problems]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_example_registry_loads() -> None:
    doc = load_registry_file(YAML_FILE)
    assert [c.id for c in doc.communities] == ["xuanxin"]
    assert [r.id for r in doc.residents] == ["r-0001", "r-0002"]
    assert doc.residents[0].contacts is not None and doc.residents[0].contacts[0].phone == "+8613900000001"
    assert doc.devices[0].kind is DeviceKind.PINGAN_CAT
    assert doc.devices[3].resident is None


def test_snapshot_has_timezone_from_community_and_zones_in_wgs84() -> None:
    snapshot = to_snapshot(load_registry_file(YAML_FILE))
    grandma = snapshot.residents["r-0001"]
    assert grandma.timezone == "Asia/Shanghai"
    assert grandma.inactivity.night == "21:00-07:00"
    circle, polygon = grandma.zones
    assert circle.center == Point(45.7512, 126.6421) and circle.radius_m == 500
    assert polygon.hours == "06:00-10:00"
    assert polygon.polygon[0] == Point(*gcj02_to_wgs84(45.75, 126.64))
    assert polygon.polygon[0] != Point(45.75, 126.64)
    assert [d.id for d in snapshot.devices_of("r-0001")] == ["cat-0001", "tag-0001"]


def test_json_is_the_same_document(tmp_path: Path) -> None:
    data = yaml.safe_load(YAML_FILE.read_text(encoding="utf-8"))
    path = write(tmp_path, "registry.json", json.dumps(data, ensure_ascii=False, indent=2))
    assert load_registry_file(path) == load_registry_file(YAML_FILE)


def test_json_errors_have_lines(tmp_path: Path) -> None:
    data = yaml.safe_load(YAML_FILE.read_text(encoding="utf-8"))
    data["devices"][1]["kind"] = "robot"
    text = json.dumps(data, ensure_ascii=False, indent=2)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if '"robot"' in t)
    (problem,) = problems_of(write(tmp_path, "registry.json", text))
    assert problem.startswith(f"{tmp_path}/registry.json:{line} entry tag-0001 field kind: unknown device kind 'robot'")


def test_csv_folder_gives_the_same_snapshot() -> None:
    assert to_snapshot(load_registry_file(CSV_DIR)) == to_snapshot(load_registry_file(YAML_FILE))


def test_single_csv_file_selected_by_header(tmp_path: Path) -> None:
    path = write(tmp_path, "设备清单.csv", "id,kind,resident,heartbeat_s\ncat-0009,pingan_cat,r-0001,120\n")
    doc = load_registry_file(path, KnownIds(residents=frozenset({"r-0001"})))
    assert [(d.id, d.heartbeat_s) for d in doc.devices] == [("cat-0009", 120)]


def test_csv_reference_to_unknown_resident_names_row(tmp_path: Path) -> None:
    path = write(tmp_path, "devices.csv", "id,kind,resident\ncat-0009,pingan_cat,r-0001\ncat-0010,gps_tag,r-0404\n")
    (problem,) = problems_of(path, KnownIds(residents=frozenset({"r-0001"})))
    assert problem == f"{path}:3 entry cat-0010 field resident: unknown resident 'r-0404'"


def test_csv_errors_name_file_row_and_column(tmp_path: Path) -> None:
    folder = tmp_path / "lists"
    shutil.copytree(CSV_DIR, folder)
    contacts = folder / "contacts.csv"
    contacts.write_text(contacts.read_text(encoding="utf-8") + "r-0002,张华,13900000002,daughter,\n", encoding="utf-8")
    residents = folder / "residents.csv"
    residents.write_text(residents.read_text(encoding="utf-8").replace("45.7550", "145.7550"), encoding="utf-8")
    assert problems_of(folder) == [
        f"{contacts}:3 entry r-0002 field phone: phone '13900000002' is not E.164: '+' and 8–15 digits, e.g. +8613800000001",
        f"{residents}:3 entry r-0002 field home_lat: Input should be less than or equal to 90",
    ]


def test_csv_unknown_column_and_unrecognised_header(tmp_path: Path) -> None:
    devices = write(tmp_path, "devices.csv", "id,kind,residnet\ncat-0009,pingan_cat,r-0001\n")
    assert problems_of(devices) == [f"{devices}:1 field residnet: unknown column in devices.csv; did you mean 'resident'?"]
    other = write(tmp_path, "list.csv", "名字,电话\n李,+8613900000001\n")
    (problem,) = problems_of(other)
    assert "cannot tell which list this is from its header" in problem


def test_contacts_csv_alone_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "contacts.csv", "resident,name,phone\nr-0001,李明,+8613900000001\n")
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:2 entry r-0001 field resident:") and "residents.csv" in problem


BAD_CASES = [
    # (text in the example YAML, its replacement, token on the line to point at, entry, field, message fragment)
    ("lat: 45.7512, lon: 126.6421}\n    share", "lat: 95.7512, lon: 126.6421}\n    share", "95.7512", "r-0001", "home.lat", "less than or equal to 90"),
    ("grid: xuanxin-g02\n", "grid: xuanxin-g03\n", "xuanxin-g03", "r-0002", "grid", "unknown grid 'xuanxin-g03'"),
    ("community: xuanxin, name: 第二网格", "community: xuanxin2, name: 第二网格", "xuanxin2", "xuanxin-g02", "community", "unknown community 'xuanxin2'"),
    ('phone: "+8613900000001"', 'phone: "8613900000001"', "8613900000001", "r-0001", "contacts.0.phone", "is not E.164"),
    ("kind: gps_tag", "kind: gps_tagg", "gps_tagg", "tag-0001", "kind", "unknown device kind 'gps_tagg'"),
    ("id: spare-0001", "id: cat-0001", "smoke_alarm", "cat-0001", "id", "duplicate id; first defined at line"),
    ("resident: r-0002}", "resident: r-0009}", "r-0009", "door-0002", "resident", "unknown resident 'r-0009'"),
    ("grids: [xuanxin-g01, xuanxin-g02]", "grids: [xuanxin-g01, g-x]", "g-x", "zhao", "grids.1", "unknown grid 'g-x'"),
    ("role: volunteer", "role: helper", "helper", "chen", "role", "Input should be 'grid_secretary'"),
    ('hours: "06:00-10:00"', 'hours: "6-10"', "6-10", "r-0001", "zones.1.hours", "is not HH:MM-HH:MM"),
    ("crs: gcj02", "crs: bd09", "bd09", "r-0001", "zones.1.crs", "Input should be 'wgs84' or 'gcj02'"),
    ("heartbeat_s: 300}\n  - {id: tag", "heartbeat_s: 3}\n  - {id: tag", "heartbeat_s: 3}", "cat-0001", "heartbeat_s", "greater than or equal to 10"),
]


@pytest.mark.parametrize(("old", "new", "token", "entry", "fld", "fragment"), BAD_CASES, ids=[c[4] + "-" + c[2] for c in BAD_CASES])
def test_each_bad_value_is_named_with_file_line_entry_field(
    tmp_path: Path, old: str, new: str, token: str, entry: str, fld: str, fragment: str
) -> None:
    text = YAML_FILE.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    changed = text.replace(old, new)
    path = write(tmp_path, "registry.yaml", changed)
    (problem,) = problems_of(path)
    match = re.match(rf"^{re.escape(str(path))}:(\d+) entry (\S+) field (\S+): (.*)$", problem)
    assert match, problem
    line, got_entry, got_field, message = match.groups()
    assert (got_entry, got_field) == (entry, fld)
    assert fragment in message
    assert token in changed.splitlines()[int(line) - 1], "the error points at the line with the bad value"


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    text = YAML_FILE.read_text(encoding="utf-8").replace("kind: gps_tag", "kind: robot").replace("crs: gcj02", "crs: x")
    assert len(problems_of(write(tmp_path, "registry.yaml", text))) == 2


def test_unquoted_phone_in_yaml_gets_a_hint(tmp_path: Path) -> None:
    text = YAML_FILE.read_text(encoding="utf-8").replace('phone: "+8613800000002"', "phone: +8613800000002")
    (problem,) = problems_of(write(tmp_path, "registry.yaml", text))
    assert 'entry zhao field phone: phone 8613800000002 was read as a number: quote it, e.g. "+8613800000002"' in problem


def test_unknown_field_and_section_suggest_the_right_name(tmp_path: Path) -> None:
    text = YAML_FILE.read_text(encoding="utf-8").replace("share_location:", "share_locaton:").replace("devices:", "device:")
    problems = problems_of(write(tmp_path, "registry.yaml", text))
    assert any("entry r-0001 field share_locaton: unknown field; did you mean 'share_location'?" in p for p in problems)
    assert any("field device: unknown section; did you mean 'devices'?" in p for p in problems)


def test_zone_needs_exactly_one_shape(tmp_path: Path) -> None:
    text = YAML_FILE.read_text(encoding="utf-8").replace(
        "{name: 小区周边, circle: {lat: 45.7512, lon: 126.6421, radius_m: 500}}", "{name: 小区周边}"
    )
    (problem,) = problems_of(write(tmp_path, "registry.yaml", text))
    assert "entry r-0001 field zones.0: a zone has exactly one of circle or polygon" in problem


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    assert "cannot read" in problems_of(tmp_path / "missing.yaml")[0]
    (problem,) = problems_of(write(tmp_path, "broken.yaml", "residents:\n  - {id: r-1\n"))
    assert problem.startswith(f"{tmp_path}/broken.yaml:") and "invalid YAML" in problem
    assert "expected a mapping" in problems_of(write(tmp_path, "list.yaml", "- a\n- b\n"))[0]


def test_a_field_given_twice_is_refused_with_both_lines(tmp_path: Path) -> None:
    """YAML would keep the second value of a field set twice, and the first would vanish unsaid."""
    text = (DATA / "registry.yaml").read_text(encoding="utf-8")
    first = next(i for i, t in enumerate(text.splitlines(), 1) if t.strip().startswith("name:"))
    lines = text.splitlines()
    lines.insert(first, lines[first - 1])  # the same field again on the next line
    problems = problems_of(write(tmp_path, "registry.yaml", "\n".join(lines) + "\n"))
    assert len(problems) == 1 and f"registry.yaml:{first + 1} " in problems[0]
    assert f"given twice (first on line {first})" in problems[0]
