"""Backtest a configuration change: replay one recording under A and B, and show what differs.

`pingan replay --offline FILE --config A --compare B` runs `run_offline` twice on the same
recording and registry, pairs the alerts of the two runs, and reports:

- alerts raised only under A, and only under B;
- alerts raised under both but opened or closed differently (a threshold moved them);
- with ground truth in the recording, the score of each run (incidents found per kind, false
  alerts and their rate per home-week, detection delays), and for every listed alert whether it
  found an incident or was a false alert.

Two alerts are the same alert when they have the same key (resident, kind, and device for the
per-device kinds) and their open intervals overlap: a shorter inactivity threshold opens the
same silence's alert earlier, it does not make a new one. Pairing goes in opening order, each
alert paired at most once. Same recording, same configurations, same report.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from alerts.actions import Alert
from hub.rules.replay import WEEK_S, ReplayResult, alert_row, match


@dataclass(frozen=True, slots=True)
class Changed:
    """One alert raised under both, opened or closed differently."""

    a: Alert
    b: Alert

    @property
    def opened_shift_s(self) -> float:
        return self.b.opened_at - self.a.opened_at


@dataclass
class Comparison:
    a: ReplayResult
    b: ReplayResult
    only_a: list[Alert]
    only_b: list[Alert]
    changed: list[Changed]
    same: int
    found_a: dict[str, str] | None = None  # see found_by
    found_b: dict[str, str] | None = None

    def verdict(self, alert: Alert, side: str) -> str | None:
        """'false' or 'found <kind>' under the run the alert belongs to; None without truth."""
        found = self.found_a if side == "A" else self.found_b
        return None if found is None else found.get(alert.id, "false")

    def json_lines(self) -> Iterator[dict[str, Any]]:
        for side, alerts in (("A", self.only_a), ("B", self.only_b)):
            for alert in alerts:
                yield {"only": side, **alert_row(alert), "verdict": self.verdict(alert, side)}
        for pair in self.changed:
            yield {"changed": True, "a": alert_row(pair.a), "b": alert_row(pair.b), "opened_shift_s": pair.opened_shift_s}
        yield self.summary()

    def summary(self) -> dict[str, Any]:
        return {
            "summary": True,
            "compare": True,
            "only_a": len(self.only_a),
            "only_b": len(self.only_b),
            "changed": len(self.changed),
            "same": self.same,
            "a": self.a.summary,
            "b": self.b.summary,
        }


def found_by(result: ReplayResult) -> dict[str, str] | None:
    """Alert id -> 'found <kind>' for the alerts that detected an incident; None without truth."""
    if not result.truths:
        return None
    matches, _ = match(result.alerts, result.truths)
    return {m.alert.id: f"found {m.truth.kind}" for m in matches if m.alert is not None}


def _end(alert: Alert) -> float:
    return math.inf if alert.resolved_at is None else alert.resolved_at


def same_alert(x: Alert, y: Alert) -> bool:
    """Same key, overlapping open intervals (see the module docstring)."""
    return x.key == y.key and x.opened_at <= _end(y) and y.opened_at <= _end(x)


def compare(a: ReplayResult, b: ReplayResult) -> Comparison:
    used: set[str] = set()
    only_a: list[Alert] = []
    changed: list[Changed] = []
    same = 0
    by_key: dict[tuple[str, str, str], list[Alert]] = {}
    for alert in b.alerts:
        by_key.setdefault(alert.key, []).append(alert)
    for x in a.alerts:
        y = next((c for c in by_key.get(x.key, ()) if c.id not in used and same_alert(x, c)), None)
        if y is None:
            only_a.append(x)
            continue
        used.add(y.id)
        if (x.opened_at, x.resolved_at, x.outcome, x.severity) == (y.opened_at, y.resolved_at, y.outcome, y.severity):
            same += 1
        else:
            changed.append(Changed(x, y))
    only_b = [y for y in b.alerts if y.id not in used]
    return Comparison(a, b, only_a, only_b, changed, same, found_by(a), found_by(b))


# --- text report --------------------------------------------------------------------------


def _hours(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 3600:.1f} h"


def score_rows(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The truth scores of A and B side by side, one (label, A, B) row each."""
    rows = [
        ("incidents found", f"{a['detected']}/{a['incidents']}", f"{b['detected']}/{b['incidents']}"),
        ("false alerts", str(a["false_alerts"]), str(b["false_alerts"])),
        ("false alerts per home-week", str(a["false_alerts_per_home_week"]), str(b["false_alerts_per_home_week"])),
    ]
    for kind in sorted(set(a["per_kind"]) | set(b["per_kind"])):
        ka, kb = a["per_kind"].get(kind, {}), b["per_kind"].get(kind, {})
        rows.append((f"  {kind}: found", f"{ka.get('detected', 0)}/{ka.get('incidents', 0)}", f"{kb.get('detected', 0)}/{kb.get('incidents', 0)}"))
        rows.append((f"  {kind}: delay median / p90",
                     f"{_hours(ka.get('delay_median_s'))} / {_hours(ka.get('delay_p90_s'))}",
                     f"{_hours(kb.get('delay_median_s'))} / {_hours(kb.get('delay_p90_s'))}"))
    for kind in sorted(set(a["false_alerts_by_kind"]) | set(b["false_alerts_by_kind"])):
        rows.append((f"  false {kind}", str(a["false_alerts_by_kind"].get(kind, 0)), str(b["false_alerts_by_kind"].get(kind, 0))))
    return rows


def text_lines(cmp: Comparison, name_a: str, name_b: str, describe: Any, homes: int) -> Iterator[str]:
    """The report for a terminal; `describe(alert)` is the replay's one-line alert text."""
    yield f"A = {name_a}\nB = {name_b}"
    for side, alerts in (("A", cmp.only_a), ("B", cmp.only_b)):
        yield f"\nonly under {side} ({len(alerts)}):"
        for alert in alerts:
            verdict = cmp.verdict(alert, side)
            yield f"  {describe(alert)}" + (f"  [{verdict}]" if verdict else "")
    yield f"\nunder both, opened or closed differently ({len(cmp.changed)}):"
    for pair in cmp.changed:
        yield f"  A {describe(pair.a)}\n  B {describe(pair.b)}  (opened {pair.opened_shift_s / 3600:+.2f} h)"
    yield f"\nthe same under both: {cmp.same}"
    rows = [("alerts", str(cmp.a.summary["alerts"]), str(cmp.b.summary["alerts"]))]
    home_weeks = homes * cmp.a.summary["span_s"] / WEEK_S
    if home_weeks > 0:  # with no incidents in the data (real homes), every alert is a false one
        rows.append((f"alerts per home-week ({home_weeks:.2f})",
                     f"{cmp.a.summary['alerts'] / home_weeks:.3f}", f"{cmp.b.summary['alerts'] / home_weeks:.3f}"))
    truth_a, truth_b = cmp.a.summary.get("truth"), cmp.b.summary.get("truth")
    if truth_a and truth_b:
        rows += score_rows(truth_a, truth_b)
    else:
        yield "(no truth lines in the recording: no score)"
    width = max(len(r[0]) for r in rows)
    col = max(len(r[1]) for r in rows) + 2
    yield f"\n{'score':{width}}  {'A':>{col}}  {'B':>{col}}"
    for label, x, y in rows:
        yield f"{label:{width}}  {x:>{col}}  {y:>{col}}"
