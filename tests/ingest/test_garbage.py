"""Hypothesis-generated garbage through the real broker, interleaved with valid messages.

The hub must stay ready, store every valid message and keep every invalid one in quarantine
with a reason. One hub serves all examples; each example checks only its own rows.
"""

from __future__ import annotations

import itertools
import json
import time

import httpx
from conftest import Broker
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.helpers import METRICS_AUTH, Publisher, heartbeat, rows, scalar, seed_devices, wait_until

REGISTERED = [f"cat-{i:04d}" for i in range(10)]
ROOT = "pingan/v1/dev"
MAX_PAYLOAD = 4096  # as written by helpers.write_config

device = st.sampled_from(REGISTERED)
uplink = st.sampled_from(["heartbeat", "event", "gps", "status"])


def as_json(obj: object) -> bytes:
    return json.dumps(obj).encode()


garbage = st.one_of(
    # Not UTF-8 from the first byte: never JSON.
    st.tuples(device, uplink, st.binary(max_size=200).map(lambda b: b"\xff" + b)).map(
        lambda t: (f"{ROOT}/{t[0]}/{t[1]}", t[2])),
    # Text that is not a JSON object.
    st.tuples(device, uplink, st.text(max_size=100).map(lambda s: ("[" + s).encode())).map(
        lambda t: (f"{ROOT}/{t[0]}/{t[1]}", t[2])),
    # Out of range.
    st.tuples(device, st.integers().filter(lambda n: n < 0 or n > 100)).map(
        lambda t: (f"{ROOT}/{t[0]}/heartbeat", as_json({"battery": t[1]}))),
    st.tuples(device, st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: abs(x) > 90)).map(
        lambda t: (f"{ROOT}/{t[0]}/gps", as_json({"lat": t[1], "lon": 126.6}))),
    # Wrong types and missing fields.
    st.tuples(device, st.text(max_size=20)).map(
        lambda t: (f"{ROOT}/{t[0]}/event", as_json({"type": "motion", "seq": t[1]}))),
    st.tuples(device, st.integers(0, 2**32 - 1)).map(lambda t: (f"{ROOT}/{t[0]}/event", as_json({"seq": t[1]}))),
    # Unknown devices, contradicting device_id, bad ids in the topic.
    st.from_regex(r"[a-z0-9][a-z0-9_-]{2,20}", fullmatch=True).filter(lambda d: d not in REGISTERED).map(
        lambda d: (f"{ROOT}/{d}/heartbeat", as_json({"battery": 50}))),
    st.tuples(device, device).filter(lambda t: t[0] != t[1]).map(
        lambda t: (f"{ROOT}/{t[0]}/event", as_json({"type": "motion", "device_id": t[1]}))),
    st.from_regex(r"[A-Z ]{3,10}", fullmatch=True).map(lambda d: (f"{ROOT}/{d}/heartbeat", b"{}")),
    # Oversized.
    st.tuples(device, st.integers(MAX_PAYLOAD + 1, 3 * MAX_PAYLOAD)).map(
        lambda t: (f"{ROOT}/{t[0]}/event", b'{"type": "motion", "pad": "' + b"x" * t[1] + b'"}')),
)


def test_garbage_is_quarantined_and_valid_messages_get_through(
    broker: Broker, db_url: str, hub_factory  # type: ignore[no-untyped-def]
) -> None:
    seed_devices(db_url, REGISTERED)
    hub = hub_factory(broker, db_url)
    hub.start()
    hub.wait_ready()
    pub = Publisher(broker.port)
    seqs = itertools.count()

    @settings(max_examples=6, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
    @given(st.lists(garbage, min_size=5, max_size=40), st.randoms(use_true_random=False))
    def round_trip(bad: list[tuple[str, bytes]], rnd) -> None:  # type: ignore[no-untyped-def]
        events_before = scalar(db_url, "SELECT count(*) FROM events")
        last_q = scalar(db_url, "SELECT coalesce(max(id), 0) FROM quarantine")
        good = [heartbeat(rnd.choice(REGISTERED), next(seqs), time.time()) for _ in range(len(bad))]
        mixed = [m for pair in zip(good, bad, strict=True) for m in pair]
        for topic, payload in mixed:
            pub.publish(topic, payload)
        pub.flush()
        want_events = events_before + len(good)
        wait_until(lambda: scalar(db_url, "SELECT count(*) FROM events") >= want_events
                   and scalar(db_url, "SELECT count(*) FROM quarantine WHERE id > :q", q=last_q) >= len(bad),
                   60, "valid messages stored and garbage quarantined")
        assert scalar(db_url, "SELECT count(*) FROM events") == want_events
        got = rows(db_url, "SELECT topic, raw, reason FROM quarantine WHERE id > :q", q=last_q)
        assert all(r.reason for r in got)
        assert sorted((r.topic, bytes(r.raw)) for r in got) == sorted((t, p[:2048]) for t, p in bad)
        assert hub.ready()

    round_trip()
    text = httpx.get(f"{hub.url}/metrics", headers=METRICS_AUTH).text
    assert 'pingan_ingest_quarantined_total{reason="' in text
    assert hub.stop() == 0
    pub.close()
