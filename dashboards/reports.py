"""Monthly reports per grid: alerts by kind and outcome, service-level times (p50/p90), alerts per
home-week and the share of false alarms per rule — the figures alert fatigue is judged by.

Months are calendar months in the display time zone. An alert belongs to the month it opened
in, and to the grid of its resident. Times are measured from `opened_at`; an alert that never
reached a stage does not count in that stage's percentiles. Percentiles interpolate linearly
between the two nearest ranks (numpy's default), and are None for an empty set.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.storage.models import Alert, Resident


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def month_bounds(month: str, timezone: str) -> tuple[float, float]:
    """Epoch seconds of the start of `month` ("YYYY-MM") and of the month after, in `timezone`."""
    year, mon = (int(x) for x in month.split("-"))
    tz = ZoneInfo(timezone)
    start = datetime(year, mon, 1, tzinfo=tz)
    end = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=tz)
    return start.timestamp(), end.timestamp()


@dataclass(frozen=True)
class Durations:
    p50: float | None
    p90: float | None
    count: int

    @classmethod
    def of(cls, values: list[float]) -> Durations:
        return cls(percentile(values, 0.5), percentile(values, 0.9), len(values))


@dataclass(frozen=True)
class KindSummary:
    kind: str
    alerts: int
    resolved: int
    false_alarms: int
    outcomes: dict[str, int]
    to_ack: Durations
    to_on_site: Durations
    to_resolve: Durations

    @property
    def false_alarm_share(self) -> float | None:
        return self.false_alarms / self.resolved if self.resolved else None


@dataclass(frozen=True)
class MonthReport:
    month: str
    grid: str | None
    homes: int
    weeks: float
    alerts: int
    by_kind: list[KindSummary]
    by_outcome: dict[str, int]
    to_ack: Durations
    to_on_site: Durations
    to_resolve: Durations
    grids: list[str] = field(default_factory=list)

    @property
    def alerts_per_home_week(self) -> float | None:
        return self.alerts / (self.homes * self.weeks) if self.homes and self.weeks else None


def _durations(alerts: list[Alert], stage: str) -> Durations:
    values = [getattr(a, stage) - a.opened_at for a in alerts if getattr(a, stage) is not None]
    return Durations.of(values)


def month_report(session: Session, month: str, timezone: str, grid: str | None = None) -> MonthReport:
    start, end = month_bounds(month, timezone)
    query = select(Alert).where(Alert.opened_at >= start, Alert.opened_at < end)
    homes_query = select(func.count(Resident.id))
    if grid:
        query = query.where(Alert.resident_id.in_(select(Resident.id).where(Resident.grid_id == grid)))
        homes_query = homes_query.where(Resident.grid_id == grid)
    alerts = list(session.scalars(query.order_by(Alert.opened_at, Alert.id)))
    by_kind = []
    for kind in sorted({a.kind for a in alerts}):
        mine = [a for a in alerts if a.kind == kind]
        outcomes = Counter(a.outcome for a in mine if a.outcome)
        by_kind.append(
            KindSummary(
                kind=kind,
                alerts=len(mine),
                resolved=sum(1 for a in mine if a.state == "resolved"),
                false_alarms=outcomes.get("false_alarm", 0),
                outcomes=dict(sorted(outcomes.items())),
                to_ack=_durations(mine, "acknowledged_at"),
                to_on_site=_durations(mine, "on_site_at"),
                to_resolve=_durations(mine, "resolved_at"),
            )
        )
    grids = [g for g in session.scalars(select(Resident.grid_id).distinct().order_by(Resident.grid_id))]
    return MonthReport(
        month=month,
        grid=grid,
        homes=int(session.scalar(homes_query) or 0),
        weeks=(end - start) / (7 * 86400),
        alerts=len(alerts),
        by_kind=by_kind,
        by_outcome=dict(sorted(Counter(a.outcome or "unresolved" for a in alerts).items())),
        to_ack=_durations(alerts, "acknowledged_at"),
        to_on_site=_durations(alerts, "on_site_at"),
        to_resolve=_durations(alerts, "resolved_at"),
        grids=grids,
    )


CSV_COLUMNS = [
    "month", "grid", "kind", "alerts", "resolved", "false_alarms", "false_alarm_share",
    "ack_p50_s", "ack_p90_s", "on_site_p50_s", "on_site_p90_s", "resolve_p50_s", "resolve_p90_s",
    "alerts_per_home_week",
]  # fmt: skip


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}".rstrip("0").rstrip(".")


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def neutralise_cell(value: object) -> object:
    """A text cell that a spreadsheet would read as a formula gets a leading `'` (OWASP's CSV
    injection advice); numbers are left alone."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _NUMBER.match(value):
        return "'" + value
    return value


class _SafeWriter:
    """csv.writer whose rows are neutralised cell by cell."""

    def __init__(self, out: io.StringIO) -> None:
        self._writer = csv.writer(out, lineterminator="\n")

    def writerow(self, row: Sequence[object]) -> None:
        self._writer.writerow([neutralise_cell(cell) for cell in row])


def report_csv(report: MonthReport) -> str:
    """One row per alert kind and a final `all` row; durations in seconds."""
    out = io.StringIO()
    writer = _SafeWriter(out)
    writer.writerow(CSV_COLUMNS)
    grid = report.grid or "all"
    for k in report.by_kind:
        writer.writerow([
            report.month, grid, k.kind, k.alerts, k.resolved, k.false_alarms, _num(k.false_alarm_share),
            _num(k.to_ack.p50), _num(k.to_ack.p90), _num(k.to_on_site.p50), _num(k.to_on_site.p90),
            _num(k.to_resolve.p50), _num(k.to_resolve.p90), "",
        ])  # fmt: skip
    resolved = sum(k.resolved for k in report.by_kind)
    false_alarms = sum(k.false_alarms for k in report.by_kind)
    writer.writerow([
        report.month, grid, "all", report.alerts, resolved, false_alarms, _num(false_alarms / resolved if resolved else None),
        _num(report.to_ack.p50), _num(report.to_ack.p90), _num(report.to_on_site.p50), _num(report.to_on_site.p90),
        _num(report.to_resolve.p50), _num(report.to_resolve.p90), _num(report.alerts_per_home_week),
    ])  # fmt: skip
    return out.getvalue()
