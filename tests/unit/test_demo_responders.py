"""The demo's simulated responders: who answers, in what order, and only once per alert."""

from __future__ import annotations

from hub.dispatch.providers.base import InboundReply, TemplateMessage
from hub.dispatch.providers.console import ConsoleProvider
from pingan.demo_responders import ARRIVE_AFTER_S, DemoResponders, ResponderPlan


def _answering(plan: ResponderPlan, count: int) -> list[str]:
    phones = (f"+8613800{i:06d}" for i in range(10_000))
    return [p for p in phones if plan.answers(p)][:count]


def _silent(plan: ResponderPlan) -> str:
    return next(p for p in (f"+8613900{i:06d}" for i in range(10_000)) if not plan.answers(p))


def test_about_two_in_three_numbers_answer_and_always_the_same_ones() -> None:
    plan = ResponderPlan()
    phones = [f"+8613700{i:06d}" for i in range(2000)]
    share = sum(plan.answers(p) for p in phones) / len(phones)
    assert 0.58 < share < 0.72
    assert [plan.answers(p) for p in phones] == [ResponderPlan().answers(p) for p in phones]


def test_one_who_answers_acknowledges_arrives_and_resolves_in_that_order() -> None:
    plan = ResponderPlan()
    phone = _answering(plan, 1)[0]
    plan.on_text(phone, "A7K2", now=1000.0)
    assert plan.due(1000.0 + 59) == []
    sent = []
    for t in range(1000, 1000 + 3 * 3600, 30):
        sent += [(r.due, r.body) for r in plan.due(float(t))]
    assert [body for _, body in sent] == ["1 A7K2", "3 A7K2", "9 A7K2"]
    (ack, _), (arrive, _), (done, _) = sent
    assert 1000 + 60 <= ack <= 1000 + 300
    assert ARRIVE_AFTER_S[0] <= arrive - ack <= ARRIVE_AFTER_S[1]
    assert done > arrive


def test_a_silent_number_never_replies_and_a_taken_alert_is_not_acknowledged_twice() -> None:
    plan = ResponderPlan()
    first, second = _answering(plan, 2)
    plan.on_text(_silent(plan), "B3C4", now=0.0)
    plan.on_text(first, "B3C4", now=0.0)
    plan.on_text(second, "B3C4", now=0.0)
    acks = [r for r in plan.due(400.0) if r.step == "1"]
    assert len(acks) == 1 and acks[0].phone in (first, second)
    plan.on_text(second, "B3C4", now=500.0)  # the next step's text to someone else: already taken
    assert all(r.step != "1" for r in plan.due(10_000.0))


def test_the_responders_answer_alert_texts_only_through_the_reply_handler() -> None:
    provider = ConsoleProvider(echo=False)
    now = [0.0]
    got: list[InboundReply] = []
    responders = DemoResponders(provider, got.append, lambda: now[0])
    phone = _answering(responders.plan, 1)[0]
    alert = TemplateMessage("sos", {"name": "李奶奶", "address": "宣信街12号", "code": "A7K2", "link": "http://h/s/x"})
    provider.send(phone, "【平安】...", 300, None, alert)
    provider.send(phone, "【平安】李奶奶的警报已解除", 300, None, TemplateMessage("resolved", {"name": "李奶奶", "outcome": "ok", "code": "A7K2"}))
    assert responders.step() == 0
    now[0] = 400.0
    assert responders.step() == 1
    assert [(r.from_number, r.body) for r in got] == [(phone, "1 A7K2")]
    now[0] = 400.0 + 3600
    responders.step()
    assert [r.body for r in got] == ["1 A7K2", "3 A7K2", "9 A7K2"]  # an hour later the whole story is told
    assert len({r.sid for r in got}) == len(got)
