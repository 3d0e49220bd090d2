"""The web application factory: `create_app(WebServices) -> FastAPI`.

Everything the web needs arrives in one frozen `WebServices`: database sessions for the read
side, the hub's command ports for the write side, the live-update bus, the clock. Routers are
built by functions that close over these services, so there are no module globals and nothing
is stored on `app.state`. Binding (127.0.0.1 by default, `http.host`) is the server's business.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

import xstatic.pkg.leaflet as leaflet
from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session, sessionmaker
from starlette.middleware.sessions import SessionMiddleware

from dashboards.auth import LoginRequired, Principal
from dashboards.limits import BodySizeLimit
from dashboards.live import EventBus
from dashboards.render import Renderer
from dashboards.routers import (
    access,
    api,
    board,
    docs,
    family,
    reports,
    responder,
    shifts,
    teamwork,
    users,
    workspace,
    workspace_api,
)
from dashboards.scope import scoped_session
from hub.clock import Clock, SystemClock
from hub.config import Config, MapConfig
from hub.ports import AbsenceCommands, AlertCommands, RegistryCommands

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
NO_TILES = "none"


@dataclass(frozen=True)
class MapSettings:
    """Base map of the board. `tile_url` "none" draws homes, zones and trails on a blank map (offline).

    Made from the config's `map:` section by `from_config` (osm, tianditu, amap or custom, each
    with the coordinates its tiles use: `gcj02` converts every point for display), or, for
    installations that set it up before that section existed, from the environment by
    `from_env`: PINGAN_WEB_TILE_URL, PINGAN_WEB_TILE_CRS (`wgs84` or `gcj02`) and
    PINGAN_WEB_TILE_ATTRIBUTION.
    """

    tile_url: str = NO_TILES
    tile_crs: str = "wgs84"
    attribution: str = ""
    subdomains: str = "abc"  # what `{s}` in the URLs takes
    overlay_url: str = ""  # a second tile layer drawn on top (天地图's labels)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MapSettings:
        env = os.environ if environ is None else environ
        crs = env.get("PINGAN_WEB_TILE_CRS", "wgs84").strip().lower()
        if crs not in ("wgs84", "gcj02"):
            raise ValueError(f"PINGAN_WEB_TILE_CRS must be wgs84 or gcj02, not {crs!r}")
        return cls(env.get("PINGAN_WEB_TILE_URL", NO_TILES).strip() or NO_TILES, crs, env.get("PINGAN_WEB_TILE_ATTRIBUTION", ""))

    @classmethod
    def from_config(cls, cfg: MapConfig, environ: Mapping[str, str] | None = None) -> MapSettings:
        """The `map:` section; with `base: none`, the older PINGAN_WEB_TILE_* variables still count."""
        if cfg.base == "none":
            return cls.from_env(environ)
        if cfg.base == "custom":
            return cls(cfg.tile_url or NO_TILES, cfg.crs, cfg.attribution)
        if cfg.base == "tianditu":
            # 天地图 serves CGCS2000, which agrees with WGS-84 to centimetres: no conversion.
            return cls(_tianditu("vec", cfg.tianditu_key or ""), "wgs84", "© 天地图", "01234567", _tianditu("cva", cfg.tianditu_key or ""))
        if cfg.base == "amap":
            return cls(AMAP_TILES, "gcj02", "© 高德地图 AutoNavi", "1234")
        return cls(OSM_TILES, "wgs84", "© OpenStreetMap contributors")

    @property
    def tile_hosts(self) -> list[str]:
        """Where tiles come from, as CSP sources (a `{s}` label becomes `*`)."""
        hosts = []
        for url in (self.tile_url, self.overlay_url):
            parts = urlsplit(url)
            if url != NO_TILES and parts.scheme in ("http", "https") and parts.netloc:
                netloc = ".".join("*" if "{s}" in label else label for label in parts.netloc.split("."))
                hosts.append(f"{parts.scheme}://{netloc}")
        return hosts


OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
AMAP_TILES = "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}"


def _tianditu(layer: str, key: str) -> str:
    """天地图's Web Mercator WMTS layer (`vec` streets, `cva` their Chinese labels) as a Leaflet template."""
    return (f"https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={layer}"
            f"&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={quote(key, safe='')}")


@dataclass(frozen=True)
class ResponderClaim:
    """What a valid signed responder link says: which alert, for whom."""

    alert_id: str
    responder: str  # the actor recorded for actions: responder id, "family:<resident>:<name>", or the phone
    name: str = ""  # shown on the page


# token -> claim, or None when the link is expired, tampered with or unknown.
ResponderLinkVerifier = Callable[[str], ResponderClaim | None]


def _refuse_all_links(_token: str) -> ResponderClaim | None:
    return None


@dataclass(frozen=True)
class WebServices:
    sessions: sessionmaker[Session]
    config: Config
    alert_commands: AlertCommands
    absence_commands: AbsenceCommands
    events: EventBus
    clock: Clock = field(default_factory=SystemClock)
    verify_responder_link: ResponderLinkVerifier = _refuse_all_links
    map: MapSettings = field(default_factory=MapSettings)
    display_timezone: str = "Asia/Shanghai"
    extra_routers: tuple[APIRouter, ...] = ()
    registry_commands: RegistryCommands | None = None  # the workspace (residents, devices, responders)

    def read(self, user: Principal) -> AbstractContextManager[Session]:
        """A session that sees only what `user` may see: their communities and grids (dashboards/scope.py)."""
        return scoped_session(self.sessions, user.grids)


def create_app(services: WebServices) -> FastAPI:
    app = FastAPI(
        title="Ping'an Hub API",
        version="1",
        description="Alerts, residents and absences of the Ping'an Hub. Authenticate with `Authorization: Bearer <token>` "
        "(create one with `pingan tokens create NAME --role ROLE`).",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # served by the docs router, behind a login unless http.api_docs is public
    )
    http = services.config.http
    if http.secret_key is None:
        raise ValueError("http.secret_key is required: set PINGAN_HTTP__SECRET_KEY or a secrets file (docs/SECURITY.md)")
    app.add_middleware(
        SessionMiddleware,
        secret_key=http.secret_key.get_secret_value(),
        session_cookie="pingan_session",
        same_site="lax",
        https_only=http.public_url.startswith("https://"),
        max_age=int(http.session_lifetime.total_seconds()),
    )
    app.middleware("http")(SecurityHeaders(content_security_policy(services.map)))
    app.add_middleware(BodySizeLimit)  # outermost: refuses oversized bodies before anything reads them

    renderer = Renderer(HERE / "templates", services.clock, services.display_timezone)
    app.mount("/static/leaflet", StaticFiles(directory=leaflet.BASE_DIR), name="leaflet")
    app.mount("/static/swagger", StaticFiles(directory=docs.swagger_dir()), name="swagger")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    app.include_router(access.router(services, renderer))
    app.include_router(board.router(services, renderer))
    app.include_router(reports.router(services, renderer))
    app.include_router(family.router(services, renderer))
    app.include_router(responder.router(services, renderer))
    app.include_router(api.router(services))
    app.include_router(shifts.router(services, renderer))
    app.include_router(users.router(services, renderer))
    app.include_router(teamwork.router(services, renderer))
    if services.registry_commands is not None:
        app.include_router(workspace_api.router(services, services.registry_commands))
        app.include_router(workspace.router(services, services.registry_commands, renderer))
    app.include_router(docs.router(app, services))
    for extra in services.extra_routers:
        app.include_router(extra)

    @app.exception_handler(LoginRequired)
    async def _to_login(request: Request, exc: LoginRequired) -> Response:
        from urllib.parse import quote

        return RedirectResponse(f"/login?next={quote(exc.next_path, safe='')}", status_code=303)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith(("/api", "/openapi")) or "text/html" not in request.headers.get("accept", ""):
            from fastapi.exception_handlers import http_exception_handler

            return await http_exception_handler(request, exc)
        return renderer.error(request, exc.status_code, str(exc.detail))

    return app


def content_security_policy(map_settings: MapSettings) -> str:
    """Scripts, styles and everything else from this origin only: no inline script or style, so
    a name that slipped into the HTML as markup still could not run. Map tiles may come from
    the configured tile server (`{s}` subdomains become a wildcard)."""
    tiles = "".join(" " + host for host in map_settings.tile_hosts)
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src 'self' data:{tiles}; connect-src 'self'; font-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


class SecurityHeaders:
    """Headers on every response, pages and errors alike."""

    def __init__(self, policy: str) -> None:
        self.policy = policy

    async def __call__(self, request: Request, call_next: Callable) -> Response:  # type: ignore[type-arg]
        response: Response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", self.policy)
        # Family and responder URLs carry their token: never leak them in a Referer header.
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response

