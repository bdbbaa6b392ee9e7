"""Schemathesis against each service's OpenAPI, in process: no 5xx, and every
response's status, content type and body conform to what the route documents.

Cases are generated first (derandomised, MAX_EXAMPLES per operation: the
same cases for the same schema and libraries, so they are kept in pytest's
cache under the hash of all three and generated again when any changes),
then sent through httpx's ASGITransport on the suite's own event loop, so the apps
keep their PostgreSQL pools and Redis queues. One request in five goes without
a token. The common problems (401, 403, 413, 422, 429, 503 ...) are declared
on every operation by ``shared.errors.document_problems``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from shared.auth import Role
from tests.callers import Org

MAX_EXAMPLES = 10
ROLES = (
    Role.programme_manager,
    Role.me_officer,
    Role.supervisor,
    Role.case_worker,
    Role.auditor,
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def generate_cases(app: FastAPI) -> list[Case[Any]]:
    """Up to MAX_EXAMPLES derandomised cases per operation of the app's schema."""
    schema = schemathesis.openapi.from_dict(app.openapi())
    cases: list[Case[Any]] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()

        @given(operation.as_strategy())
        @hypothesis_settings(
            max_examples=MAX_EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def collect(case: Case[Any]) -> None:
            cases.append(case)

        collect()
    return cases


def cached_cases(app: FastAPI, cache: pytest.Cache | None) -> list[Case[Any]]:
    """``generate_cases``, read from pytest's cache when this schema's cases
    were generated before by the same libraries: generating them is most of
    the test's time, and derandomised generation gives the same cases."""
    if cache is None:  # -p no:cacheprovider
        return generate_cases(app)
    document = app.openapi()
    key = hashlib.sha256(
        json.dumps(
            [document, schemathesis.__version__, hypothesis.__version__, MAX_EXAMPLES],
            sort_keys=True,
        ).encode()
    ).hexdigest()
    folder = cache.mkdir("openapi-fuzz")
    service = app.title.replace(" ", "-").lower()
    stored = folder / f"{service}-{key}.json"
    if not stored.exists():
        cases = generate_cases(app)
        for older in folder.glob(f"{service}-*.json"):  # an older schema's
            older.unlink()
        stored.write_text(json.dumps([_kept(case) for case in cases]))
        return cases
    return _restored(document, json.loads(stored.read_text()))


def _restored(document: dict[str, Any], kept: list[dict[str, Any]]) -> list[Case[Any]]:
    """The cases ``_kept`` wrote, made again from the schema."""
    schema = schemathesis.openapi.from_dict(document)
    operations = {}
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations[result.ok().label] = result.ok()
    return [operations[case.pop("operation")].Case(**case) for case in kept]


def _kept(case: Case[Any]) -> dict[str, Any]:
    """A generated case as JSON (its bodies are JSON, its mode positive)."""
    kept: dict[str, Any] = {
        "operation": case.operation.label,
        "method": case.method,
        "path_parameters": case.path_parameters,
        "headers": dict(case.headers or {}),
        "cookies": case.cookies,
        "query": case.query,
        "media_type": case.media_type,
    }
    if case.body is not NOT_SET:
        kept["body"] = case.body
    return kept


def httpx_kwargs(case: Case[Any], headers: dict[str, str]) -> dict[str, Any]:
    kwargs = case.as_transport_kwargs(base_url="http://test", headers=headers)
    kwargs.pop("cookies", None)
    data = kwargs.pop("data", None)
    if isinstance(data, str | bytes):
        kwargs["content"] = data
    elif data is not None:
        kwargs["data"] = data
    return kwargs


@pytest.mark.long
@pytest.mark.parametrize("service", ["beneficiary", "training", "reporting"])
async def test_no_server_error_and_responses_conform(
    service: str,
    beneficiary_app: FastAPI,
    linked_training: FastAPI,
    reporting_app: FastAPI,
    issue: Any,
    orgs: dict[str, Org],
    request: pytest.FixtureRequest,
) -> None:
    target = {
        "beneficiary": beneficiary_app,
        "training": linked_training,  # it checks organisations' ids there
        "reporting": reporting_app,
    }[service]
    caller = issue(orgs["a"], *ROLES)
    authenticated = {"Authorization": f"Bearer {caller.token}"}
    failures: list[str] = []
    cases = cached_cases(target, getattr(request.config, "cache", None))
    transport = httpx.ASGITransport(app=target, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        for index, case in enumerate(cases):
            headers = authenticated if index % 5 else {}
            kwargs = httpx_kwargs(case, headers)
            response = await http.request(**kwargs)
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except (AssertionError, FailureGroup) as exc:
                failures.append(f"{case.operation.label} {kwargs}: {exc}")
    assert not failures, "\n\n".join(failures)


def test_cached_cases_send_what_was_generated(reporting_app: FastAPI) -> None:
    """A case read back from the cache makes the same request as the case
    generated (all but schemathesis's random case id)."""

    def request(case: Case[Any], headers: dict[str, str]) -> str:
        kwargs = httpx_kwargs(case, headers)
        kwargs["headers"].pop("X-Schemathesis-TestCaseId")
        return json.dumps(kwargs, sort_keys=True, default=repr)

    generated = generate_cases(reporting_app)
    kept = json.loads(json.dumps([_kept(case) for case in generated]))
    restored = _restored(reporting_app.openapi(), kept)
    assert len(restored) == len(generated) > 100
    for headers in ({}, {"Authorization": "Bearer token"}):
        assert [request(c, headers) for c in restored] == [
            request(c, headers) for c in generated
        ]
