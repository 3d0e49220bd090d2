"""Schemathesis against the OpenAPI schema of the whole hub's app (build_hub: real HubCore, its
ingestion connected to a private Mosquitto so /readyz is truly ready): bounded (20 examples per
operation), no 5xx, responses match their documented schemas. In-process over ASGI with an admin
token, on both databases."""

from __future__ import annotations

import time

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from .conftest import build_web

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


@pytest.fixture
def api_schema(db_url: str, broker):  # type: ignore[no-untyped-def]
    web = build_web(db_url, mqtt_url=broker.url)
    web.hub.ingest.start()
    deadline = time.monotonic() + 30
    while not web.hub.ingest.connected and time.monotonic() < deadline:
        time.sleep(0.05)  # a bounded wait for the broker connection (not a timed assertion)
    assert web.hub.ingest.connected, "the hub did not connect to the test broker"
    schema = schemathesis.openapi.from_asgi("/openapi.json", web.app, headers=web.bearer("viewer"))  # the schema needs a login
    yield schema, web
    web.hub.ingest.stop()
    web.close()


def test_api_has_no_server_errors(api_schema) -> None:  # type: ignore[no-untyped-def]
    schema, web = api_schema
    headers = web.bearer("admin")
    failures = []
    calls: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        try:
            fuzz(operation, headers, calls)()
        except Exception as exc:  # collect every operation's failure, then report them together
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
    assert len(calls) >= 10 and sum(calls.values()) > 3 * len(calls), calls  # it really exercised the API


def fuzz(operation, headers: dict[str, str], calls: dict[str, int]):  # type: ignore[no-untyped-def]
    """A Hypothesis test of one operation: 20 derandomized examples, each validated."""

    @settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None)
    @given(case=operation.as_strategy())
    def run(case) -> None:  # type: ignore[no-untyped-def]
        calls[operation.label] = calls.get(operation.label, 0) + 1
        case.call_and_validate(headers=headers, checks=CHECKS)

    return run
