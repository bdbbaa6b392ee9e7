"""Registering organisations is a platform act, and a partner link counts
only once the lead's admin approves it (review issue 12, finding 1)."""

from __future__ import annotations

import uuid
from typing import Any

from shared.auth import Role
from tests.beneficiary.api import (
    PLATFORM,
    make_beneficiary,
    record_service,
    rogue_partner,
)
from tests.callers import Caller, Org


class TestCreateOrganisation:
    async def test_an_organisation_admin_cannot_create_organisations(
        self, issue: Any, orgs: dict[str, Org]
    ) -> None:
        unregistered = Org(str(uuid.uuid4()), "nobody")
        for admin in (issue(unregistered, Role.admin), issue(orgs["b"], Role.admin)):
            r = await admin.post(
                "/v1/organisations",
                {"name": "Rogue", "type": "cso", "lead_organisation_id": orgs["a"].id},
            )
            assert r.status_code == 403, r.text
            assert r.headers["content-type"].startswith("application/problem+json")
        listed = await issue(orgs["a"], Role.admin).get("/v1/organisations")
        assert "Rogue" not in {o["name"] for o in listed.json()["items"]}

    async def test_platform_admin_holds_no_organisation_powers(
        self, issue: Any, orgs: dict[str, Org]
    ) -> None:
        platform = issue(orgs["a"], Role.platform_admin)
        assert (await platform.get("/v1/beneficiaries")).status_code == 403
        assert (await platform.get("/v1/audit")).status_code == 403


class TestPartnerApproval:
    async def test_unapproved_partner_work_stays_its_own(
        self, issue: Any, orgs: dict[str, Org]
    ) -> None:
        rogue = await rogue_partner(issue, orgs["a"])
        worker = issue(rogue, Role.case_worker)
        person = await make_beneficiary(worker)
        record = await record_service(worker, person["id"])
        assert record["delivered_through"] == "direct"
        assert record["lead_organisation_id"] == rogue.id

    async def test_only_the_requested_leads_admin_approves(
        self, issue: Any, orgs: dict[str, Org]
    ) -> None:
        rogue = await rogue_partner(issue, orgs["a"])
        path = f"/v1/organisations/{rogue.id}/lead-approval"
        for caller in (
            issue(orgs["b"], Role.admin),
            issue(rogue, Role.admin),
            issue(orgs["a"], Role.programme_manager),
            issue(PLATFORM, Role.platform_admin),
            issue(orgs["a"], Role.admin, sites=[str(uuid.uuid4())]),
        ):
            r = await caller.post(path)
            assert r.status_code == 403, (caller.org.name, r.text)
        r = await issue(orgs["a"], Role.admin).post(
            f"/v1/organisations/{uuid.uuid4()}/lead-approval"
        )
        assert r.status_code == 404

        lead_admin: Caller = issue(orgs["a"], Role.admin)
        r = await lead_admin.post(path)
        assert r.status_code == 200, r.text
        assert r.json()["lead_approved_by"] == lead_admin.subject
        assert r.json()["lead_organisation_id"] == orgs["a"].id
        assert r.json()["requested_lead_organisation_id"] is None
        assert (await lead_admin.post(path)).status_code == 403  # nothing pending
        worker = issue(rogue, Role.case_worker)
        record = await record_service(worker, (await make_beneficiary(worker))["id"])
        assert record["delivered_through"] == "partner"
        assert record["lead_organisation_id"] == orgs["a"].id

    async def test_an_approval_is_in_the_leads_audit_trail(
        self, issue: Any, orgs: dict[str, Org]
    ) -> None:
        """One row for the approval, with the reason given; a replay and a
        refused approval leave none."""
        rogue = await rogue_partner(issue, orgs["a"])
        path = f"/v1/organisations/{rogue.id}/lead-approval"
        lead_admin: Caller = issue(orgs["a"], Role.admin, subject="nadia")
        headers = {
            "X-Access-Reason": "partner agreement signed",
            "Idempotency-Key": "k1",
        }
        assert (await issue(orgs["b"], Role.admin).post(path)).status_code == 403
        for _ in range(2):  # the second is a replay
            r = await lead_admin.post(path, headers=headers)
            assert r.status_code == 200, r.text
        assert (await lead_admin.post(path)).status_code == 403  # nothing pending
        r = await issue(orgs["a"], Role.auditor).get("/v1/audit", params={"limit": 100})
        assert r.status_code == 200, r.text
        trail = [
            (e["action"], e["entity_type"], e["entity_id"], e["reason"])
            for e in r.json()["items"]
            if e["entity_id"] == rogue.id
        ]
        assert trail == [
            ("approve_partner", "organisation", rogue.id, "partner agreement signed")
        ]
        r = await issue(orgs["b"], Role.auditor).get("/v1/audit", params={"limit": 100})
        assert rogue.id not in {e["entity_id"] for e in r.json()["items"]}

    async def test_no_second_level(self, issue: Any, orgs: dict[str, Org]) -> None:
        """A partner that leads another cannot become a partner itself."""
        middle = await rogue_partner(issue, orgs["b"], "Middle")
        r = await issue(PLATFORM, Role.platform_admin).post(
            "/v1/organisations",
            {"name": "Below", "type": "cso", "lead_organisation_id": middle.id},
        )
        below = r.json()["id"]
        r = await issue(middle, Role.admin).post(
            f"/v1/organisations/{below}/lead-approval"
        )
        assert r.status_code == 200, r.text
        r = await issue(orgs["b"], Role.admin).post(
            f"/v1/organisations/{middle.id}/lead-approval"
        )
        assert r.status_code == 409, r.text
