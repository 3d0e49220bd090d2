"""Monthly reports page and CSV export, per grid."""

# No `from __future__ import annotations` here: the route signatures use local Annotated
# dependency aliases (Viewer, Operator...), which FastAPI must be able to evaluate.

import re
from typing import TYPE_CHECKING, Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from markupsafe import Markup

from dashboards.auth import Principal, Role, page_user
from dashboards.i18n import Translate, translator
from dashboards.render import Renderer, request_language
from dashboards.reports import MonthReport, month_report, report_csv
from dashboards.svg import bar_chart

if TYPE_CHECKING:
    from dashboards.app import WebServices

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_NOT_PLAIN = re.compile(r"[^A-Za-z0-9._-]")


def attachment(name: str) -> str:
    """`Content-Disposition` for a download called `name` (RFC 6266): an ASCII `filename` in
    which anything but letters, digits, `.`, `_` and `-` becomes `_`, and the exact name as
    UTF-8 in `filename*` (RFC 5987), which every current browser prefers."""
    return f'attachment; filename="{_NOT_PLAIN.sub("_", name)}"; filename*=UTF-8\'\'{quote(name, safe="")}'


def router(services: "WebServices", renderer: Renderer) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    Viewer = Annotated[Principal, Depends(page_user(services, Role.VIEWER))]

    def month_or_current(month: str | None) -> str:
        if month is None or month == "":
            return renderer.local(services.clock.now()).strftime("%Y-%m")
        if not MONTH.match(month):
            raise HTTPException(422, "month must be YYYY-MM")
        return month

    @r.get("/reports")
    def reports_page(
        request: Request,
        user: Viewer,
        month: Annotated[str | None, Query(max_length=7)] = None,
        grid: Annotated[str | None, Query(max_length=64)] = None,
    ) -> Response:
        with services.read(user) as session:
            report = month_report(session, month_or_current(month), services.display_timezone, grid or None)
        t = translator(request_language(request))
        return renderer.page(request, "reports.html", {"r": report, "charts": report_charts(report, t)}, user)

    @r.get("/reports.csv")
    def reports_csv(
        user: Viewer,
        month: Annotated[str | None, Query(max_length=7)] = None,
        grid: Annotated[str | None, Query(max_length=64)] = None,
    ) -> Response:
        month = month_or_current(month)
        with services.read(user) as session:
            report = month_report(session, month, services.display_timezone, grid or None)
        name = f"pingan-report-{month}-{grid or 'all'}.csv"
        return Response(
            report_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": attachment(name)},
        )

    return r


def report_charts(report: MonthReport, t: Translate) -> dict[str, Markup]:
    """The report's bar charts, every label in the reader's language; no data is "—", not 0."""
    def minutes(seconds: float | None) -> float | None:
        return None if seconds is None else round(seconds / 60.0, 1)

    times = (("to_ack", report.to_ack), ("to_on_site", report.to_on_site), ("to_resolve", report.to_resolve))
    return {
        "kinds": bar_chart([(t("kind." + k.kind), k.alerts) for k in report.by_kind]),
        "outcomes": bar_chart([(t("outcome." + o), n) for o, n in report.by_outcome.items()]),
        "false_alarms": bar_chart(
            [(t("kind." + k.kind), None if k.false_alarm_share is None else round(100 * k.false_alarm_share, 1)) for k in report.by_kind],
            unit="%",
        ),
        "times": bar_chart(
            [(t("report.chart_p50", what=t("alert." + key)), minutes(d.p50)) for key, d in times]
            + [(t("report.chart_p90", what=t("alert." + key)), minutes(d.p90)) for key, d in times],
            unit=t("report.unit_minutes"),
        ),
    }
