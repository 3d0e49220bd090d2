"""Schemathesis against the OpenAPI schema: bounded (20 examples per operation), no 500s, responses
match their documented schemas. Runs in-process over ASGI with an admin token, on both databases."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from .conftest import build_web

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


@pytest.fixture
def api_schema(db_url: str):  # type: ignore[no-untyped-def]
    web = build_web(db_url)
    schema = schemathesis.openapi.from_asgi("/openapi.json", web.app)
    yield schema, web
    web.sessions.kw["bind"].dispose()


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
