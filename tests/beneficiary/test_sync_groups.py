"""Group activities (with their attendance) and anonymous services in a sync
batch: the single-write routes' rules, per-record answers, replay safety,
conflicts kept for a supervisor, and an old batch never undoing a newer
decision."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from shared.auth import Role
from tests.beneficiary.api import (
    CONSENTS,
    count_rows,
    enrol,
    make_beneficiary,
    offline_person,
)
from tests.callers import Caller

TABLES = (
    "beneficiary",
    "service_record",
    "group_activity",
    "anonymous_service",
    "outbox_event",
    "audit_entry",
    "sync_conflict",
)


async def _counts(engine: AsyncEngine) -> dict[str, int]:
    return {table: await count_rows(engine, table) for table in TABLES}


def group(*attendees: str, site_id: str | None = None, **data: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "data": {
            "activity_code": "ipt_group_session",
            "activity_date": "2026-02-09",
            "site_id": site_id,
            "duration_minutes": 90,
            "facilitator_staff_ids": ["staff-1"],
            "attendee_ids": list(attendees),
            "anonymous_attendees": [
                {"sex": "female", "age_group": "18_plus", "count": 5},
                {"sex": "male", "age_group": "0_17", "count": 2},
            ],
            **data,
        },
    }


def anonymous(site_id: str | None = None, **data: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "data": {
            "activity_code": "awareness_session",
            "service_date": "2026-02-10",
            "site_id": site_id,
            "counts": [
                {"sex": "female", "age_group": "18_plus", "count": 12},
                {"sex": "male", "age_group": "0_17", "count": 7},
            ],
            **data,
        },
    }


def mixed_batch(known_person: str) -> dict[str, Any]:
    """A person registered offline, their service, a group both they and a
    known person attended, and an awareness session."""
    person_id = str(uuid.uuid4())
    return {
        "device_id": "tablet-3",
        "beneficiaries": [
            {"id": person_id, "data": offline_person(), "consents": CONSENTS}
        ],
        "service_records": [
            {
                "id": str(uuid.uuid4()),
                "data": {
                    "beneficiary_id": person_id,
                    "activity_code": "pfa",
                    "service_date": "2026-02-03",
                },
            }
        ],
        "group_activities": [group(person_id, known_person)],
        "anonymous_services": [anonymous()],
    }


async def _statuses(caller: Caller, batch: dict[str, Any], **kw: Any) -> list[str]:
    r = await caller.post("/v1/sync", batch, **kw)
    assert r.status_code == 200, r.text
    return [x["status"] for x in r.json()["results"]]


class TestMixedBatch:
    async def test_everything_a_device_recorded_in_one_batch(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        known = await make_beneficiary(alice)
        batch = mixed_batch(known["id"])
        before = await _counts(beneficiary_engine)
        r = await alice.post("/v1/sync", batch)
        assert r.status_code == 200, r.text
        results = r.json()["results"]
        assert [(x["entity_type"], x["status"], x["version"]) for x in results] == [
            ("beneficiary", "created", 1),
            ("service_record", "created", 1),
            ("group_activity", "created", 1),
            ("anonymous_service", "created", 1),
        ]
        sent = batch["group_activities"][0]
        read = (await alice.get(f"/v1/group-activities/{sent['id']}")).json()
        assert sorted(read["attendee_ids"]) == sorted(sent["data"]["attendee_ids"])
        assert read["served_total"] == 2 + 5 + 2
        counted = batch["anonymous_services"][0]
        r = await alice.get(f"/v1/anonymous-services/{counted['id']}")
        assert r.json()["total"] == 19
        after = await _counts(beneficiary_engine)
        # a record per attendee and one for the group's anonymous attendees
        assert after["service_record"] - before["service_record"] == 1 + 2
        assert after["anonymous_service"] - before["anonymous_service"] == 2

    async def test_the_same_batch_again_changes_nothing(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        known = await make_beneficiary(alice)
        batch = mixed_batch(known["id"])
        assert await _statuses(alice, batch) == ["created"] * 4
        written = await _counts(beneficiary_engine)
        for headers in ({}, {"Idempotency-Key": "batch-1"}, {"Idempotency-Key": "x"}):
            assert await _statuses(alice, batch, headers=headers) == ["unchanged"] * 4
        # attendees and counts in another order are the same content
        shuffled = {**batch}
        g = batch["group_activities"][0]
        shuffled["group_activities"] = [
            {
                **g,
                "data": {
                    **g["data"],
                    "attendee_ids": g["data"]["attendee_ids"][::-1],
                    "anonymous_attendees": g["data"]["anonymous_attendees"][::-1],
                },
            }
        ]
        assert await _statuses(alice, shuffled) == ["unchanged"] * 4
        assert await _counts(beneficiary_engine) == written

    async def test_the_audit_names_what_the_batch_created_once(
        self, alice: Caller, issue: Any
    ) -> None:
        batch = mixed_batch(str((await make_beneficiary(alice))["id"]))
        await alice.post("/v1/sync", batch)
        await alice.post("/v1/sync", batch)
        auditor = issue(alice.org, Role.auditor)
        for kind in ("group_activities", "anonymous_services"):
            record_id = batch[kind][0]["id"]
            r = await auditor.get("/v1/audit", params={"entity_id": record_id})
            assert r.status_code == 200, r.text
            actions = [(e["action"], e["subject"]) for e in r.json()["items"]]
            assert actions == [("sync", "alice")]


class TestRules:
    async def test_a_site_out_of_scope_is_refused(
        self,
        alice: Caller,
        issue: Any,
        site_ids: list[str],
        beneficiary_engine: AsyncEngine,
    ) -> None:
        here, there = site_ids[:2]
        local = issue(alice.org, Role.case_worker, sites=[here])
        person = await make_beneficiary(local, site_id=here)
        elsewhere = await make_beneficiary(alice, site_id=there)
        before = await _counts(beneficiary_engine)
        r = await local.post(
            "/v1/sync",
            {
                "group_activities": [
                    group(person["id"], site_id=there),
                    group(elsewhere["id"], site_id=here),
                    group(person["id"], site_id=here),
                ],
                "anonymous_services": [anonymous(site_id=there)],
            },
        )
        assert r.status_code == 200, r.text
        results = r.json()["results"]
        assert [x["status"] for x in results] == [
            "rejected",
            "rejected",
            "created",
            "rejected",
        ]
        assert "sites you work at" in results[0]["detail"]
        assert results[1]["errors"][0]["loc"] == ["body", "attendee_ids", 0]
        assert "sites you work at" in results[3]["detail"]
        after = await _counts(beneficiary_engine)
        assert after["group_activity"] == before["group_activity"] + 1
        assert after["anonymous_service"] == before["anonymous_service"] + 1

    async def test_an_attendee_without_consent_to_services_is_refused(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        consenting = await make_beneficiary(alice)
        registered_only = await make_beneficiary(alice, consents=CONSENTS[:1])
        before = await _counts(beneficiary_engine)
        r = await alice.post(
            "/v1/sync",
            {"group_activities": [group(consenting["id"], registered_only["id"])]},
        )
        result = r.json()["results"][0]
        assert result["status"] == "rejected"
        assert registered_only["id"] in result["detail"]
        assert "services" in result["detail"]
        assert await _counts(beneficiary_engine) == before

    async def test_a_person_registered_in_the_batch_without_consent_cannot_attend(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        person_id = str(uuid.uuid4())
        batch = {
            "beneficiaries": [
                {"id": person_id, "data": offline_person(), "consents": CONSENTS[:1]}
            ],
            "group_activities": [group(person_id)],
        }
        assert await _statuses(alice, batch) == ["created", "rejected"]
        assert await count_rows(beneficiary_engine, "group_activity") == 0

    async def test_a_large_count_needs_a_supervisor(
        self, alice: Caller, issue: Any
    ) -> None:
        crowd = anonymous(
            counts=[{"sex": "female", "age_group": "18_plus", "count": 400}]
        )
        r = await alice.post("/v1/sync", {"anonymous_services": [crowd]})
        result = r.json()["results"][0]
        assert result["status"] == "rejected"
        assert "supervisor" in result["detail"]
        supervisor = issue(alice.org, Role.supervisor)
        assert await _statuses(supervisor, {"anonymous_services": [crowd]}) == [
            "created"
        ]

    async def test_an_edit_of_an_unknown_record_is_refused(self, alice: Caller) -> None:
        stray = {**anonymous(), "base_version": 1}
        r = await alice.post("/v1/sync", {"anonymous_services": [stray]})
        assert r.json()["results"][0]["status"] == "rejected"

    async def test_the_batch_limit_counts_every_kind(
        self, beneficiary_app: Any, alice: Caller
    ) -> None:
        settings = beneficiary_app.state.runtime.settings
        saved, settings.sync_batch_limit = settings.sync_batch_limit, 2
        try:
            r = await alice.post(
                "/v1/sync",
                {
                    "group_activities": [group(), group()],
                    "anonymous_services": [anonymous()],
                },
            )
        finally:
            settings.sync_batch_limit = saved
        assert r.status_code == 413


class TestConflicts:
    async def test_other_content_under_a_known_id_is_kept_for_a_supervisor(
        self, alice: Caller, issue: Any, beneficiary_engine: AsyncEngine
    ) -> None:
        person = await make_beneficiary(alice)
        sent = group(person["id"])
        counted = anonymous()
        batch = {"group_activities": [sent], "anonymous_services": [counted]}
        assert await _statuses(alice, batch) == ["created", "created"]
        written = await _counts(beneficiary_engine)
        edited = {
            "device_id": "tablet-5",
            "group_activities": [
                {
                    **sent,
                    "base_version": 1,
                    "data": {**sent["data"], "duration_minutes": 120},
                }
            ],
            "anonymous_services": [
                {
                    **counted,
                    "data": {
                        **counted["data"],
                        "counts": [{"sex": "male", "age_group": "0_17", "count": 70}],
                    },
                }
            ],
        }
        r = await alice.post("/v1/sync", edited)
        first = r.json()["results"]
        assert [x["status"] for x in first] == ["conflict", "conflict"]
        assert first[0]["server_copy"]["duration_minutes"] == 90
        assert first[0]["version"] == 1
        assert "recorded once" in first[0]["detail"]
        assert first[1]["server_copy"]["total"] == 19
        again = (await alice.post("/v1/sync", edited)).json()["results"]
        assert [x["conflict_id"] for x in again] == [x["conflict_id"] for x in first]
        after = await _counts(beneficiary_engine)
        assert after["sync_conflict"] == written["sync_conflict"] + 2
        for table in ("group_activity", "anonymous_service", "outbox_event"):
            assert after[table] == written[table], table
        read = (await alice.get(f"/v1/group-activities/{sent['id']}")).json()
        assert read["duration_minutes"] == 90

        supervisor = issue(alice.org, Role.supervisor)
        listed = (await supervisor.get("/v1/sync/conflicts")).json()["items"]
        kept = {c["entity_type"]: c for c in listed}
        assert kept["group_activity"]["client_version"]["duration_minutes"] == 120
        assert kept["group_activity"]["device_id"] == "tablet-5"
        assert kept["anonymous_service"]["client_version"]["counts"][0]["count"] == 70
        path = f"/v1/sync/conflicts/{first[0]['conflict_id']}/resolve"
        refused = await supervisor.post(path, {"resolution": "apply_client"})
        assert refused.status_code == 409
        kept_server = await supervisor.post(path, {"resolution": "keep_server"})
        assert kept_server.status_code == 200, kept_server.text
        assert kept_server.json()["status"] == "resolved"

    async def test_a_version_other_than_the_servers_is_a_conflict(
        self, alice: Caller
    ) -> None:
        counted = anonymous()
        await alice.post("/v1/sync", {"anonymous_services": [counted]})
        future = {**counted, "base_version": 2, "data": {**counted["data"]}}
        future["data"]["staff_id"] = "staff-9"
        result = (
            await alice.post("/v1/sync", {"anonymous_services": [future]})
        ).json()["results"][0]
        assert result["status"] == "conflict"
        assert "since your version 2" in result["detail"]

    async def test_an_old_batch_never_brings_a_voided_attendance_back(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        stays, leaves = await make_beneficiary(alice), await make_beneficiary(alice)
        sent = group(stays["id"], leaves["id"])
        batch = {"group_activities": [sent]}
        assert await _statuses(alice, batch) == ["created"]
        records = (
            await alice.get(
                "/v1/service-records", params={"beneficiary_id": leaves["id"]}
            )
        ).json()["items"]
        voided = await alice.post(
            f"/v1/service-records/{records[0]['id']}/void",
            {"reason": "did not attend"},
        )
        assert voided.status_code == 200, voided.text
        written = await _counts(beneficiary_engine)
        assert await _statuses(alice, batch) == ["unchanged"]
        assert await _counts(beneficiary_engine) == written
        read = (await alice.get(f"/v1/group-activities/{sent['id']}")).json()
        assert read["attendee_ids"] == [stays["id"]]
        record = await alice.get(f"/v1/service-records/{records[0]['id']}")
        assert record.json()["voided"] is True

    async def test_withdrawn_consent_after_the_batch_changes_nothing_on_replay(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        person = await make_beneficiary(alice)
        batch = {"group_activities": [group(person["id"])]}
        assert await _statuses(alice, batch) == ["created"]
        r = await alice.post(
            f"/v1/beneficiaries/{person['id']}/consents",
            [{"purpose": "services", "granted": False, "form_version": "2024-1"}],
        )
        assert r.status_code == 201, r.text
        written = await _counts(beneficiary_engine)
        assert await _statuses(alice, batch) == ["unchanged"]
        assert await _counts(beneficiary_engine) == written


async def test_a_team_member_replays_records_their_team_was_given(
    alice: Caller, issue: Any, beneficiary_engine: AsyncEngine
) -> None:
    """A team-scoped user's records are their team's though the device sent
    no team: the same batch again is unchanged, not a conflict."""
    manager = issue(alice.org, Role.programme_manager)
    team = await manager.post("/v1/teams", {"name": "Mobile 2", "kind": "mobile"})
    assert team.status_code == 201, team.text
    member = issue(alice.org, Role.case_worker, team=team.json()["id"])
    person = await make_beneficiary(member)
    batch = {
        "service_records": [
            {
                "id": str(uuid.uuid4()),
                "data": {
                    "beneficiary_id": person["id"],
                    "activity_code": "pfa",
                    "service_date": "2026-02-03",
                },
            }
        ],
        "group_activities": [group(person["id"])],
        "anonymous_services": [anonymous()],
    }
    assert await _statuses(member, batch) == ["created"] * 3
    counted = await member.get(
        f"/v1/anonymous-services/{batch['anonymous_services'][0]['id']}"
    )
    assert counted.json()["team_id"] == team.json()["id"]
    written = await _counts(beneficiary_engine)
    assert await _statuses(member, batch) == ["unchanged"] * 3
    assert await _counts(beneficiary_engine) == written


async def test_a_synced_group_session_moves_its_attendees_enrolments_once(
    alice: Caller, beneficiary_engine: AsyncEngine
) -> None:
    """A group activity synced with ``protocol_session`` keeps it and counts
    that session on each attendee's running Group IPT enrolment, as
    ``POST /v1/group-activities`` does; the batch sent again, or the same
    session synced as another group, counts nothing more; a session no
    protocol holds is rejected with nothing written."""
    people = [await make_beneficiary(alice) for _ in range(2)]
    outsider = await make_beneficiary(alice)  # attends, not enrolled
    enrolments = [await enrol(alice, person, "ipt_group") for person in people]
    attendees = [p["id"] for p in (*people, outsider)]
    sent = group(*attendees, protocol_session=1, activity_date="2026-02-09")
    batch = {"device_id": "tablet-7", "group_activities": [sent]}
    assert await _statuses(alice, batch) == ["created"]
    read = (await alice.get(f"/v1/group-activities/{sent['id']}")).json()
    assert read["protocol_session"] == 1

    async def attended() -> list[list[int]]:
        found = []
        for enrolment in enrolments:
            r = await alice.get(f"/v1/enrolments/{enrolment['id']}")
            assert r.status_code == 200, r.text
            found.append(r.json()["sessions_attended"])
        return found

    assert await attended() == [[1], [1]]
    rows = await count_rows(beneficiary_engine, "session_attendance")
    assert rows == 2

    assert await _statuses(alice, batch) == ["unchanged"]
    again = {
        "device_id": "tablet-8",
        "group_activities": [
            group(*attendees, protocol_session=1, activity_date="2026-02-09")
        ],
    }
    assert await _statuses(alice, again) == ["created"]  # the same session twice
    assert await attended() == [[1], [1]]
    assert await count_rows(beneficiary_engine, "session_attendance") == rows
    second = {
        "device_id": "tablet-7",
        "group_activities": [
            group(*attendees, protocol_session=2, activity_date="2026-02-16")
        ],
    }
    assert await _statuses(alice, second) == ["created"]
    assert await attended() == [[1, 2], [1, 2]]

    before = await _counts(beneficiary_engine)
    wrong = {
        "device_id": "tablet-7",
        "group_activities": [
            group(*attendees, protocol_session=0, activity_date="2026-02-23")
        ],
    }
    r = await alice.post("/v1/sync", wrong)
    assert r.status_code == 200, r.text
    [result] = r.json()["results"]
    assert result["status"] == "rejected", result
    assert "protocol_session" in str(result)
    assert await _counts(beneficiary_engine) == before
    assert await attended() == [[1, 2], [1, 2]]
