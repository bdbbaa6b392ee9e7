"""One person's whole record across services, made through the HTTP APIs
with values distinctive enough to be searched for afterwards."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from shared.auth import Role
from tests.beneficiary.api import (
    assess,
    give_consent,
    intake,
    make_beneficiary,
    phq9,
    record_service,
)
from tests.callers import Caller

NAME = "Zaytouna Qaraghuli"
PHONE = "+964 771 839 2046"
ADDRESS = "17 Street of the Seven Fountains, Qadia camp"
SISTER_PHONE = "0750 913 6628"


@dataclass
class Recorded:
    person: str
    code: str
    case: str
    services: list[str] = field(default_factory=list)
    referral: str = ""
    follow_up: str = ""
    alert: str = ""
    assessment: str = ""
    enrolment: str = ""
    group: str = ""
    trainee: str = ""

    def ids(self) -> list[str]:
        found = [
            self.person,
            self.case,
            *self.services,
            self.referral,
            self.follow_up,
            self.alert,
            self.assessment,
            self.enrolment,
        ]
        return [i for i in found if i]


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def record_person(
    alice: Caller,
    issue: Any,
    training_client: httpx.AsyncClient,
    training_headers: dict[str, str],
) -> Recorded:
    """Registration, two services (one voided), a case with notes, a PHQ-9
    with a positive item 9 (a risk alert, acknowledged), a plan, a safety
    plan, a follow-up, a referral with feedback, a PM+ enrolment and a
    supervised-practice group in training where the person is a client."""
    supervisor = issue(alice.org, Role.supervisor, subject="sam")
    person = await make_beneficiary(
        alice,
        full_name=NAME,
        phone=PHONE,
        address=ADDRESS,
        date_of_birth="1988-07-14",
        registration_date="2026-01-10",
    )
    pid = person["id"]
    first = await record_service(alice, pid, service_date="2026-02-01")
    twice = await record_service(alice, pid, service_date="2026-02-01")
    await ok(
        await alice.post(
            f"/v1/service-records/{twice['id']}/void",
            {"reason": f"entered twice for {NAME}, see {PHONE}"},
        )
    )
    case = await ok(
        await alice.post(
            "/v1/cases",
            intake(pid, intake_notes=f"{NAME} lost her home; reach her on {PHONE}."),
        ),
        201,
    )
    cid = case["id"]
    assessed = await ok(
        await assess(alice, cid, "phq9", phq9(3, 3, 2, 2, 2, 2, 2, 2, 1)), 201
    )
    [alert] = await ok(await supervisor.get("/v1/risk-alerts"))
    await ok(
        await supervisor.post(
            f"/v1/risk-alerts/{alert['id']}/acknowledge",
            {"action_taken": f"Called {NAME} the same day."},
        )
    )
    await ok(
        await alice.client.put(
            f"/v1/cases/{cid}/plan",
            json={"goals": [f"{NAME} sleeps through the night"]},
            headers=alice.headers(),
        )
    )
    await ok(
        await alice.post(
            f"/v1/cases/{cid}/safety-plans",
            {
                "warning_signs": ["not sleeping"],
                "contacts": [
                    {"name": "Sister", "relation": "sister", "phone": SISTER_PHONE}
                ],
            },
        ),
        201,
    )
    follow_up = await ok(
        await alice.post(
            f"/v1/cases/{cid}/follow-ups",
            {"on": "2026-02-20", "notes": f"{NAME} is sleeping better."},
        ),
        201,
    )
    await ok(
        await give_consent(
            alice,
            pid,
            {
                "purpose": "referral",
                "granted": True,
                "form_version": "2024-1",
                "agency": "Legal aid partner",
            },
        ),
        201,
    )
    referral = await ok(
        await alice.post(
            "/v1/referrals",
            {
                "beneficiary_id": pid,
                "case_id": cid,
                "kind": "external",
                "area": "legal",
                "receiving_party": "Legal aid partner",
                "sent_on": "2026-01-21",
            },
        ),
        201,
    )
    await ok(
        await alice.post(
            f"/v1/referrals/{referral['id']}/status",
            {
                "status": "accepted",
                "on": "2026-01-25",
                "feedback": f"Appointment set for {NAME}",
            },
            headers={"If-Match": '"1"'},
        )
    )
    enrolment = await ok(
        await alice.post(
            "/v1/enrolments",
            {
                "beneficiary_id": pid,
                "intervention": "pm_plus",
                "enrolled_on": "2026-02-01",
            },
        ),
        201,
    )
    facilitator = await ok(
        await training_client.post(
            "/v1/trainees",
            json={
                "full_name": "Facilitator One",
                "audience": "ngo",
                "affiliation": "Org A",
                "role": "facilitator",
                "profession": "psychologist",
                "sex": "female",
            },
            headers=training_headers,
        ),
        201,
    )
    other = await make_beneficiary(alice)
    group = await ok(
        await training_client.post(
            "/v1/practice-groups",
            json={
                "name": "Women's group, Qadia",
                "facilitator_trainee_ids": [facilitator["id"]],
                "client_ids": [pid, other["id"]],
                "started_on": "2026-03-10",
            },
            headers=training_headers,
        ),
        201,
    )
    await ok(
        await training_client.post(
            f"/v1/practice-groups/{group['id']}/sessions",
            json={
                "number": 0,
                "phase": "pre_group",
                "held_on": "2026-03-10",
                "attended_client_ids": [pid, other["id"]],
            },
            headers=training_headers,
        ),
        201,
    )
    return Recorded(
        person=pid,
        code=person["code"],
        case=cid,
        services=[first["id"], twice["id"], follow_up["service_record_id"]],
        referral=referral["id"],
        follow_up=follow_up["id"],
        alert=alert["id"],
        assessment=assessed["id"],
        enrolment=enrolment["id"],
        group=group["id"],
        trainee=facilitator["id"],
    )


REASON = {"X-Access-Reason": "subject access request DP-12, received in writing"}
