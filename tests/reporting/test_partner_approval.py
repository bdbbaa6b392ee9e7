"""An implementing partner reaches its lead's indicators only once the
lead's admin approved it (review issue 12, finding 1)."""

from __future__ import annotations

from typing import Any

import httpx

from shared.auth import Role
from tests.beneficiary.api import make_beneficiary, record_service, rogue_partner
from tests.reporting.helpers import by_value, values


async def test_an_unapproved_partner_stays_out_of_the_leads_indicators(
    issue: Any, orgs: Any, reporting_client: httpx.AsyncClient, catch_up: Any
) -> None:
    rogue = await rogue_partner(issue, orgs["a"])
    worker = issue(rogue, Role.case_worker)
    await record_service(worker, (await make_beneficiary(worker))["id"])
    await catch_up()
    reader = issue(orgs["a"], Role.me_officer)
    lead = await values(
        reporting_client, reader, "services_delivered", by="delivered_through"
    )
    assert lead["total"]["value"] == 0
    assert by_value(lead) == {}
