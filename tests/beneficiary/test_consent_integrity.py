"""Consent and erasure integrity, through the API on PostgreSQL: an old or
repeated request never undoes a newer decision (least of all a person's no),
withdrawing registration is an erasure with an erasure's roles, reason and
audit entry, an erased person gets nothing new, and a break-glass grant
cannot move a person into the holder's own sites."""

from __future__ import annotations

import asyncio
import copy
import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.auth import Role
from tests.beneficiary.api import (
    AGREEMENTS,
    CONSENTS,
    SHARING,
    alerts,
    break_glass,
    count_rows,
    give_consent,
    intake,
    make_agreement,
    make_beneficiary,
    offline_batch,
    offline_person,
    person_with_case,
    positive_item_9,
)
from tests.callers import Caller

WITHDRAW_SHARING = {**SHARING, "granted": False}
WITHDRAW_REGISTRATION = {**CONSENTS[0], "granted": False}
WHY = {"X-Access-Reason": "written request received on 2026-03-01"}


@pytest.fixture
def sam(issue: Any, alice: Caller) -> Caller:
    """A supervisor of org A."""
    return issue(alice.org, Role.supervisor, subject="sam")  # type: ignore[no-any-return]


@pytest.fixture
def omar(issue: Any, alice: Caller) -> Caller:
    """An outreach worker of org A."""
    return issue(alice.org, Role.outreach_worker, subject="omar")  # type: ignore[no-any-return]


def registered_offline() -> dict[str, Any]:
    batch = offline_batch()
    batch["beneficiaries"][0]["consents"] = [*CONSENTS, SHARING]
    batch["service_records"] = []
    return batch


async def synced(caller: Caller) -> tuple[dict[str, Any], dict[str, Any]]:
    """A batch that registered a person sharing their data, and that person."""
    batch = registered_offline()
    r = await caller.post("/v1/sync", batch)
    assert r.json()["results"][0]["status"] == "created", r.text
    return batch, batch["beneficiaries"][0]


async def synced_then_withdrawn(
    caller: Caller,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The same, after the person withdrew data sharing at the office."""
    batch, person = await synced(caller)
    r = await caller.post(
        f"/v1/beneficiaries/{person['id']}/consents", [WITHDRAW_SHARING]
    )
    assert r.status_code == 201, r.text
    return batch, person


async def in_force(caller: Caller, person_id: str) -> dict[str, bool]:
    r = await caller.get(f"/v1/beneficiaries/{person_id}")
    assert r.status_code == 200, r.text
    return {p: e["granted"] for p, e in r.json()["consents"].items()}


async def shared_names(manager: Caller) -> list[str]:
    agreement = await make_agreement(manager)
    r = await manager.post(f"{AGREEMENTS}/{agreement['id']}/exports")
    assert r.status_code == 200, r.text
    return [record["full_name"] for record in r.json()["records"]]


async def audit_actions(caller: Caller, issue: Any, person_id: str) -> list[str]:
    auditor = issue(caller.org, Role.auditor)
    r = await auditor.get("/v1/audit", params={"entity_id": person_id})
    assert r.status_code == 200, r.text
    return [entry["action"] for entry in r.json()["items"]]


class TestReplayedSync:
    async def test_a_resent_batch_never_grants_again_what_was_withdrawn(
        self, alice: Caller, sam: Caller, issue: Any
    ) -> None:
        batch, person = await synced_then_withdrawn(alice)

        results = []
        for _ in range(2):
            again = await alice.post("/v1/sync", batch)
            assert again.status_code == 200, again.text
            results.append(again.json()["results"][0])
        assert [r["status"] for r in results] == ["conflict", "conflict"]
        assert results[0]["conflict_id"] == results[1]["conflict_id"]
        assert results[0]["server_copy"]["consents"]["data_sharing"]["granted"] is False
        assert (await in_force(alice, person["id"]))["data_sharing"] is False
        manager = issue(alice.org, Role.programme_manager)
        assert person["data"]["full_name"] not in await shared_names(manager)

        [conflict] = (await sam.get("/v1/sync/conflicts")).json()["items"]
        assert conflict["entity_type"] == "consent"
        assert conflict["entity_id"] == person["id"]
        assert conflict["client_version"]["consents"][0]["purpose"] == "data_sharing"

    async def test_a_grant_on_the_ledger_the_device_saw_is_recorded(
        self, alice: Caller
    ) -> None:
        batch, person = await synced_then_withdrawn(alice)
        seen = (await alice.get(f"/v1/beneficiaries/{person['id']}")).json()
        # the person agrees again, in the field, after the device pulled the withdrawal
        change = {
            **copy.deepcopy(person),
            "consents": [*CONSENTS, {**SHARING, "form_version": "2026-2"}],
            "consent_version": seen["consent_version"],
        }
        r = await alice.post("/v1/sync", {"beneficiaries": [change]})
        assert r.json()["results"][0]["status"] == "updated", r.text
        assert (await in_force(alice, person["id"]))["data_sharing"] is True

    async def test_a_withdrawal_made_offline_wins_over_a_newer_grant(
        self, alice: Caller
    ) -> None:
        _, person = await synced(alice)
        await alice.post(
            f"/v1/beneficiaries/{person['id']}/consents",
            [{**SHARING, "form_version": "2026-2"}],
        )
        change = {**person, "consents": [*CONSENTS, WITHDRAW_SHARING]}
        r = await alice.post("/v1/sync", {"beneficiaries": [change]})
        assert r.json()["results"][0]["status"] == "updated", r.text
        assert (await in_force(alice, person["id"]))["data_sharing"] is False

    async def test_a_supervisor_records_a_stale_grant_once_confirmed(
        self, alice: Caller, sam: Caller
    ) -> None:
        batch, person = await synced_then_withdrawn(alice)
        result = (await alice.post("/v1/sync", batch)).json()["results"][0]
        r = await sam.post(
            f"/v1/sync/conflicts/{result['conflict_id']}/resolve",
            {"resolution": "apply_client"},
        )
        assert r.status_code == 200, r.text
        assert (await in_force(alice, person["id"]))["data_sharing"] is True


class TestWithdrawingRegistrationIsAnErasure:
    async def test_an_outreach_worker_cannot_erase_through_consents(
        self, omar: Caller, issue: Any
    ) -> None:
        person = await make_beneficiary(omar, full_name="Rasha Kept")
        r = await omar.post(
            f"/v1/beneficiaries/{person['id']}/consents",
            [WITHDRAW_REGISTRATION],
            headers=WHY,
        )
        assert r.status_code == 403, r.text
        assert r.headers["content-type"] == "application/problem+json"
        kept = await omar.get(f"/v1/beneficiaries/{person['id']}")
        assert kept.json()["full_name"] == "Rasha Kept"
        assert "erase" not in await audit_actions(omar, issue, person["id"])

    async def test_an_outreach_workers_offline_withdrawal_waits_for_a_supervisor(
        self, omar: Caller, sam: Caller, issue: Any
    ) -> None:
        _, person = await synced(omar)
        change = {**person, "consents": [WITHDRAW_REGISTRATION]}
        result = (await omar.post("/v1/sync", {"beneficiaries": [change]})).json()[
            "results"
        ][0]
        assert result["status"] == "conflict", result
        kept = await omar.get(f"/v1/beneficiaries/{person['id']}")
        assert kept.json()["full_name"] == person["data"]["full_name"]

        path = f"/v1/sync/conflicts/{result['conflict_id']}/resolve"
        no_reason = await sam.post(path, {"resolution": "apply_client"})
        assert no_reason.status_code == 422, no_reason.text
        r = await sam.post(path, {"resolution": "apply_client"}, headers=WHY)
        assert r.status_code == 200, r.text
        erased = await sam.get(f"/v1/beneficiaries/{person['id']}")
        assert erased.json()["pii_erased"] is True
        assert "erase" in await audit_actions(sam, issue, person["id"])

    async def test_a_supervisor_erases_with_a_reason_and_the_audit_says_erase(
        self, sam: Caller, issue: Any
    ) -> None:
        person = await make_beneficiary(sam, full_name="Zina Gone")
        path = f"/v1/beneficiaries/{person['id']}/consents"
        no_reason = await sam.post(path, [WITHDRAW_REGISTRATION])
        assert no_reason.status_code == 422, no_reason.text
        assert (await sam.get(f"/v1/beneficiaries/{person['id']}")).json()[
            "full_name"
        ] == "Zina Gone"
        r = await sam.post(path, [WITHDRAW_REGISTRATION], headers=WHY)
        assert r.status_code == 201, r.text
        assert [(e["purpose"], e["granted"]) for e in r.json()] == [
            ("registration", False)
        ]
        assert (await sam.get(f"/v1/beneficiaries/{person['id']}")).json()[
            "pii_erased"
        ] is True
        assert "erase" in await audit_actions(sam, issue, person["id"])

    async def test_a_supervisor_erases_offline_with_a_reason(
        self, sam: Caller, issue: Any
    ) -> None:
        _, person = await synced(sam)
        change = {**person, "consents": [WITHDRAW_REGISTRATION]}
        r = await sam.post("/v1/sync", {"beneficiaries": [change]}, headers=WHY)
        assert r.json()["results"][0]["status"] == "updated", r.text
        assert "erase" in await audit_actions(sam, issue, person["id"])

    async def test_a_reason_holding_the_persons_code_is_refused(
        self, sam: Caller
    ) -> None:
        person = await make_beneficiary(sam)
        r = await sam.post(
            f"/v1/beneficiaries/{person['id']}/erasure",
            headers={"X-Access-Reason": f"request about {person['code'].lower()}"},
        )
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["msg"] == "identifies"


class TestAnErasedPersonGetsNothingNew:
    async def test_no_consent_and_no_service_after_erasure(
        self, alice: Caller, sam: Caller, beneficiary_engine: Any
    ) -> None:
        person = await make_beneficiary(sam)
        r = await sam.post(f"/v1/beneficiaries/{person['id']}/erasure", headers=WHY)
        assert r.status_code == 200, r.text
        ledger = await count_rows(beneficiary_engine, "consent_entry")
        regrant = await give_consent(alice, person["id"], *CONSENTS)
        assert regrant.status_code == 409, regrant.text
        assert await count_rows(beneficiary_engine, "consent_entry") == ledger
        service = await alice.post(
            "/v1/service-records",
            {
                "beneficiary_id": person["id"],
                "activity_code": "pfa",
                "service_date": "2026-02-20",
            },
        )
        assert service.status_code == 409, service.text
        assert await count_rows(beneficiary_engine, "service_record") == 0


class TestBreakGlassCannotMoveThePerson:
    async def test_a_grant_holder_cannot_move_the_person_to_their_site(
        self, alice: Caller, issue: Any, site_ids: list[str]
    ) -> None:
        here, there = site_ids[0], site_ids[1]
        person, case_id = await person_with_case(alice, there)
        lina = issue(alice.org, Role.case_worker, subject="lina", sites=[here])
        assert (await break_glass(lina, person["id"])).status_code == 201
        current = (await lina.get(f"/v1/beneficiaries/{person['id']}")).json()
        moved = await lina.patch(
            f"/v1/beneficiaries/{person['id']}",
            {"site_id": here},
            headers={"If-Match": f'"{current["version"]}"'},
        )
        assert moved.status_code == 403, moved.text
        change = {
            "id": person["id"],
            "base_version": current["version"],
            "data": offline_person(
                full_name="Hana Yousef", phone="+964 750 123 4567", site_id=here
            ),
        }
        synced = await lina.post("/v1/sync", {"beneficiaries": [change]})
        assert synced.json()["results"][0]["status"] == "rejected", synced.text
        stayed = (await alice.get(f"/v1/beneficiaries/{person['id']}")).json()
        assert stayed["site_id"] == there
        assert (await alice.get(f"/v1/cases/{case_id}")).json()["site_id"] == there


class TestRiskAlertsAreAcknowledgedBySupervisors:
    async def test_a_case_worker_cannot_close_a_suicide_risk_alert(
        self, alice: Caller, sam: Caller
    ) -> None:
        await positive_item_9(alice)
        [alert] = await alerts(alice)
        path = f"/v1/risk-alerts/{alert['id']}/acknowledge"
        r = await alice.post(path, {"action_taken": "Seen."})
        assert r.status_code == 403, r.text
        assert [a["id"] for a in await alerts(alice)] == [alert["id"]]
        r = await sam.post(path, {"action_taken": "Called her; safety plan reviewed."})
        assert r.status_code == 200, r.text


def awareness(*cells: tuple[str, str, str, int]) -> dict[str, Any]:
    return {
        "activity_code": "awareness_session",
        "service_date": "2026-02-10",
        "counts": [
            {"sex": sex, "age_group": age, "disability": disability, "count": n}
            for sex, age, disability, n in cells
        ],
    }


class TestAnonymousCountsAreBounded:
    async def test_a_request_cannot_add_millions_of_people(
        self, sam: Caller, beneficiary_engine: Any
    ) -> None:
        huge = awareness(("female", "adult", "no", 100_000))
        assert (await sam.post("/v1/anonymous-services", huge)).status_code == 422
        many = awareness(
            *[
                (sex, age, disability, 5_000)
                for sex in ("female", "male")
                for age in ("adult", "under_18")
                for disability in ("no", "yes")
            ]
        )
        r = await sam.post("/v1/anonymous-services", many)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert await count_rows(beneficiary_engine, "anonymous_service") == 0

    @pytest.mark.parametrize("path", ["/v1/anonymous-services", "/v1/group-activities"])
    async def test_a_large_count_needs_a_supervisor(
        self, alice: Caller, sam: Caller, beneficiary_engine: Any, path: str
    ) -> None:
        body = awareness(("female", "adult", "no", 250), ("male", "adult", "no", 251))
        if path == "/v1/group-activities":
            body = {
                "activity_code": "peer_support_group",
                "activity_date": "2026-02-10",
                "anonymous_attendees": body["counts"],
            }
        refused = await alice.post(path, body)
        assert refused.status_code == 403, refused.text
        assert "supervisor" in refused.json()["detail"]
        assert await count_rows(beneficiary_engine, "anonymous_service") == 0
        confirmed = await sam.post(path, body)
        assert confirmed.status_code == 201, confirmed.text


class TestAStaleOnlineFormNeverGrantsAgain:
    async def test_a_grant_sent_on_an_old_ledger_version_is_a_409(
        self, alice: Caller, beneficiary_engine: Any
    ) -> None:
        person = await make_beneficiary(alice, consents=[*CONSENTS, SHARING])
        path = f"/v1/beneficiaries/{person['id']}/consents"
        seen = (await alice.get(path)).headers["etag"]
        assert seen == f'"{person["consent_version"]}"'
        r = await alice.post(path, [WITHDRAW_SHARING], headers={"If-Match": seen})
        assert r.status_code == 201, r.text
        entries = await count_rows(beneficiary_engine, "consent_entry")
        # the form filled before the withdrawal is sent again
        stale = {**SHARING, "form_version": "2026-2"}
        r = await alice.post(path, [stale], headers={"If-Match": seen})
        assert r.status_code == 409, r.text
        assert r.json()["current"]["consents"]["data_sharing"]["granted"] is False
        assert await count_rows(beneficiary_engine, "consent_entry") == entries
        current = (await alice.get(path)).headers["etag"]
        r = await alice.post(path, [stale], headers={"If-Match": current})
        assert r.status_code == 201, r.text


class TestConsentLedgerEdges:
    async def test_a_consent_version_that_never_was_grants_nothing(
        self, alice: Caller
    ) -> None:
        _, person = await synced_then_withdrawn(alice)
        path = f"/v1/beneficiaries/{person['id']}/consents"
        real = (await alice.get(f"/v1/beneficiaries/{person['id']}")).json()
        replay = {**person, "consent_version": real["consent_version"] + 1000}
        r = await alice.post("/v1/sync", {"beneficiaries": [replay]})
        assert r.json()["results"][0]["status"] == "conflict", r.text
        online = await alice.post(
            path,
            [{**SHARING, "form_version": "2026-2"}],
            headers={"If-Match": '"999999999"'},
        )
        assert online.status_code == 409, online.text
        assert (await in_force(alice, person["id"]))["data_sharing"] is False

    async def test_a_grant_without_the_ledger_version_is_428(
        self, alice: Caller
    ) -> None:
        person = await make_beneficiary(alice)
        path = f"/v1/beneficiaries/{person['id']}/consents"
        assert (await give_consent(alice, person["id"], SHARING)).status_code == 201
        assert (await alice.post(path, [WITHDRAW_SHARING])).status_code == 201
        again = await alice.post(path, [SHARING])  # the same form, retried
        assert again.status_code == 428, again.text
        assert (await in_force(alice, person["id"]))["data_sharing"] is False

    async def test_an_old_consent_conflict_cannot_undo_a_newer_withdrawal(
        self, alice: Caller, sam: Caller
    ) -> None:
        batch, person = await synced_then_withdrawn(alice)
        path = f"/v1/beneficiaries/{person['id']}/consents"
        result = (await alice.post("/v1/sync", batch)).json()["results"][0]
        await give_consent(alice, person["id"], {**SHARING, "form_version": "2026-2"})
        await alice.post(path, [{**WITHDRAW_SHARING, "form_version": "2026-3"}])
        r = await sam.post(
            f"/v1/sync/conflicts/{result['conflict_id']}/resolve",
            {"resolution": "apply_client"},
        )
        assert r.status_code == 409, r.text
        assert (await in_force(alice, person["id"]))["data_sharing"] is False

    async def test_one_entry_per_purpose_so_no_withdrawal_skips_the_checks(
        self, sam: Caller
    ) -> None:
        person = await make_beneficiary(sam, full_name="Zina Gone")
        named = {"X-Access-Reason": "Zina Gone asked in person on 2026-03-01"}
        twice = await sam.post(
            f"/v1/beneficiaries/{person['id']}/consents",
            [WITHDRAW_REGISTRATION, {**WITHDRAW_REGISTRATION, "form_version": "x"}],
            headers=named,
        )
        assert twice.status_code == 422, twice.text
        alone = await sam.post(
            f"/v1/beneficiaries/{person['id']}/consents",
            [WITHDRAW_REGISTRATION],
            headers=named,
        )
        assert alone.status_code == 422, alone.text
        assert (await sam.get(f"/v1/beneficiaries/{person['id']}")).json()[
            "full_name"
        ] == "Zina Gone"

    async def test_a_withdrawal_cannot_reuse_the_id_of_the_grant(
        self, alice: Caller, sam: Caller
    ) -> None:
        person = await make_beneficiary(sam)
        path = f"/v1/beneficiaries/{person['id']}/consents"
        ledger = (await sam.get(path)).json()["items"]
        grant_id = next(e["id"] for e in ledger if e["purpose"] == "registration")
        r = await sam.post(
            path, [{**WITHDRAW_REGISTRATION, "id": grant_id}], headers=WHY
        )
        assert r.status_code == 409, r.text
        assert (await sam.get(f"/v1/beneficiaries/{person['id']}")).json()[
            "pii_erased"
        ] is False

    async def test_an_erased_persons_open_case_takes_no_new_text(
        self, alice: Caller, sam: Caller
    ) -> None:
        person = await make_beneficiary(alice, full_name="Hana Yousef")
        case = await alice.post("/v1/cases", intake(person["id"]))
        case_id = case.json()["id"]
        erased = await sam.post(
            f"/v1/beneficiaries/{person['id']}/erasure", headers=WHY
        )
        assert erased.status_code == 200, erased.text
        plan = await alice.client.put(
            f"/v1/cases/{case_id}/plan",
            json={"goals": ["Hana Yousef to sleep through the night"]},
            headers=alice.headers(),
        )
        assert plan.status_code == 409, plan.text
        follow_up = await alice.post(
            f"/v1/cases/{case_id}/follow-ups",
            {"on": "2026-02-01", "notes": "Hana called"},
        )
        assert follow_up.status_code == 409, follow_up.text


async def test_a_withdrawal_committed_while_a_record_waits_for_the_person_stops_it(
    alice: Caller, beneficiary_engine: AsyncEngine
) -> None:
    """A service record waiting for the person's lock behind a withdrawal
    reads the ledger after the withdrawal committed: a statement that waits
    for a row lock sees only that row again, so the ledger must be read by
    a statement of its own once the lock is held."""
    person = await make_beneficiary(alice)
    async with beneficiary_engine.connect() as holder:
        await holder.execute(
            text("SELECT id FROM beneficiary WHERE id = :id FOR UPDATE"),
            {"id": uuid.UUID(person["id"])},
        )
        withdrawal = asyncio.create_task(
            alice.post(
                f"/v1/beneficiaries/{person['id']}/consents",
                [{"purpose": "services", "granted": False, "form_version": "2024-1"}],
            )
        )
        await asyncio.sleep(0.5)  # the withdrawal waits for the lock first
        record = asyncio.create_task(
            alice.post(
                "/v1/service-records",
                {
                    "beneficiary_id": person["id"],
                    "activity_code": "pfa",
                    "service_date": "2026-02-02",
                },
            )
        )
        await asyncio.sleep(0.5)  # and the record behind it
        await holder.rollback()
    withdrawn, recorded = await withdrawal, await record
    assert withdrawn.status_code == 201, withdrawn.text
    assert recorded.status_code == 409, recorded.text
    assert recorded.json()["type"].endswith("consent-missing")
