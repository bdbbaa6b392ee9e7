"""Schemathesis against each service's OpenAPI, in process: no 5xx, and every
response's status, content type and body conform to what the route documents.

Cases are generated first (derandomised, MAX_EXAMPLES per operation), then
sent through httpx's ASGITransport on the suite's own event loop, so the apps
keep their PostgreSQL pools and Redis queues. One request in five goes without
a token. The common problems (401, 403, 413, 422, 429, 503 ...) are declared
on every operation by ``shared.errors.document_problems``.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis import Case
from schemathesis.checks import not_a_server_error
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


def httpx_kwargs(case: Case[Any], headers: dict[str, str]) -> dict[str, Any]:
    kwargs = case.as_transport_kwargs(base_url="http://test", headers=headers)
    kwargs.pop("cookies", None)
    data = kwargs.pop("data", None)
    if isinstance(data, str | bytes):
        kwargs["content"] = data
    elif data is not None:
        kwargs["data"] = data
    return kwargs


@pytest.mark.parametrize("service", ["beneficiary", "training", "reporting"])
async def test_no_server_error_and_responses_conform(
    service: str,
    beneficiary_app: FastAPI,
    linked_training: FastAPI,
    reporting_app: FastAPI,
    issue: Any,
    orgs: dict[str, Org],
) -> None:
    target = {
        "beneficiary": beneficiary_app,
        "training": linked_training,  # it checks organisations' ids there
        "reporting": reporting_app,
    }[service]
    caller = issue(orgs["a"], *ROLES)
    authenticated = {"Authorization": f"Bearer {caller.token}"}
    failures: list[str] = []
    cases = generate_cases(target)
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
