"""Answers over unusual fact sets, through the API."""

from __future__ import annotations

from typing import Any

import httpx

from shared.auth import Role
from tests.callers import Caller
from tests.reporting.helpers import awareness_session, by_value, values


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
    await awareness_session(alice)
    await catch_up()
    services = await values(
        reporting_client, reader, "services_delivered", by="age_group,sex"
    )
    assert by_value(services) == {("18_plus", "female"): 12, ("0_17", "male"): 7}
    assert services["total"]["value"] == 19
    people = await values(reporting_client, reader, "people_reached", by="age_group")
    assert by_value(people) == {}
    assert people["total"]["value"] == 0
