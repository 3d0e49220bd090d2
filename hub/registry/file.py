"""Registry files: YAML, JSON and CSV lists of communities, grids, responders, residents, devices.

Owns the file format (docs/REGISTRY.md), its validation with errors that name the file,
the line, the entry and the field, and `to_snapshot` for offline replay. It does not touch
the database: `hub.registry.importer` writes a validated `RegistryDocument` there.

Every problem is collected (not just the first) so an office fixes its file in one pass.
"""

from __future__ import annotations

import csv
import difflib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from alerts import registry as core
from devices.kinds import DeviceKind
from devices.topics import DEVICE_ID_RE
from hub.config import Twice, key_lines
from hub.gcj02 import Crs, to_wgs84

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
E164_RE = re.compile(r"^\+[1-9]\d{7,14}$")
HOURS_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")

Role = Literal["grid_secretary", "grid_leader", "grid_worker", "volunteer", "operator"]
Language = Literal["zh", "en"]
SECTIONS = ("communities", "grids", "responders", "residents", "devices")


# --- the format ---------------------------------------------------------------------------


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_id(value: str) -> str:
    if not ID_RE.match(value):
        raise ValueError(f"id {value!r} must be 1–64 letters, digits, '_', '.', '-', starting with a letter or digit")
    return value


def _check_phone(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f"phone {value} was read as a number: quote it, e.g. \"+{value}\"")
    if isinstance(value, str) and not E164_RE.match(value):
        raise ValueError(f"phone {value!r} is not E.164: '+' and 8–15 digits, e.g. +8613800000001")
    return value


def _check_hours(value: str | None) -> str | None:
    if value is not None and not HOURS_RE.match(value):
        raise ValueError(f"{value!r} is not HH:MM-HH:MM (24-hour local time, e.g. 07:00-21:00)")
    return value


class LatLon(Entry):
    lat: float = Field(ge=-90, le=90, description="latitude, degrees")
    lon: float = Field(ge=-180, le=180, description="longitude, degrees")


class Circle(LatLon):
    radius_m: float = Field(gt=0, le=100_000, description="radius in metres")


class ZoneEntry(Entry):
    name: str = Field(min_length=1, max_length=200)
    circle: Circle | None = None
    polygon: list[tuple[float, float]] | None = Field(None, description="[[lat, lon], ...], at least 3 points")
    crs: Crs = Field("wgs84", description="coordinate system the zone was drawn in; stored as WGS-84")
    hours: str | None = Field(None, description="HH:MM-HH:MM local time when the zone applies; always when absent")

    _hours = field_validator("hours")(_check_hours)

    @field_validator("polygon")
    @classmethod
    def _polygon_points(cls, value: list[tuple[float, float]] | None) -> list[tuple[float, float]] | None:
        if value is None:
            return None
        if len(value) < 3:
            raise ValueError(f"a polygon needs at least 3 points, got {len(value)}")
        for index, (lat, lon) in enumerate(value):
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ValueError(f"point {index} [{lat}, {lon}] is not [lat, lon] within ±90, ±180")
        return value

    @model_validator(mode="after")
    def _one_shape(self) -> ZoneEntry:
        if (self.circle is None) == (self.polygon is None):
            raise ValueError("a zone has exactly one of circle or polygon")
        return self

    def to_core(self) -> core.Zone:
        """The zone in WGS-84, as the rules use it."""
        if self.circle is not None:
            lat, lon = to_wgs84(self.circle.lat, self.circle.lon, self.crs)
            return core.Zone(self.name, center=core.Point(lat, lon), radius_m=self.circle.radius_m, hours=self.hours)
        points = tuple(core.Point(*to_wgs84(lat, lon, self.crs)) for lat, lon in self.polygon or ())
        return core.Zone(self.name, polygon=points, hours=self.hours)


class ContactEntry(Entry):
    name: str = Field(min_length=1, max_length=200)
    phone: str = Field(description="E.164, e.g. +8613900000001")
    relation: str | None = Field(None, max_length=64)
    language: Language = "zh"

    _phone = field_validator("phone", mode="before")(_check_phone)


class InactivityEntry(Entry):
    day_hours: float | None = Field(None, gt=0, le=72)
    night_hours: float | None = Field(None, gt=0, le=72)
    night: str | None = Field(None, description="HH:MM-HH:MM, may cross midnight")

    _night = field_validator("night")(_check_hours)


class CommunityEntry(Entry):
    id: str
    name: str = Field(min_length=1, max_length=200)
    timezone: str = Field("Asia/Shanghai", description="IANA time zone of the community")

    _id = field_validator("id")(_check_id)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name like Asia/Shanghai") from None
        return value


class GridEntry(Entry):
    id: str
    community: str
    name: str = Field(min_length=1, max_length=200)

    _id = field_validator("id")(_check_id)


class ResponderEntry(Entry):
    id: str
    name: str = Field(min_length=1, max_length=200)
    phone: str
    role: Role
    grids: list[str] | None = Field(None, description="grids served; omitted: keep those already stored")
    home: LatLon | None = None
    language: Language = "zh"
    available: bool = True

    _id = field_validator("id")(_check_id)
    _phone = field_validator("phone", mode="before")(_check_phone)


class ResidentEntry(Entry):
    id: str
    name: str = Field(min_length=1, max_length=200)
    grid: str
    address: str = Field("", max_length=400)
    home: LatLon
    share_location: bool = Field(False, description="may the family page show the resident's location")
    contacts: list[ContactEntry] | None = Field(None, description="replaces the stored list; omitted: keep it")
    inactivity: InactivityEntry | None = None
    zones: list[ZoneEntry] | None = Field(None, description="replaces the stored list; omitted: keep it")

    _id = field_validator("id")(_check_id)

    @field_validator("zones")
    @classmethod
    def _unique_zone_names(cls, zones: list[ZoneEntry] | None) -> list[ZoneEntry] | None:
        names = [z.name for z in zones or ()]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"zone names must be unique per resident: {', '.join(twice)}")
        return zones


class DeviceEntry(Entry):
    id: str
    kind: DeviceKind
    resident: str | None = None
    heartbeat_s: int = Field(300, ge=10, le=86_400)

    @field_validator("id")
    @classmethod
    def _device_id(cls, value: str) -> str:
        if not DEVICE_ID_RE.match(value):
            raise ValueError(f"device id {value!r} must match {DEVICE_ID_RE.pattern} (it is the MQTT topic segment)")
        return value

    @field_validator("kind", mode="before")
    @classmethod
    def _known_kind(cls, value: object) -> object:
        if isinstance(value, str) and value not in {k.value for k in DeviceKind}:
            raise ValueError(f"unknown device kind {value!r}; one of {', '.join(k.value for k in DeviceKind)}")
        return value


class RegistryDocument(Entry):
    communities: list[CommunityEntry] = Field(default_factory=list)
    grids: list[GridEntry] = Field(default_factory=list)
    responders: list[ResponderEntry] = Field(default_factory=list)
    residents: list[ResidentEntry] = Field(default_factory=list)
    devices: list[DeviceEntry] = Field(default_factory=list)

    def size(self) -> int:
        return sum(len(getattr(self, s)) for s in SECTIONS)


ENTRY_MODELS: dict[str, type[Entry]] = {
    "communities": CommunityEntry,
    "grids": GridEntry,
    "responders": ResponderEntry,
    "residents": ResidentEntry,
    "devices": DeviceEntry,
}


# --- problems -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a registry file, printed as `FILE:LINE entry <id> field <name>: message`."""

    file: str
    line: int | None
    entry: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        entry = f" entry {self.entry}" if self.entry else ""
        fld = f" field {self.field}" if self.field else ""
        return f"{where}{entry}{fld}: {self.message}"


class RegistryError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


@dataclass(frozen=True)
class KnownIds:
    """Ids already in the database, so a file may refer to them (e.g. devices.csv alone)."""

    communities: frozenset[str] = frozenset()
    grids: frozenset[str] = frozenset()
    residents: frozenset[str] = frozenset()


@dataclass
class Source:
    """Where each entry came from: a file and a line per path (section, index, field...)."""

    default_file: str
    lines: dict[tuple[str, ...], int] = field(default_factory=dict)
    files: dict[tuple[str, ...], str] = field(default_factory=dict)  # path prefix → file (CSV)
    is_csv: bool = False

    def file_of(self, path: tuple[str, ...]) -> str:
        file: str | None = _by_prefix(self.files, path)
        return file or self.default_file

    def line_of(self, path: tuple[str, ...]) -> int | None:
        line: int | None = _by_prefix(self.lines, path)
        return line

    def field_name(self, loc: tuple[str, ...]) -> str | None:
        """A field as the file spells it: `home.lat` in YAML, column `home_lat` in CSV."""
        parts = [p for p in loc if not p.startswith(("function-", "tuple["))]
        if not parts:
            return None
        if self.is_csv:
            return csv_column(parts)
        return ".".join(parts)


def _by_prefix(table: dict[tuple[str, ...], Any], path: tuple[str, ...]) -> Any:
    for end in range(len(path), 0, -1):
        if path[:end] in table:
            return table[path[:end]]
    return None


# --- loading ------------------------------------------------------------------------------


def load_registry_file(path: str | Path, known: KnownIds | None = None) -> RegistryDocument:
    """Read and validate a YAML, JSON or CSV registry (a .csv file or a directory of them)."""
    path = Path(path)
    if path.is_dir() or path.suffix.lower() == ".csv":
        data, source = read_csv_registry(path)
    elif path.suffix.lower() == ".json":
        data, source = _read_json(path)
    else:
        data, source = _read_yaml(path)
    return validate_document(data, source, known)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RegistryError([Problem(str(path), None, None, None, f"not UTF-8 text: {exc.reason}")]) from None
    except OSError as exc:
        raise RegistryError([Problem(str(path), None, None, None, f"cannot read: {exc.strerror}")]) from None


def _read_yaml(path: Path) -> tuple[Any, Source]:
    text = _read_text(path)
    try:
        node, data = _parse_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        raise RegistryError([Problem(str(path), line, None, None, f"invalid YAML: {getattr(exc, 'problem', exc)}")]) from None
    twice: list[Twice] = []
    lines = key_lines(node, twice=twice)
    if twice:
        raise RegistryError([Problem(str(path), t.line, None, ".".join(t.keys), t.message) for t in twice])
    return data, Source(str(path), lines)


# libyaml when built in: a city's registry (100,000 residents) parses in seconds, not minutes.
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _parse_yaml(text: str) -> tuple[yaml.Node | None, Any]:
    """The document's node tree (for the lines of entries and fields) and its data, parsed once."""
    loader = _YAML_LOADER(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()


def _read_json(path: Path) -> tuple[Any, Source]:
    text = _read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RegistryError([Problem(str(path), exc.lineno, None, None, f"invalid JSON: {exc.msg}")]) from None
    try:  # JSON is (nearly) YAML: its node marks give the lines of entries and fields.
        lines = key_lines(yaml.compose(text, Loader=_YAML_LOADER))
    except yaml.YAMLError:
        lines = {}
    return data, Source(str(path), lines)


def validate_document(data: Any, source: Source, known: KnownIds | None = None) -> RegistryDocument:
    """Validate every entry, then ids and references; raise RegistryError with all problems."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RegistryError([Problem(source.default_file, 1, None, None, f"expected a mapping of {', '.join(SECTIONS)}")])
    problems: list[Problem] = []
    for key in data:
        if key not in SECTIONS:
            hint = difflib.get_close_matches(str(key), SECTIONS, n=1)
            suggestion = f"; did you mean '{hint[0]}'?" if hint else f"; sections are {', '.join(SECTIONS)}"
            problems.append(Problem(source.default_file, source.line_of((str(key),)), None, str(key), "unknown section" + suggestion))
    sections = {name: _validate_section(name, data.get(name), source, problems) for name in SECTIONS}
    doc = RegistryDocument.model_construct(**cast(dict[str, Any], sections))
    # References are checked among the valid entries too, so one run reports everything.
    declared = KnownIds(*(frozenset(_declared_ids(data.get(name))) for name in ("communities", "grids", "residents")))
    problems.extend(_check_ids_and_references(doc, source, known or KnownIds(), declared))
    if problems:
        problems.sort(key=lambda p: (p.file, p.line or 0))
        raise RegistryError(problems)
    return doc


def _validate_section(name: str, items: Any, source: Source, problems: list[Problem]) -> list[Entry]:
    if items is None:
        return []
    if not isinstance(items, list):
        problems.append(Problem(source.default_file, source.line_of((name,)), None, name, "expected a list of entries"))
        return []
    model = ENTRY_MODELS[name]
    valid: list[Entry] = []
    for index, item in enumerate(items):
        entry_id = str(item["id"]) if isinstance(item, dict) and item.get("id") is not None else f"{name}[{index}]"
        file = source.file_of((name, str(index)))
        if not isinstance(item, dict):
            problems.append(Problem(file, source.line_of((name, str(index))), entry_id, None, "expected a mapping"))
            continue
        try:
            valid.append(model.model_validate(item))
        except ValidationError as exc:
            for err in exc.errors():
                loc = tuple(str(p) for p in err["loc"])
                path = (name, str(index), *loc)
                problems.append(
                    Problem(source.file_of(path), source.line_of(path), entry_id, source.field_name(loc), _message(err, model))
                )
    return valid


def _message(err: Any, model: type[BaseModel]) -> str:
    if err["type"] == "extra_forbidden":
        close = difflib.get_close_matches(str(err["loc"][-1]), sorted(_field_names(model)), n=1)
        return "unknown field" + (f"; did you mean '{close[0]}'?" if close else "")
    message = str(err["msg"])
    return message.removeprefix("Value error, ")


def _field_names(model: type[BaseModel]) -> set[str]:
    names: set[str] = set()
    for name, info in model.model_fields.items():
        names.add(name)
        for arg in _type_args(info.annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                names |= _field_names(arg)
    return names


def _type_args(annotation: Any) -> Iterable[Any]:
    yield annotation
    for arg in getattr(annotation, "__args__", ()):
        yield from _type_args(arg)


def _declared_ids(items: Any) -> set[str]:
    """Ids of every entry, valid or not: a broken resident should not also make its devices 'unknown'."""
    if not isinstance(items, list):
        return set()
    return {str(i["id"]) for i in items if isinstance(i, dict) and i.get("id") is not None}


def _check_ids_and_references(doc: RegistryDocument, source: Source, known: KnownIds, declared: KnownIds) -> list[Problem]:
    problems: list[Problem] = []

    def problem(section: str, index: int, entry: str, fld: str | None, message: str) -> None:
        path = (section, str(index), *(fld.split(".") if fld else ()))
        problems.append(Problem(source.file_of(path), source.line_of(path), entry, source.field_name(path[2:]), message))

    for section in SECTIONS:
        first_line: dict[str, int | None] = {}
        for index, entry in enumerate(getattr(doc, section)):
            if entry.id in first_line:
                at = first_line[entry.id]
                problem(section, index, entry.id, "id", "duplicate id" + (f"; first defined at line {at}" if at else ""))
            else:
                first_line[entry.id] = source.line_of((section, str(index)))

    communities = declared.communities | known.communities
    grids = declared.grids | known.grids
    residents = declared.residents | known.residents
    for index, grid in enumerate(doc.grids):
        if grid.community not in communities:
            problem("grids", index, grid.id, "community", f"unknown community {grid.community!r}")
    for index, responder in enumerate(doc.responders):
        for pos, grid_id in enumerate(responder.grids or ()):
            if grid_id not in grids:
                problem("responders", index, responder.id, f"grids.{pos}", f"unknown grid {grid_id!r}")
    for index, resident in enumerate(doc.residents):
        if resident.grid not in grids:
            problem("residents", index, resident.id, "grid", f"unknown grid {resident.grid!r}")
    for index, device in enumerate(doc.devices):
        if device.resident is not None and device.resident not in residents:
            problem("devices", index, device.id, "resident", f"unknown resident {device.resident!r}")
    return problems


# --- the core's view ----------------------------------------------------------------------


def to_snapshot(doc: RegistryDocument) -> core.RegistrySnapshot:
    """The registry as the rules see it (offline replay): zones in WGS-84, time zone from the community."""
    timezone_of = {c.id: c.timezone for c in doc.communities}
    community_of = {g.id: g.community for g in doc.grids}
    residents: dict[str, core.Resident] = {}
    for r in doc.residents:
        community = community_of.get(r.grid)
        if community not in timezone_of:
            raise RegistryError([Problem("registry", None, r.id, "grid", f"grid {r.grid!r} has no community in this file")])
        residents[r.id] = resident_to_core(r, timezone_of[community])
    devices = {d.id: core.Device(d.id, d.kind, d.resident, d.heartbeat_s) for d in doc.devices}
    return core.RegistrySnapshot(residents=residents, devices=devices)


def resident_to_core(r: ResidentEntry, timezone: str) -> core.Resident:
    inactivity = r.inactivity or InactivityEntry()
    return core.Resident(
        id=r.id,
        name=r.name,
        grid=r.grid,
        timezone=timezone,
        home=core.Point(r.home.lat, r.home.lon),
        address=r.address,
        zones=tuple(z.to_core() for z in r.zones or ()),
        contacts=tuple(core.Contact(c.name, c.phone, c.relation, c.language) for c in r.contacts or ()),
        inactivity=core.InactivityOverride(inactivity.day_hours, inactivity.night_hours, inactivity.night),
        share_location=r.share_location,
    )


# --- CSV ----------------------------------------------------------------------------------
#
# One file per entity, named after it (residents.csv ...) or recognised by its header.
# Contacts and zones are rows of their own that name their resident. See docs/REGISTRY.md.

CSV_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # entity: (required columns, optional columns)
    "communities": (("id", "name"), ("timezone",)),
    "grids": (("id", "community", "name"), ()),
    "responders": (("id", "name", "phone", "role"), ("grids", "home_lat", "home_lon", "language", "available")),
    "residents": (
        ("id", "name", "grid", "home_lat", "home_lon"),
        ("address", "share_location", "day_hours", "night_hours", "night"),
    ),
    "contacts": (("resident", "name", "phone"), ("relation", "language")),
    "zones": (("resident", "name"), ("crs", "hours", "lat", "lon", "radius_m", "polygon")),
    "devices": (("id", "kind"), ("resident", "heartbeat_s")),
}
CSV_ORDER = ("communities", "grids", "responders", "residents", "contacts", "zones", "devices")
_TRUE = {"true", "yes", "y", "1", "是"}
_FALSE = {"false", "no", "n", "0", "否"}
_LIST_SPLIT = re.compile(r"[;；]")


def csv_column(parts: list[str]) -> str:
    """The CSV column of a model field path: home.lat → home_lat, contacts.0.phone → phone."""
    if parts[0] in ("contacts", "zones") and len(parts) > 1 and parts[1].isdigit():
        parts = parts[2:] or parts[:1]
    if parts[0] in ("home",) and len(parts) > 1:
        return "home_" + parts[1]
    if parts[0] in ("inactivity", "circle") and len(parts) > 1:
        return parts[1]
    if parts[0] in ("grids", "polygon"):
        return parts[0]
    return ".".join(parts)


def read_csv_registry(path: Path) -> tuple[dict[str, Any], Source]:
    """A directory of entity CSV files, or one CSV file, as the YAML-shaped data and its Source."""
    files = sorted(path.glob("*.csv")) if path.is_dir() else [path]
    source = Source(str(path), is_csv=True)
    tables: dict[str, tuple[Path, list[tuple[int, dict[str, str]]]]] = {}
    problems: list[Problem] = []
    for file in files:
        header, rows = read_csv_rows(file)
        entity = _csv_entity(file, header, problems)
        if entity is None:
            continue
        if entity in tables:
            problems.append(Problem(str(file), 1, None, None, f"a second {entity} file (first: {tables[entity][0]})"))
            continue
        tables[entity] = (file, rows)
    if not tables and not problems:
        problems.append(Problem(str(path), None, None, None, f"no CSV files named {', '.join(e + '.csv' for e in CSV_ORDER)}"))
    if problems:
        raise RegistryError(problems)
    data: dict[str, Any] = {}
    for entity in SECTIONS:
        if entity in tables:
            file, rows = tables[entity]
            data[entity] = []
            for index, (line, row) in enumerate(rows):
                source.lines[(entity, str(index))] = line
                source.files[(entity, str(index))] = str(file)
                data[entity].append(_csv_entry(entity, row))
    for child in ("contacts", "zones"):
        if child in tables:
            _attach_children(child, tables[child], data, source, problems)
    if problems:
        raise RegistryError(problems)
    return data, source


def _csv_entity(file: Path, header: list[str], problems: list[Problem]) -> str | None:
    """The entity a CSV file holds: by its name (residents.csv), else by its header."""
    if not header:
        problems.append(Problem(str(file), 1, None, None, "empty file: the first line must be the header"))
        return None
    by_name = file.stem.lower()
    candidates = [by_name] if by_name in CSV_COLUMNS else [
        entity for entity, (required, optional) in CSV_COLUMNS.items()
        if set(required) <= set(header) <= set(required) | set(optional)
    ]
    if len(candidates) != 1:
        problems.append(Problem(str(file), 1, None, None, "cannot tell which list this is from its header; name it after"
                                f" one of {', '.join(e + '.csv' for e in CSV_ORDER)} (see docs/REGISTRY.md)"))
        return None
    entity = candidates[0]
    required, optional = CSV_COLUMNS[entity]
    for column in header:
        if column not in required + optional:
            close = difflib.get_close_matches(column, required + optional, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; columns are {', '.join(required + optional)}"
            problems.append(Problem(str(file), 1, None, column, f"unknown column in {entity}.csv" + hint))
    for column in required:
        if column not in header:
            problems.append(Problem(str(file), 1, None, column, f"missing column in {entity}.csv"))
    return entity


def _csv_entry(entity: str, row: dict[str, str]) -> dict[str, Any]:
    """One CSV row as the YAML-shaped entry; empty cells are left out so defaults apply."""
    cells: dict[str, Any] = {k: _csv_value(k, v) for k, v in row.items() if v != ""}
    entry = {k: v for k, v in cells.items() if k not in ("home_lat", "home_lon", "day_hours", "night_hours", "night")}
    if "home_lat" in cells or "home_lon" in cells:
        entry["home"] = {"lat": cells.get("home_lat"), "lon": cells.get("home_lon")}
    inactivity = {k: cells[k] for k in ("day_hours", "night_hours", "night") if k in cells}
    if inactivity:
        entry["inactivity"] = inactivity
    if entity == "responders" and "grids" in entry:
        entry["grids"] = [g.strip() for g in _LIST_SPLIT.split(entry["grids"]) if g.strip()]
    if entity == "responders" and "grids" not in entry and "grids" in row:
        entry["grids"] = []  # the column is there and empty: this responder serves no grid
    return entry


def _csv_value(column: str, value: str) -> Any:
    if column in ("share_location", "available") and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    return value


def _attach_children(
    child: str,
    table: tuple[Path, list[tuple[int, dict[str, str]]]],
    data: dict[str, Any],
    source: Source,
    problems: list[Problem],
) -> None:
    """Fold contacts.csv / zones.csv rows into their residents, in file order (replacing stored lists)."""
    file, rows = table
    index_of = {str(r.get("id")): i for i, r in enumerate(data.get("residents", []))}
    for resident in data.get("residents", []):
        resident[child] = []
    for line, row in rows:
        resident_id = row.get("resident", "")
        if resident_id not in index_of:
            why = "not in residents.csv" if "residents" in data else "needs residents.csv alongside (import the folder)"
            problems.append(Problem(str(file), line, resident_id or None, "resident", f"resident {resident_id!r} {why}"))
            continue
        resident = data["residents"][index_of[resident_id]]
        position = len(resident[child])
        path = ("residents", str(index_of[resident_id]), child, str(position))
        source.lines[path] = line
        source.files[path] = str(file)
        cells = {k: v for k, v in row.items() if v != "" and k != "resident"}
        resident[child].append(_zone_from_row(cells, problems, file, line, resident_id) if child == "zones" else cells)


def _zone_from_row(cells: dict[str, str], problems: list[Problem], file: Path, line: int, resident: str) -> dict[str, Any]:
    zone: dict[str, Any] = {k: cells[k] for k in ("name", "crs", "hours") if k in cells}
    if "radius_m" in cells or "lat" in cells or "lon" in cells:
        zone["circle"] = {k: cells.get(k) for k in ("lat", "lon", "radius_m")}
    if "polygon" in cells:
        points = []
        for text in _LIST_SPLIT.split(cells["polygon"]):
            numbers = re.split(r"[\s,，]+", text.strip())
            if len(numbers) != 2:
                problems.append(Problem(str(file), line, resident, "polygon", f"point {text.strip()!r} is not 'lat lon'"))
                return zone
            points.append(numbers)
        zone["polygon"] = points
    return zone


def read_csv_rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header and (line, row) pairs of a UTF-8 CSV file (a BOM from Excel is fine)."""
    text = _read_text(path)
    reader = csv.reader(text.splitlines(keepends=True))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return [], []
    except csv.Error as exc:
        raise RegistryError([Problem(str(path), 1, None, None, f"invalid CSV: {exc}")]) from None
    rows: list[tuple[int, dict[str, str]]] = []
    line = reader.line_num + 1
    try:
        for values in reader:
            if any(v.strip() for v in values):
                if len(values) > len(header):
                    raise RegistryError([Problem(str(path), line, None, None, f"{len(values)} cells but the header has {len(header)}")])
                rows.append((line, {h: v.strip() for h, v in zip(header, values, strict=False)}))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise RegistryError([Problem(str(path), line, None, None, f"invalid CSV: {exc}")]) from None
    return header, rows
