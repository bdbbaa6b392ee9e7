"""Answers over unusual fact sets, through the API."""

from __future__ import annotations

from typing import Any

import httpx

from shared.auth import Role
from tests.beneficiary.conftest import Caller
from tests.reporting.helpers import by_value, values


async def test_anonymous_services_alone_answer_by_age_group(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    """No one registered yet, only an anonymous session: the age groups come
    from its lines (this was a 500 while the beneficiaries table was empty)."""
    reader = issue(orgs["a"], Role.me_officer)
    r = await alice.post(
        "/v1/anonymous-services",
        {
            "activity_code": "awareness_session",
            "service_date": "2026-02-10",
            "counts": [
                {"sex": "female", "age_group": "adult", "count": 12},
                {"sex": "male", "age_group": "under_18", "count": 7},
            ],
        },
    )
    assert r.status_code == 201, r.text
    await catch_up()
    services = await values(
        reporting_client, reader, "services_delivered", by="age_group,sex"
    )
    assert by_value(services) == {("18_plus", "female"): 12, ("0_17", "male"): 7}
    assert services["total"]["value"] == 19
    people = await values(reporting_client, reader, "people_reached", by="age_group")
    assert by_value(people) == {}
    assert people["total"]["value"] == 0
