"""Group cards: what a grid's staff group (WeCom group robot, DingTalk custom robot) sees of an alert.

A card is posted when the alert opens, and again when it is acknowledged and when it is
resolved, each with the link to the alert on the board. Markdown that both robots render
(headings, bold, links, line breaks); no colours, which only WeCom knows. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from alerts.actions import Alert
from alerts.registry import Resident
from alerts.texts import Lang, outcome_text, what_happened


class CardEvent(StrEnum):
    OPENED = "opened"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Card:
    event: CardEvent
    title: str  # DingTalk shows it in the chat list; WeCom has none (it is the heading)
    markdown: str


_HEAD_ZH = {CardEvent.OPENED: "警报", CardEvent.ACKNOWLEDGED: "已有人前往", CardEvent.RESOLVED: "已解除"}
_HEAD_EN = {CardEvent.OPENED: "Alert", CardEvent.ACKNOWLEDGED: "Someone is going", CardEvent.RESOLVED: "Resolved"}


def group_card(
    event: CardEvent, alert: Alert, resident: Resident, lang: Lang, link: str, by: str = ""
) -> Card:
    """The card for `event`. `by`: who acknowledged (a name), `link`: the alert's page."""
    en = lang is Lang.EN
    head = (_HEAD_EN if en else _HEAD_ZH)[event]
    what = what_happened(alert, lang)
    title = f"{head}: {resident.name} {what} ({alert.code})" if en else f"【平安】{head}:{resident.name}{what}(码{alert.code})"
    lines = [f"### {title}", f"**{'Address' if en else '地址'}**: {resident.address}"]
    if event is CardEvent.ACKNOWLEDGED and by:
        lines.append(f"**{'Going' if en else '前往'}**: {by}")
    if event is CardEvent.RESOLVED:
        lines.append(f"**{'Outcome' if en else '结果'}**: {outcome_text(alert.outcome, lang)}")
    if event is CardEvent.OPENED:
        lines.append("Reply 1 to the SMS or press 1 in the call to go." if en else "收到短信回复1或来电按1即表示前往。")
    lines.append(f"[{'Open the alert' if en else '查看警报'}]({link})")
    return Card(event, title, "\n\n".join(lines))
