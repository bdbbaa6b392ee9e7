"""Duplicate review and merge, through the HTTP API on PostgreSQL: a
supervisor lists the pairs registration flagged and merges one record into
the other. Every service and consent of both is kept, a withdrawal on either
record wins, the merge is audited, acts once per Idempotency-Key, needs the
kept person's current version, and reporting counts the person once."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from shared.auth import Role
from shared.idempotency import REPLAYED_HEADER
from tests.beneficiary.api import give_consent, make_beneficiary, record_service
from tests.callers import Caller, Org
from tests.reporting.helpers import values

TWIN = {"full_name": "Zainab Hassan Ali", "date_of_birth": "1988-06-12"}
REFERRAL = {"purpose": "referral", "granted": True, "form_version": "2024-1"}


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def in_force(caller: Caller, person: str) -> dict[str, bool]:
    read = await ok(await caller.get(f"/v1/beneficiaries/{person}"))
    return {purpose: e["granted"] for purpose, e in read["consents"].items()}


async def records_of(caller: Caller, person: str) -> set[str]:
    page = await ok(
        await caller.get("/v1/service-records", params={"beneficiary_id": person})
    )
    return {r["id"] for r in page["items"]}


async def count(app: FastAPI, sql: str) -> int:
    async with app.state.engine.connect() as conn:
        return int((await conn.execute(text(sql))).scalar_one())


async def twins(alice: Caller) -> tuple[dict[str, Any], dict[str, Any]]:
    """The same woman registered twice (same name and birth date): the
    second registration is flagged as a candidate of the first."""
    first = await make_beneficiary(alice, **TWIN)
    second = await make_beneficiary(alice, **TWIN)
    assert second["possible_duplicates"] == [first["id"]]
    return first, second


async def test_a_merge_keeps_everything_and_reporting_counts_the_person_once(
    beneficiary_app: FastAPI,
    alice: Caller,
    issue: Any,
    orgs: dict[str, Org],
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    kept, duplicate = await twins(alice)
    kept_records = {(await record_service(alice, kept["id"]))["id"] for _ in range(2)}
    moved = (await record_service(alice, duplicate["id"]))["id"]
    # the kept record: referral granted, then withdrawn
    await ok(await give_consent(alice, kept["id"], REFERRAL), 201)
    await ok(await give_consent(alice, kept["id"], {**REFERRAL, "granted": False}), 201)
    # the duplicate: referral granted later (a grant never beats a
    # withdrawal), and services withdrawn after its one service
    await ok(await give_consent(alice, duplicate["id"], REFERRAL), 201)
    await ok(
        await give_consent(
            alice,
            duplicate["id"],
            {"purpose": "services", "granted": False, "form_version": "2024-1"},
        ),
        201,
    )
    await catch_up()
    reader = issue(orgs["a"], Role.me_officer)
    services = await values(reporting_client, reader, "services_delivered")
    people = await values(reporting_client, reader, "people_reached")
    assert services["total"]["value"] == 3
    assert people["total"]["value"] == 2

    supervisor = issue(orgs["a"], Role.supervisor, subject="samira")
    pairs = await ok(await supervisor.get("/v1/duplicates"))
    [pair] = [p for p in pairs["items"] if p["beneficiary_id"] == duplicate["id"]]
    assert pair["candidate_id"] == kept["id"]
    assert pair["reasons"] == "same_name_close_birth_year"

    path = f"/v1/beneficiaries/{kept['id']}/merge"
    body = {"duplicate_id": duplicate["id"]}
    headers = {"Idempotency-Key": f"merge-{uuid.uuid4()}", "If-Match": '"1"'}
    merged = await supervisor.post(path, body, headers=headers)
    read = await ok(merged)
    assert merged.headers["ETag"] == '"2"'
    assert read["version"] == 2
    assert read["possible_duplicates"] == []

    # every service of both, under the person kept
    assert await records_of(alice, kept["id"]) == kept_records | {moved}
    assert await records_of(alice, duplicate["id"]) == set()
    moved_read = await ok(await alice.get(f"/v1/service-records/{moved}"))
    assert moved_read["beneficiary_id"] == kept["id"]
    assert moved_read["version"] == 2  # an edit made on the old copy is stale
    # withdrawals win, whichever record and however old
    assert await in_force(alice, kept["id"]) == {
        "registration": True,
        "services": False,
        "referral": False,
    }
    refused = await alice.post(
        "/v1/service-records",
        {
            "beneficiary_id": kept["id"],
            "activity_code": "pfa",
            "service_date": "2026-02-02",
        },
    )
    assert refused.status_code == 409, refused.text  # services withdrawn

    # the duplicate stays, points at the person kept, takes no new write
    gone = await ok(await alice.get(f"/v1/beneficiaries/{duplicate['id']}"))
    assert gone["merged_into_id"] == kept["id"]
    listed = await ok(await alice.get("/v1/beneficiaries", params={"limit": 200}))
    assert duplicate["id"] not in {p["id"] for p in listed["items"]}
    edit = await alice.patch(
        f"/v1/beneficiaries/{duplicate['id']}",
        {"marital_status": "single"},
        headers={"If-Match": f'"{gone["version"]}"'},
    )
    assert edit.status_code == 409, edit.text
    assert edit.json()["current"] == {"merged_into_id": kept["id"]}
    assert (await ok(await supervisor.get("/v1/duplicates")))["items"] == []

    # audited, as one act over both records
    auditor = issue(orgs["a"], Role.auditor)
    for person in (kept["id"], duplicate["id"]):
        log = await ok(await auditor.get("/v1/audit", params={"entity_id": person}))
        assert [e["subject"] for e in log["items"] if e["action"] == "merge"] == [
            "samira"
        ]

    # once per key; a stale or unversioned request changes nothing
    writes = await count(beneficiary_app, "SELECT count(*) FROM outbox_event")
    again = await supervisor.post(path, body, headers=headers)
    assert again.headers[REPLAYED_HEADER] == "true"
    assert again.json() == read
    stale = await supervisor.post(
        path, body, headers={**headers, "Idempotency-Key": f"m-{uuid.uuid4()}"}
    )
    assert stale.status_code == 409, stale.text  # version 1 is gone, and so is
    # the duplicate: either is named in ``current``
    assert stale.json()["current"].get("version", 2) == 2
    missing = await supervisor.post(path, body)
    assert missing.status_code == 428, missing.text
    assert await count(beneficiary_app, "SELECT count(*) FROM outbox_event") == writes

    # reporting: the person once, every service still counted
    await catch_up()
    after = await values(reporting_client, reader, "services_delivered")
    reached = await values(reporting_client, reader, "people_reached")
    assert after["total"]["value"] == services["total"]["value"]
    assert reached["total"]["value"] == people["total"]["value"] - 1


async def test_a_withdrawal_on_the_kept_record_is_not_undone_by_the_duplicate(
    alice: Caller, issue: Any, orgs: dict[str, Org]
) -> None:
    """The kept person withdrew consent to services after the duplicate was
    registered with it granted: the merge carries no grant over it."""
    kept, duplicate = await twins(alice)
    await ok(
        await give_consent(
            alice,
            kept["id"],
            {"purpose": "services", "granted": False, "form_version": "2024-1"},
        ),
        201,
    )
    supervisor = issue(orgs["a"], Role.supervisor)
    current = await ok(await alice.get(f"/v1/beneficiaries/{kept['id']}"))
    await ok(
        await supervisor.post(
            f"/v1/beneficiaries/{kept['id']}/merge",
            {"duplicate_id": duplicate["id"]},
            headers={"If-Match": f'"{current["version"]}"'},
        )
    )
    assert (await in_force(alice, kept["id"]))["services"] is False


async def test_a_grant_only_the_duplicate_held_is_kept(
    alice: Caller, issue: Any, orgs: dict[str, Org]
) -> None:
    kept, duplicate = await twins(alice)
    await ok(await give_consent(alice, duplicate["id"], REFERRAL), 201)
    supervisor = issue(orgs["a"], Role.programme_manager)
    await ok(
        await supervisor.post(
            f"/v1/beneficiaries/{kept['id']}/merge",
            {"duplicate_id": duplicate["id"]},
            headers={"If-Match": '"1"'},
        )
    )
    assert (await in_force(alice, kept["id"]))["referral"] is True

    # a device still holding the old record: her no follows her, a grant
    # does not (it goes to the person kept, on their current ledger)
    path = f"/v1/beneficiaries/{duplicate['id']}/consents"
    withdrawn = await alice.post(path, [{**REFERRAL, "granted": False}])
    assert withdrawn.status_code == 201, withdrawn.text
    assert (await in_force(alice, kept["id"]))["referral"] is False
    granted = await alice.post(path, [REFERRAL], headers={"If-Match": '"9"'})
    assert granted.status_code == 409, granted.text
    assert granted.json()["current"] == {"merged_into_id": kept["id"]}
    assert (await in_force(alice, kept["id"]))["referral"] is False


async def test_who_may_merge_and_what_is_refused(
    beneficiary_app: FastAPI,
    alice: Caller,
    bob: Caller,
    issue: Any,
    orgs: dict[str, Org],
    site_ids: list[str],
) -> None:
    """Case workers may not merge; a supervisor limited to one site cannot
    reach a person at another (404), another organisation's supervisor
    neither; a person is not merged into themselves, and a merged record is
    not merged again. Nothing is written by any refusal."""
    here = await make_beneficiary(alice, site_id=site_ids[0], **TWIN)
    there = await make_beneficiary(alice, site_id=site_ids[1], **TWIN)
    before = await count(beneficiary_app, "SELECT count(*) FROM outbox_event")
    path = f"/v1/beneficiaries/{here['id']}/merge"
    body = {"duplicate_id": there["id"]}
    match = {"If-Match": '"1"'}
    assert (await alice.post(path, body, headers=match)).status_code == 403
    assert (await alice.get("/v1/duplicates")).status_code == 403
    local = issue(orgs["a"], Role.supervisor, sites=[site_ids[0]])
    assert (await local.post(path, body, headers=match)).status_code == 404
    assert (await ok(await local.get("/v1/duplicates")))["items"] == []
    foreign = issue(orgs["b"], Role.supervisor)
    assert (await foreign.post(path, body, headers=match)).status_code == 404
    assert (await ok(await foreign.get("/v1/duplicates")))["items"] == []
    supervisor = issue(orgs["a"], Role.supervisor)
    itself = await supervisor.post(path, {"duplicate_id": here["id"]}, headers=match)
    assert itself.status_code == 422, itself.text
    assert await count(beneficiary_app, "SELECT count(*) FROM outbox_event") == before

    await ok(await supervisor.post(path, body, headers=match))
    again = await supervisor.post(
        f"/v1/beneficiaries/{there['id']}/merge",
        {"duplicate_id": here["id"]},
        headers={"If-Match": '"2"'},
    )
    assert again.status_code == 409, again.text
    assert again.json()["current"] == {"merged_into_id": here["id"]}
