"""The foundation's promise, end to end through the HTTP API: two
organisations register people and record individual and group services, a
field device replays an offline batch, and scoping, duplicates, consent,
idempotency and the change feed all hold."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from typing import Any

from shared.auth import Role
from tests.beneficiary.api import CONSENTS, beneficiary_body
from tests.callers import Caller


async def test_two_organisations_from_registration_to_the_change_feed(
    alice: Caller, bob: Caller, issue: Any, site_ids: list[str]
) -> None:
    # Registration with an Idempotency-Key; a retry does not register twice.
    layla = beneficiary_body(
        full_name="Layla Hassan", phone="0750 123 4567", site_id=site_ids[0]
    )
    first = await alice.post(
        "/v1/beneficiaries", layla, headers={"Idempotency-Key": "r1"}
    )
    retry = await alice.post(
        "/v1/beneficiaries", layla, headers={"Idempotency-Key": "r1"}
    )
    assert first.status_code == retry.status_code == 201
    assert retry.json()["id"] == first.json()["id"]
    layla_id = first.json()["id"]

    # The same person registered again by a colleague is flagged, not merged.
    again = await alice.post(
        "/v1/beneficiaries",
        beneficiary_body(
            full_name="LAYLA  hassan", phone="+964 750 123 4567", site_id=site_ids[0]
        ),
    )
    assert again.json()["possible_duplicates"] == [layla_id]

    # Org B registers its own people; it never sees org A's.
    omar = (
        await bob.post(
            "/v1/beneficiaries", beneficiary_body(full_name="Omar", sex="male")
        )
    ).json()
    assert (await bob.get(f"/v1/beneficiaries/{layla_id}")).status_code == 404
    assert layla_id not in (await bob.get("/v1/beneficiaries")).text

    # Individual and group services; the group counts each attendee.
    r = await alice.post(
        "/v1/service-records",
        {
            "beneficiary_id": layla_id,
            "activity_code": "pm_plus_individual",
            "service_date": "2026-02-01",
            "site_id": site_ids[0],
        },
    )
    assert r.status_code == 201
    group = await alice.post(
        "/v1/group-activities",
        {
            "activity_code": "ipt_group_session",
            "activity_date": "2026-02-08",
            "site_id": site_ids[0],
            "attendee_ids": [layla_id, again.json()["id"]],
            "anonymous_attendees": [
                {"sex": "female", "age_group": "adult", "count": 3}
            ],
        },
    )
    assert group.json()["served_total"] == 5
    assert (
        await bob.post(
            "/v1/service-records",
            {
                "beneficiary_id": layla_id,
                "activity_code": "pfa",
                "service_date": "2026-02-01",
            },
        )
    ).status_code == 404

    # An offline device: a new person and services, replayed three times.
    device_person = str(uuid.uuid4())
    data = beneficiary_body(full_name="Offline Registered", site_id=site_ids[0])
    data.pop("consents")
    batch = {
        "device_id": "tablet-3",
        "beneficiaries": [{"id": device_person, "data": data, "consents": CONSENTS}],
        "service_records": [
            {
                "id": str(uuid.uuid4()),
                "data": {
                    "beneficiary_id": device_person,
                    "activity_code": "remote_pfa",
                    "service_date": "2026-02-10",
                    "modality": "remote_phone",
                },
            }
        ],
    }
    statuses = []
    for _ in range(3):
        results = (await alice.post("/v1/sync", batch)).json()["results"]
        statuses.append([x["status"] for x in results])
    assert statuses == [
        ["created", "created"],
        ["unchanged", "unchanged"],
        ["unchanged", "unchanged"],
    ]

    # Consent withdrawn for services: no more services for that person.
    await alice.post(
        f"/v1/beneficiaries/{device_person}/consents",
        [{"purpose": "services", "granted": False, "form_version": "2024-1"}],
    )
    refused = await alice.post(
        "/v1/service-records",
        {
            "beneficiary_id": device_person,
            "activity_code": "pfa",
            "service_date": "2026-02-11",
        },
    )
    assert refused.status_code == 409

    # The change feed, as the reporting service reads it: ordered, complete,
    # free of PII.
    reader = issue(alice.org, Role.service)
    feed = (await reader.get("/v1/events", params={"limit": 5000})).json()
    events = feed["events"]
    assert [e["position"] for e in events] == list(range(1, len(events) + 1))
    counts = Counter(e["type"] for e in events)
    assert counts["beneficiary.registered"] == 4
    assert counts["service_record.recorded"] == 4  # 1 individual + 2 group + 1 sync
    assert counts["anonymous_service.recorded"] == 1
    assert {e["organisation_id"] for e in events} == {alice.org.id, bob.org.id}
    dumped = json.dumps(events)
    for pii in ("Layla", "0750 123 4567", "+964 750", "Offline Registered", "Omar"):
        assert pii not in dumped
    withdrawn = [
        e
        for e in events
        if e["type"] == "consent.recorded" and not e["data"]["granted"]
    ]
    assert [e["data"]["beneficiary_id"] for e in withdrawn] == [device_person]
    assert omar["id"] in dumped
