"""Server-side rendering: the Jinja2 environment, the language of a request, time formatting.

The language comes from `?lang=` (remembered in a `lang` cookie for a year), then the cookie,
then zh-CN. Times are shown in the display time zone; `ago` is relative to the injected clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from dashboards.auth import Principal, csrf_token
from dashboards.i18n import LANGUAGES, Translate, pick_language, translator
from dashboards.reasons import ReasonWords
from devices.labels import device_label
from hub.clock import Clock

LANG_COOKIE = "lang"


def request_language(request: Request) -> str:
    return pick_language(request.query_params.get("lang") or request.cookies.get(LANG_COOKIE))


def duration_text(seconds: float | None, t: Translate) -> str:
    """"3 h 12 min", "12 min", "40 s" — in the page's language."""
    if seconds is None:
        return "—"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return t("time.seconds", n=seconds)
    minutes = seconds // 60
    if minutes < 60:
        return t("time.minutes", n=minutes)
    hours = minutes // 60
    if hours < 48:
        return t("time.hours_minutes", h=hours, m=minutes % 60)
    return t("time.days_hours", d=hours // 24, h=hours % 24)


def _label(t: Callable[..., str], prefix: str, value: object) -> str:
    """A coded value (role, channel, audit action) in the reader's language; the code itself when
    the catalogue has no entry (new codes stay readable)."""
    if value is None or value == "":
        return ""
    key = f"{prefix}.{value}"
    text = t(key)
    return str(value) if text == key else text


class Renderer:
    def __init__(self, templates: Path, clock: Clock, timezone: str) -> None:
        self.clock = clock
        self.tz = ZoneInfo(timezone)
        self.env = Environment(loader=FileSystemLoader(templates), autoescape=select_autoescape(["html"]))
        self.env.filters["dt"] = self.format_time
        self.env.filters["day"] = lambda t: self.local(t).strftime("%m-%d") if t is not None else "—"

    def local(self, t: float) -> datetime:
        return datetime.fromtimestamp(t, self.tz)

    def format_time(self, t: float | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
        return self.local(t).strftime(pattern) if t is not None else "—"

    def page(
        self,
        request: Request,
        template: str,
        context: dict[str, Any] | None = None,
        user: Principal | None = None,
        status_code: int = 200,
    ) -> HTMLResponse:
        language = request_language(request)
        t = translator(language)
        now = self.clock.now()
        values = {
            "request": request,
            "user": user,
            "lang": language,
            "languages": LANGUAGES,
            "t": t,
            "now": now,
            "csrf": csrf_token(request),
            "ago": lambda at: t("time.ago", d=duration_text(now - at, t)) if at is not None else t("time.never"),
            "duration": lambda s: duration_text(s, t),
            "label": lambda prefix, value: _label(t, prefix, value),
            "reason": ReasonWords(t, language, self.tz, now).alert,  # an alert's reason and notes, worded
            "device_label": lambda kind, place=None: device_label(kind, place, language),
            # Partials (names starting with "_") are fetched by scripts: they must not eat the flash.
            "flash": None if template.startswith("_") else request.session.pop("flash", None),
            **(context or {}),
        }
        html = self.env.get_template(template).render(values)
        response = HTMLResponse(html, status_code=status_code)
        requested = request.query_params.get("lang")
        if requested:
            response.set_cookie(LANG_COOKIE, language, max_age=365 * 86400, samesite="lax")
        return response

    def error(self, request: Request, status_code: int, detail: str) -> HTMLResponse:
        return self.page(request, "error.html", {"status": status_code, "detail": detail}, status_code=status_code)
