"""OpenAPI schema and docs that work offline: Swagger UI served from the `swagger-ui-bundle-v2`
package's files (FastAPI's default /docs loads them from a CDN), started by a static script
(the Content-Security-Policy allows no inline script).

`http.api_docs`: "login" (default) — `/openapi.json` needs a board login or an API token (401
otherwise) and `/docs` a board login (→ /login); "public" — both open to anyone.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse

from dashboards.auth import BoardSessions, LoginRequired, check_token

if TYPE_CHECKING:
    from dashboards.app import WebServices

OPENAPI_URL = "/openapi.json"


def swagger_dir() -> Path:
    import swagger_ui_bundle

    return Path(swagger_ui_bundle.swagger_ui_path)


def router(app: FastAPI, services: WebServices) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    public = services.config.http.api_docs == "public"
    logins = BoardSessions.of(services)

    def signed_in(request: Request) -> bool:
        if logins.principal(request) is not None:
            return True
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False
        with services.sessions() as session:
            return check_token(session, token.strip()) is not None

    @r.get(OPENAPI_URL)
    def openapi(request: Request) -> dict[str, Any]:
        if not public and not signed_in(request):
            raise HTTPException(401, "log in or send an API token to read the API schema", headers={"WWW-Authenticate": "Bearer"})
        return app.openapi()

    @r.get("/docs")
    def docs(request: Request) -> HTMLResponse:
        if not public and not signed_in(request):
            raise LoginRequired("/docs")
        title = escape(f"{app.title} — docs")
        return HTMLResponse(
            "<!doctype html><html><head><meta charset=\"utf-8\">"
            f"<title>{title}</title>"
            '<link rel="stylesheet" href="/static/swagger/swagger-ui.css">'
            '<link rel="icon" href="/static/swagger/favicon-32x32.png"></head>'
            f'<body><div id="swagger-ui" data-openapi-url="{OPENAPI_URL}"></div>'
            '<script src="/static/swagger/swagger-ui-bundle.js"></script>'
            '<script src="/static/swagger-init.js"></script></body></html>'
        )

    return r
