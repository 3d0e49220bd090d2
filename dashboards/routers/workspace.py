"""Workspace pages: residents (paged, searched, created, edited with contacts and zones, retired),
their devices (added, replaced, retired), responders, and bulk onboarding from CSV files.

Server-rendered forms, CSRF-checked, operator role to change. The forms are read into the
registry file's shapes and go through the same edits as the API (hub/registry/workspace.py),
so an error names the same field with the import's message, shown next to the form.
"""

# No `from __future__ import annotations`: FastAPI evaluates the route signatures.

import base64
import binascii
import tempfile
from collections.abc import Callable
from pathlib import Path as FilePath
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from dashboards import workspace_queries as wq
from dashboards.auth import Principal, Role, check_csrf, page_user
from dashboards.render import Renderer
from devices.kinds import DeviceKind
from hub.ports import RegistryCommands
from hub.registry import workspace as ws
from hub.registry.file import Problem, RegistryError, _zone_from_row
from hub.storage import models as m

if TYPE_CHECKING:
    from dashboards.app import WebServices

CHANNEL = "board"
CONTACT_ROWS_FREE = 2  # empty contact rows under the stored ones
ZONE_ROWS_FREE = 1
MAX_UPLOAD_FILES = 8


def router(services: "WebServices", registry: RegistryCommands, renderer: Renderer) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    Viewer = Annotated[Principal, Depends(page_user(services, Role.VIEWER))]
    Operator = Annotated[Principal, Depends(page_user(services, Role.OPERATOR))]
    write = [Depends(check_csrf)]
    now = services.clock.now

    def change(user: Principal, edit: Callable[[Any], ws.RegistryEdit], **where: Any) -> tuple[ws.RegistryEdit | None, list[dict[str, Any]]]:
        """Run an edit inside the user's grids; its problems as the API's field errors (empty when it went through)."""
        try:
            return registry.change_registry(ws.within(user.grids, edit, **where)), []
        except ws.OutOfScope as exc:
            raise HTTPException(403, str(exc)) from None
        except RegistryError as exc:
            return None, ws.field_errors(exc)
        except ws.NotFound as exc:
            raise HTTPException(404, str(exc)) from None
        except ws.Conflict as exc:
            return None, [{"field": None, "text": str(exc), "msg": str(exc)}]

    def residents_page(request: Request, user: Principal, q: str, grid: str, page: int,
                       form: dict[str, Any] | None = None, errors: list[dict[str, Any]] | None = None) -> Response:
        with services.read(user) as session:
            found = wq.search_residents(session, q, grid, page)
            grids = wq.grids(session)
            phones = {row.id: ", ".join(c.phone for c in row.contacts) for row in found.residents}
        context = {"found": found, "q": q, "grid": grid, "grids": grids, "phones": phones, "kinds": [k.value for k in DeviceKind],
                   "form": form or {}, "errors": errors or []}
        return renderer.page(request, "workspace_residents.html", context, user, status_code=422 if errors else 200)

    @r.get("/residents")
    def residents(request: Request, user: Viewer, q: str = Query("", max_length=100), grid: str = Query("", max_length=64),
                  page: int = Query(1, ge=1, le=100_000)) -> Response:
        return residents_page(request, user, q, grid, page)

    @r.post("/residents", dependencies=write)
    async def create_resident(request: Request, user: Operator) -> Response:
        form = await request.form()
        values = {k: str(v).strip() for k, v in form.items() if k != "csrf"}
        entry = _resident_from_form(values)
        device = {"id": values.get("device_id", ""), "kind": values.get("device_kind", ""), "resident": entry.get("id")}

        def edit(session: Any) -> ws.RegistryEdit:
            done = ws.create_resident(session, entry, user.name, CHANNEL, now())
            if device["id"]:
                done.devices |= _as_device_fields(lambda: ws.create_device(session, device, user.name, CHANNEL, now())).devices
            return done

        _, errors = change(user, edit)
        if errors:
            return residents_page(request, user, "", "", 1, values, errors)
        request.session["flash"] = _t(request, "ws.created", id=entry["id"])
        return RedirectResponse(f"/residents/{entry['id']}/edit", status_code=303)

    def edit_page(request: Request, user: Principal, resident_id: str, errors: list[dict[str, Any]] | None = None) -> Response:
        with services.read(user) as session:
            row = wq.live_resident(session, resident_id)
            if row is None:
                raise HTTPException(404, "no such resident")
            entry = ws.resident_entry(row)
            devices = [ws.device_entry(d) for d in wq.devices_of(session, resident_id)]
            retired = [(d.id, d.kind, d.retired_at) for d in wq.devices_of(session, resident_id, include_retired=True) if d.retired_at]
            grids = wq.grids(session)
        contacts = entry["contacts"] + [{}] * CONTACT_ROWS_FREE
        zones = [_zone_cells(z) for z in entry["zones"]] + [{}] * ZONE_ROWS_FREE
        context = {"r": entry, "contacts": contacts, "zones": zones, "devices": devices, "retired": retired, "grids": grids,
                   "kinds": [k.value for k in DeviceKind], "errors": errors or []}
        return renderer.page(request, "workspace_resident_edit.html", context, user, status_code=422 if errors else 200)

    @r.get("/residents/{resident_id}/edit")
    def edit_resident(request: Request, resident_id: str, user: Viewer) -> Response:
        return edit_page(request, user, resident_id)

    @r.post("/residents/{resident_id}/edit", dependencies=write)
    async def save_resident(request: Request, resident_id: str, user: Operator) -> Response:
        form = await request.form()
        patch = _resident_from_form({k: str(v).strip() for k, v in form.items() if k != "csrf"}, resident_id)
        patch["contacts"] = _rows(form, "contact", ("name", "phone", "relation", "language"))
        zones, problems = _zones_from_rows(_rows(form, "zone", ("name", "lat", "lon", "radius_m", "polygon", "crs", "hours")), resident_id)
        patch["zones"] = zones
        if problems:
            return edit_page(request, user, resident_id, ws.field_errors(RegistryError(problems)))
        _, errors = change(user, lambda s: ws.update_resident(s, resident_id, patch, user.name, CHANNEL, now()), resident=resident_id)
        if errors:
            return edit_page(request, user, resident_id, errors)
        request.session["flash"] = _t(request, "ws.saved")
        return RedirectResponse(f"/residents/{resident_id}/edit", status_code=303)

    @r.post("/residents/{resident_id}/retire", dependencies=write)
    def retire_resident(request: Request, resident_id: str, user: Operator) -> Response:
        _, errors = change(user, lambda s: ws.retire_resident(s, resident_id, user.name, CHANNEL, now()), resident=resident_id)
        if errors:
            return edit_page(request, user, resident_id, errors)
        request.session["flash"] = _t(request, "ws.retired", id=resident_id)
        return RedirectResponse("/residents", status_code=303)

    @r.post("/residents/{resident_id}/devices", dependencies=write)
    async def add_device(request: Request, resident_id: str, user: Operator) -> Response:
        form = await request.form()
        device: dict[str, Any] = {"id": str(form.get("id", "")).strip(), "kind": str(form.get("kind", "")), "resident": resident_id}
        if str(form.get("heartbeat_s", "")).strip():
            device["heartbeat_s"] = str(form.get("heartbeat_s")).strip()
        _, errors = change(user, lambda s: ws.create_device(s, device, user.name, CHANNEL, now()), resident=resident_id)
        return _after(request, user, resident_id, errors, "ws.device_added", edit_page)

    @r.post("/devices/{device_id}/replace", dependencies=write)
    async def replace_device(request: Request, device_id: str, user: Operator) -> Response:
        form = await request.form()
        resident_id = _resident_of(services, user, device_id)
        new_id = str(form.get("new_id", "")).strip()
        _, errors = change(user, lambda s: ws.replace_device(s, device_id, new_id, user.name, CHANNEL, now()), device=device_id)
        return _after(request, user, resident_id, errors, "ws.device_replaced", edit_page)

    @r.post("/devices/{device_id}/retire", dependencies=write)
    def retire_device(request: Request, device_id: str, user: Operator) -> Response:
        resident_id = _resident_of(services, user, device_id)
        _, errors = change(user, lambda s: ws.retire_device(s, device_id, user.name, CHANNEL, now()), device=device_id)
        return _after(request, user, resident_id, errors, "ws.device_retired", edit_page)

    # --- responders ---------------------------------------------------------------------------

    def responders_page(request: Request, user: Principal, editing: str = "", form: dict[str, Any] | None = None,
                        errors: list[dict[str, Any]] | None = None) -> Response:
        with services.sessions() as session:
            rows = [ws.responder_entry(row) for row in wq.responders(session)]
            grids = wq.grids(session)
        current = form or next((dict(x, grids=";".join(x["grids"])) for x in rows if x["id"] == editing), {})
        context = {"responders": rows, "grids": grids, "form": current, "editing": editing if current else "", "errors": errors or []}
        return renderer.page(request, "workspace_responders.html", context, user, status_code=422 if errors else 200)

    @r.get("/responders")
    def responders(request: Request, user: Viewer, edit: str = Query("", max_length=64)) -> Response:
        return responders_page(request, user, edit)

    @r.post("/responders", dependencies=write)
    async def save_responder(request: Request, user: Operator) -> Response:
        form = await request.form()
        values = {k: str(v).strip() for k, v in form.items() if k not in ("csrf", "editing")}
        editing = str(form.get("editing", "")).strip()
        entry = _responder_from_form(values)
        if editing:
            entry.pop("id", None)
            _, errors = change(user, lambda s: ws.update_responder(s, editing, entry, user.name, CHANNEL, now()), registry_wide=True)
        else:
            _, errors = change(user, lambda s: ws.create_responder(s, entry, user.name, CHANNEL, now()), registry_wide=True)
        if errors:
            return responders_page(request, user, editing, values, errors)
        request.session["flash"] = _t(request, "ws.saved")
        return RedirectResponse("/responders", status_code=303)

    @r.post("/responders/{responder_id}/remove", dependencies=write)
    def remove_responder(request: Request, responder_id: str, user: Operator) -> Response:
        change(user, lambda s: ws.remove_responder(s, responder_id, user.name, CHANNEL, now()), registry_wide=True)
        request.session["flash"] = _t(request, "ws.removed", id=responder_id)
        return RedirectResponse("/responders", status_code=303)

    # --- bulk onboarding: upload, preview with every error by line, commit all or nothing -----

    @r.get("/workspace/import")
    def import_form(request: Request, user: Operator) -> Response:
        return renderer.page(request, "workspace_import.html", {"stage": "upload"}, user)

    @r.post("/workspace/import", dependencies=write)
    async def import_preview(request: Request, user: Operator) -> Response:
        form = await request.form()
        files = await _uploaded(form)
        commit = form.get("commit") == "1"
        with tempfile.TemporaryDirectory(prefix="pingan-upload-") as folder:
            for name, data in files.items():
                (FilePath(folder) / name).write_bytes(data)
            if commit:
                done, errors = change(user, lambda s: ws.import_upload(s, FilePath(folder), user.name, CHANNEL, now()), registry_wide=True)
                problems = [_problem_line(e, folder) for e in errors]
                if not problems and done is not None:
                    request.session["flash"] = "; ".join(done.result.lines())
                    return RedirectResponse("/residents", status_code=303)
                report = None
            else:
                problems, report = _preview(services, FilePath(folder))
        context = {"stage": "preview", "problems": problems, "report": report, "files": {
            name: base64.b64encode(data).decode() for name, data in files.items()}}
        return renderer.page(request, "workspace_import.html", context, user, status_code=422 if problems else 200)

    return r


# --- forms into registry entries ---------------------------------------------------------------


def _resident_from_form(values: dict[str, str], resident_id: str | None = None) -> dict[str, Any]:
    """The resident fields of a form, shaped as a registry entry (empty cells left out, as in CSV)."""
    entry: dict[str, Any] = {k: values[k] for k in ("id", "name", "grid", "address") if values.get(k)}
    if resident_id is not None:
        entry["id"] = resident_id
        entry.setdefault("address", "")
    if values.get("home_lat") or values.get("home_lon"):
        entry["home"] = {"lat": values.get("home_lat") or None, "lon": values.get("home_lon") or None}
    entry["share_location"] = values.get("share_location") == "on"
    inactivity = {k: values[k] for k in ("day_hours", "night_hours", "night") if values.get(k)}
    entry["inactivity"] = inactivity or None
    if resident_id is None and values.get("contact_phone"):
        entry["contacts"] = [{k: values[f"contact_{k}"] for k in ("name", "phone", "relation") if values.get(f"contact_{k}")}]
    return entry


def _responder_from_form(values: dict[str, str]) -> dict[str, Any]:
    entry: dict[str, Any] = {k: values[k] for k in ("id", "name", "phone", "role", "language") if values.get(k)}
    entry["grids"] = [g.strip() for g in values.get("grids", "").replace("；", ";").split(";") if g.strip()]
    if values.get("home_lat") or values.get("home_lon"):
        entry["home"] = {"lat": values.get("home_lat") or None, "lon": values.get("home_lon") or None}
    entry["available"] = values.get("available") == "on"
    return entry


SELECTED_BY_DEFAULT = {"language", "crs"}  # a select always sends a value: not what makes a row filled in


def _rows(form: FormData, prefix: str, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """Repeated form rows (`contact-0-name`, ...) as CSV-like cells; rows left empty are dropped."""
    rows = []
    for index in range(200):
        cells = {c: str(form.get(f"{prefix}-{index}-{c}", "")).strip() for c in columns}
        if f"{prefix}-{index}-name" not in form:
            break
        if any(v for c, v in cells.items() if c not in SELECTED_BY_DEFAULT):
            rows.append({c: v for c, v in cells.items() if v})
    return rows


def _zones_from_rows(rows: list[dict[str, str]], resident_id: str) -> tuple[list[dict[str, Any]], list[Problem]]:
    """Zone rows read as zones.csv rows are (the import's own parser)."""
    problems: list[Problem] = []
    zones = [_zone_from_row(cells, problems, FilePath("form"), index + 1, resident_id) for index, cells in enumerate(rows)]
    return zones, problems


def _zone_cells(zone: dict[str, Any]) -> dict[str, Any]:
    cells = {"name": zone["name"], "hours": zone.get("hours") or ""}
    if "circle" in zone:
        cells |= {"lat": zone["circle"]["lat"], "lon": zone["circle"]["lon"], "radius_m": zone["circle"]["radius_m"]}
    else:
        cells["polygon"] = "; ".join(f"{lat} {lon}" for lat, lon in zone.get("polygon") or ())
    return cells


def _as_device_fields(edit: Callable[[], ws.RegistryEdit]) -> ws.RegistryEdit:
    """The create form's home-unit fields are named device_id / device_kind."""
    try:
        return edit()
    except RegistryError as exc:
        raise RegistryError([Problem(p.file, p.line, p.entry, f"device_{p.field}" if p.field else None, p.message)
                             for p in exc.problems]) from None


def _after(request: Request, user: Principal, resident_id: str, errors: list[dict[str, Any]], done_key: str,
           edit_page: Callable[..., Response]) -> Response:
    if errors:
        return edit_page(request, user, resident_id, errors)
    request.session["flash"] = _t(request, done_key)
    return RedirectResponse(f"/residents/{resident_id}/edit", status_code=303)


def _resident_of(services: "WebServices", user: Principal, device_id: str) -> str:
    with services.read(user) as session:
        row = session.get(m.Device, device_id)
        if row is None or row.retired_at is not None or row.resident_id is None:
            raise HTTPException(404, "no such device")
        return row.resident_id


def _t(request: Request, key: str, **values: Any) -> str:
    from dashboards.i18n import translator
    from dashboards.render import request_language

    return translator(request_language(request))(key, **values)


async def _uploaded(form: FormData) -> dict[str, bytes]:
    """The CSV files of the upload (fresh files, or the preview's carried in hidden fields)."""
    files: dict[str, bytes] = {}
    for item in form.getlist("files"):
        if isinstance(item, UploadFile) and item.filename:
            files[_safe_name(item.filename)] = await item.read()
    for item in form.getlist("carried"):
        name, _, data = str(item).partition(":")
        try:
            files[_safe_name(name)] = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise HTTPException(400, "the carried upload is damaged; upload the files again") from None
    if not files:
        raise HTTPException(422, "choose one or more CSV files")
    if len(files) > MAX_UPLOAD_FILES:
        raise HTTPException(422, f"at most {MAX_UPLOAD_FILES} files")
    return files


def _safe_name(name: str) -> str:
    base = FilePath(name.replace("\\", "/")).name
    if not base.lower().endswith(".csv") or base.startswith("."):
        raise HTTPException(422, f"{base!r} is not a .csv file")
    return base


def _preview(services: "WebServices", folder: FilePath) -> tuple[list[str], Any]:
    """Every problem by file and line, or what an import would do (counted in a rolled-back transaction)."""
    from hub.registry.importer import import_document

    with services.sessions() as session:
        try:
            doc = ws.check_upload(session, folder)
        except RegistryError as exc:
            return [str(p).replace(str(folder) + "/", "") for p in exc.problems], None
        report = import_document(session, doc)
        session.rollback()
    return [], report


def _problem_line(error: dict[str, Any], folder: str) -> str:
    return str(error.get("text", error.get("msg", ""))).replace(folder + "/", "")
