"""Break-the-glass and access review, through the API on PostgreSQL, a real
arq worker on Redis and a real local webhook receiver: a site-scoped worker
opens one person's file with a reason for a while, every access says so in
the audit log, the data protection focal point gets a signed notice with no
PII, and an auditor sees who read what, when and why."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.beneficiary.protection.notices.jobs import redeliver_protection_notices
from shared.auth import Role
from tests.beneficiary.alerts import Receiver, run_worker, serving
from tests.beneficiary.api import (
    BREAK_GLASS_REASON,
    FOCAL_POINT_SECRET,
    assess,
    break_glass,
    count_rows,
    focal_point,
    make_beneficiary,
    person_with_case,
    phq9,
)
from tests.callers import Caller


async def audit(auditor: Caller, **params: Any) -> list[dict[str, Any]]:
    """Every entry matching, page after page (two at a time)."""
    entries: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
        r = await auditor.get("/v1/audit", params=query)
        assert r.status_code == 200, r.text
        entries += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return entries


async def test_a_grant_opens_one_persons_file_for_a_while_and_tells_the_focal_point(
    beneficiary_app: FastAPI, alice: Caller, issue: Any, site_ids: list[str]
) -> None:
    here, there = site_ids[0], site_ids[1]
    person, case_id = await person_with_case(alice, there)
    neighbour, _ = await person_with_case(alice, there)
    lina = issue(alice.org, Role.case_worker, subject="lina", sites=[here])
    pid = person["id"]
    assert (await lina.get(f"/v1/beneficiaries/{pid}")).status_code == 404
    assert (await lina.get(f"/v1/cases/{case_id}")).status_code == 404
    assert (await lina.get("/v1/cases", params={"beneficiary_id": pid})).json()[
        "items"
    ] == []

    receiver = Receiver()
    async with serving(receiver) as url:
        with focal_point(beneficiary_app, url):
            r = await break_glass(lina, pid)
            assert r.status_code == 201, r.text
            grant = r.json()
            assert (grant["subject"], grant["reason"]) == ("lina", BREAK_GLASS_REASON)
            assert grant["active"] is True
            await run_worker(beneficiary_app)

    why = {"X-Access-Reason": "crisis visit"}
    r = await lina.get(f"/v1/beneficiaries/{pid}", headers=why)
    assert r.status_code == 200, r.text
    assert r.json()["full_name"] == "Hana Yousef"
    listed = await lina.get("/v1/cases", params={"beneficiary_id": pid})
    assert [c["id"] for c in listed.json()["items"]] == [case_id]
    assert (await lina.get(f"/v1/cases/{case_id}")).status_code == 200
    assessed = await assess(lina, case_id, "phq9", phq9(1, 1, 1, 1, 1, 1, 1, 1, 0))
    assert assessed.status_code == 201, assessed.text
    edited = await lina.patch(
        f"/v1/beneficiaries/{pid}",
        {"marital_status": "widowed"},
        headers={"If-Match": f'"{r.json()["version"]}"'},
    )
    assert edited.status_code == 200, edited.text
    # one person, not their site: the neighbour stays closed, lists stay local
    assert (await lina.get(f"/v1/beneficiaries/{neighbour['id']}")).status_code == 404
    everyone = (await lina.get("/v1/beneficiaries")).json()["items"]
    assert pid not in [b["id"] for b in everyone]

    [(headers, body)] = receiver.calls
    expected = hmac.new(
        FOCAL_POINT_SECRET.encode(),
        headers["x-mhpss-timestamp"].encode() + b"." + body,
        hashlib.sha256,
    ).hexdigest()
    assert headers["x-mhpss-signature"] == f"sha256={expected}"
    payload = json.loads(body)
    assert payload["kind"] == "break_glass"
    assert (payload["entity_id"], payload["subject"]) == (pid, "lina")
    assert payload["detail"]["grant_id"] == grant["id"]
    assert payload["detail"]["site_id"] == there
    # the phone as written and as digits ("750" alone turns up in random ids)
    for secret in ("Hana", "Yousef", "750 123", "7501234567", "crisis", person["code"]):
        assert secret not in body.decode()

    auditor = issue(alice.org, Role.auditor)
    notices = (await auditor.get("/v1/protection-notices")).json()["items"]
    assert [(n["kind"], n["delivery"], n["attempts"]) for n in notices] == [
        ("break_glass", "delivered", 1)
    ]

    entries = await audit(auditor, beneficiary_id=pid)
    by_lina = [e for e in entries if e["subject"] == "lina"]
    assert {(e["action"], e["entity_type"]) for e in by_lina} == {
        ("break_glass", "beneficiary"),
        ("read", "beneficiary"),
        ("list", "case"),
        ("read", "case"),
        ("assessment", "case"),
        ("update", "beneficiary"),
    }
    assert all(e["break_glass"] for e in by_lina)
    assert all(
        e["reason"].startswith(f"break-glass: {BREAK_GLASS_REASON}") for e in by_lina
    )
    [read] = [e for e in by_lina if e["action"] == "read" and e["entity_id"] == pid]
    assert read["reason"] == f"break-glass: {BREAK_GLASS_REASON} | crisis visit"
    by_alice = [e for e in entries if e["subject"] == "alice"]
    assert by_alice
    assert not any(e["break_glass"] for e in by_alice)

    sam = issue(alice.org, Role.supervisor, subject="sam", sites=[there])
    ended = await sam.post(f"/v1/break-glass/{grant['id']}/revoke")
    assert ended.status_code == 200, ended.text
    assert ended.json()["active"] is False
    assert (await lina.get(f"/v1/beneficiaries/{pid}")).status_code == 404
    assert (await lina.get(f"/v1/cases/{case_id}")).status_code == 404
    assert (await lina.get("/v1/cases", params={"beneficiary_id": pid})).json()[
        "items"
    ] == []
    again = await sam.post(f"/v1/break-glass/{grant['id']}/revoke")
    assert again.status_code == 409
    revoked = await audit(auditor, beneficiary_id=pid, action="revoke_break_glass")
    assert [e["subject"] for e in revoked] == ["sam"]


async def test_an_expired_grant_opens_nothing(
    alice: Caller, issue: Any, site_ids: list[str], beneficiary_engine: AsyncEngine
) -> None:
    person, case_id = await person_with_case(alice, site_ids[1])
    lina = issue(alice.org, Role.case_worker, subject="lina", sites=[site_ids[0]])
    grant = (await break_glass(lina, person["id"], minutes=1)).json()
    assert (await lina.get(f"/v1/cases/{case_id}")).status_code == 200
    async with beneficiary_engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE access_grant SET expires_at = now() - interval '1 second' "
                "WHERE id = :id"
            ),
            {"id": grant["id"]},
        )
    assert (await lina.get(f"/v1/beneficiaries/{person['id']}")).status_code == 404
    assert (await lina.get(f"/v1/cases/{case_id}")).status_code == 404
    manager = issue(alice.org, Role.programme_manager)
    active = (await manager.get("/v1/break-glass", params={"active": True})).json()
    ended = (await manager.get("/v1/break-glass", params={"active": False})).json()
    assert active["items"] == []
    assert [(g["id"], g["active"]) for g in ended["items"]] == [(grant["id"], False)]
    late = await lina.post(f"/v1/break-glass/{grant['id']}/revoke")
    assert late.status_code == 409


async def test_no_reason_no_grant_and_nothing_written(
    beneficiary_app: FastAPI,
    alice: Caller,
    issue: Any,
    site_ids: list[str],
    beneficiary_engine: AsyncEngine,
) -> None:
    person, _ = await person_with_case(alice, site_ids[1])
    lina = issue(alice.org, Role.case_worker, subject="lina", sites=[site_ids[0]])
    longest = beneficiary_app.state.runtime.settings.break_glass_max_minutes
    bad = [
        {"beneficiary_id": person["id"], "minutes": 30},
        {"beneficiary_id": person["id"], "minutes": 30, "reason": "   urgent   "},
        {"beneficiary_id": person["id"], "reason": BREAK_GLASS_REASON},
        {"beneficiary_id": person["id"], "reason": BREAK_GLASS_REASON, "minutes": 0},
        {
            "beneficiary_id": person["id"],
            "reason": BREAK_GLASS_REASON,
            "minutes": longest + 1,
        },
    ]
    for body in bad:
        r = await lina.post("/v1/break-glass", body)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    forged = await lina.get(
        f"/v1/beneficiaries/{person['id']}",
        headers={"X-Access-Reason": "Break-glass: trust me"},
    )
    assert forged.status_code == 422
    assert await count_rows(beneficiary_engine, "access_grant") == 0
    assert await count_rows(beneficiary_engine, "protection_notice") == 0
    async with beneficiary_engine.connect() as conn:
        lina_rows = await conn.scalar(
            text("SELECT count(*) FROM audit_entry WHERE subject = 'lina'")
        )
    assert lina_rows == 0
    assert (await lina.get(f"/v1/beneficiaries/{person['id']}")).status_code == 404


async def test_another_organisations_person_is_a_404_like_nobody(
    alice: Caller,
    bob: Caller,
    issue: Any,
    site_ids: list[str],
    beneficiary_engine: AsyncEngine,
) -> None:
    theirs = await make_beneficiary(bob, site_id=site_ids[1])
    lina = issue(alice.org, Role.case_worker, subject="lina", sites=[site_ids[0]])
    foreign = await break_glass(lina, theirs["id"])
    nobody = await break_glass(lina, str(uuid.uuid4()))
    assert foreign.status_code == nobody.status_code == 404
    assert foreign.json()["detail"] == nobody.json()["detail"]
    assert await count_rows(beneficiary_engine, "access_grant") == 0
    assert await count_rows(beneficiary_engine, "protection_notice") == 0
    assert (await lina.get(f"/v1/beneficiaries/{theirs['id']}")).status_code == 404


async def test_no_grant_for_someone_you_can_see_already(
    alice: Caller, issue: Any, site_ids: list[str], beneficiary_engine: AsyncEngine
) -> None:
    local_person, _ = await person_with_case(alice, site_ids[0])
    lina = issue(alice.org, Role.case_worker, subject="lina", sites=[site_ids[0]])
    assert (await break_glass(alice, local_person["id"])).status_code == 409
    assert (await break_glass(lina, local_person["id"])).status_code == 409
    assert await count_rows(beneficiary_engine, "access_grant") == 0


async def test_only_the_holder_or_a_supervisor_ends_a_grant(
    alice: Caller, issue: Any, site_ids: list[str], bob: Caller
) -> None:
    person, _ = await person_with_case(alice, site_ids[1])
    lina = issue(alice.org, Role.case_worker, subject="lina", sites=[site_ids[0]])
    grant = (await break_glass(lina, person["id"])).json()
    colleague = issue(alice.org, Role.case_worker, subject="omar")
    r = await colleague.post(f"/v1/break-glass/{grant['id']}/revoke")
    assert r.status_code == 403
    other_org = issue(bob.org, Role.programme_manager)
    r = await other_org.post(f"/v1/break-glass/{grant['id']}/revoke")
    assert r.status_code == 404
    r = await lina.post(f"/v1/break-glass/{grant['id']}/revoke")
    assert r.status_code == 200, r.text
    assert r.json()["revoked_at"] is not None
    assert (await lina.get(f"/v1/beneficiaries/{person['id']}")).status_code == 404


async def test_an_auditor_sees_who_read_a_case_when_and_why(
    alice: Caller, issue: Any, bob: Caller, site_ids: list[str]
) -> None:
    person, case_id = await person_with_case(alice, site_ids[0])
    sam = issue(alice.org, Role.supervisor, subject="sam")
    await alice.get(f"/v1/cases/{case_id}", headers={"X-Access-Reason": "follow-up"})
    await sam.get(
        f"/v1/cases/{case_id}/assessments", headers={"X-Access-Reason": "supervision"}
    )
    await sam.get(f"/v1/beneficiaries/{person['id']}")
    bob_person = await make_beneficiary(bob)
    await bob.get(f"/v1/beneficiaries/{bob_person['id']}")
    auditor = issue(alice.org, Role.auditor, subject="ada")

    entries = await audit(auditor, beneficiary_id=person["id"])
    whole_file = [(e["subject"], e["action"], e["reason"]) for e in entries]
    assert ("alice", "read", "follow-up") in whole_file
    assert ("sam", "read_assessments", "supervision") in whole_file
    assert ("sam", "read", None) in whole_file
    assert ("alice", "create", None) in whole_file
    assert not any(e["break_glass"] for e in entries)
    at = [e["at"] for e in entries]
    assert at == sorted(at, reverse=True)
    assert len({e["id"] for e in entries}) == len(entries)

    only_case = await audit(auditor, entity_id=case_id, subject="sam")
    assert [e["action"] for e in only_case] == ["read_assessments"]
    reads = await audit(auditor, beneficiary_id=person["id"], action="read")
    assert {e["subject"] for e in reads} == {"alice", "sam"}
    since = reads[-1]["at"]
    later = await audit(auditor, beneficiary_id=person["id"], since=since)
    assert reads[-1]["id"] in [e["id"] for e in later]
    before = await audit(auditor, beneficiary_id=person["id"], until=since)
    assert reads[-1]["id"] not in [e["id"] for e in before]
    assert await audit(auditor, entity_id=bob_person["id"]) == []
    assert await audit(auditor, beneficiary_id=person["id"], break_glass=True) == []

    reviews = await audit(auditor, subject="ada", action="read_audit")
    assert person["id"] in {e["entity_id"] for e in reviews}
    assert (await alice.get("/v1/audit")).status_code == 403
    manager = issue(alice.org, Role.programme_manager)
    assert (await manager.get("/v1/audit")).status_code == 403
    assert (await alice.get("/v1/protection-notices")).status_code == 403
    assert (await alice.get("/v1/break-glass")).status_code == 403


async def test_a_dead_receiver_dead_letters_the_notice_which_stays_visible(
    beneficiary_app: FastAPI, alice: Caller, issue: Any, site_ids: list[str]
) -> None:
    person, _ = await person_with_case(alice, site_ids[1])
    lina = issue(alice.org, Role.case_worker, subject="lina", sites=[site_ids[0]])
    receiver = Receiver(failures=100)
    async with serving(receiver) as url:
        with focal_point(beneficiary_app, url, attempts=3):
            assert (await break_glass(lina, person["id"])).status_code == 201
            await run_worker(beneficiary_app)
    assert [json.loads(body)["attempt"] for _, body in receiver.calls] == [1, 2, 3]
    manager = issue(alice.org, Role.programme_manager)
    r = await manager.get("/v1/protection-notices", params={"delivery": "dead_letter"})
    [notice] = r.json()["items"]
    assert (notice["attempts"], notice["last_error"]) == (3, "HTTP 503")
    assert notice["entity_id"] == person["id"]
    # the grant itself stands: the notice failing does not undo the access
    assert (await lina.get(f"/v1/beneficiaries/{person['id']}")).status_code == 200


async def test_a_receiver_failing_twice_gets_the_notice_on_the_third_try(
    beneficiary_app: FastAPI, alice: Caller, issue: Any, site_ids: list[str]
) -> None:
    person, _ = await person_with_case(alice, site_ids[1])
    lina = issue(alice.org, Role.case_worker, subject="lina", sites=[site_ids[0]])
    receiver = Receiver(failures=2)
    async with serving(receiver) as url:
        with focal_point(beneficiary_app, url):
            await break_glass(lina, person["id"])
            await run_worker(beneficiary_app)
    assert len(receiver.calls) == 3
    auditor = issue(alice.org, Role.auditor)
    [notice] = (await auditor.get("/v1/protection-notices")).json()["items"]
    assert (notice["delivery"], notice["attempts"]) == ("delivered", 3)


async def test_a_notice_waits_for_a_webhook_and_goes_once_one_is_set(
    beneficiary_app: FastAPI, alice: Caller, issue: Any, site_ids: list[str]
) -> None:
    person, _ = await person_with_case(alice, site_ids[1])
    lina = issue(alice.org, Role.case_worker, subject="lina", sites=[site_ids[0]])
    auditor = issue(alice.org, Role.auditor)
    with focal_point(beneficiary_app, None):
        await break_glass(lina, person["id"])
        await run_worker(beneficiary_app)
    [notice] = (await auditor.get("/v1/protection-notices")).json()["items"]
    assert notice["delivery"] == "not_configured"
    receiver = Receiver()
    async with serving(receiver) as url:
        with focal_point(beneficiary_app, url):
            ctx = {"runtime": beneficiary_app.state.runtime}
            assert await redeliver_protection_notices(ctx) == 1
            await run_worker(beneficiary_app)
    assert len(receiver.calls) == 1
    [notice] = (await auditor.get("/v1/protection-notices")).json()["items"]
    assert notice["delivery"] == "delivered"


async def test_a_read_of_the_log_names_only_what_the_reader_can_see(
    alice: Caller, issue: Any, site_ids: list[str], beneficiary_engine: AsyncEngine
) -> None:
    """Review issue 12, finding 2: filters are recorded only when the reader
    could see them; otherwise the row names the organisation."""
    here, there = site_ids[0], site_ids[1]
    person = (await make_beneficiary(alice, site_id=there))["id"]
    local = issue(alice.org, Role.auditor, sites=[here], subject="local-auditor")
    wide = issue(alice.org, Role.auditor, subject="wide-auditor")
    assert (await local.get("/v1/audit", params={"beneficiary_id": person})).json()[
        "items"
    ] == []
    assert await audit(wide, beneficiary_id=person)
    async with beneficiary_engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT subject, entity_id FROM audit_entry WHERE action = 'read_audit'"
                " AND subject IN ('local-auditor', 'wide-auditor')"
            )
        )
        named = {(s, str(e)) for s, e in rows.all()}
    assert named == {("local-auditor", alice.org.id), ("wide-auditor", person)}


async def test_a_site_scoped_auditor_sees_entries_about_their_sites_only(
    alice: Caller, issue: Any, site_ids: list[str]
) -> None:
    """Review issue 12, finding 3."""
    here, there = site_ids[0], site_ids[1]
    near = (await make_beneficiary(alice, site_id=here))["id"]
    far = (await make_beneficiary(alice, site_id=there))["id"]
    local = issue(alice.org, Role.auditor, sites=[here])
    seen = {e["entity_id"] for e in await audit(local)}
    assert near in seen
    assert far not in seen
    assert await audit(local, beneficiary_id=far) == []
    wide = {e["entity_id"] for e in await audit(issue(alice.org, Role.auditor))}
    assert {near, far} <= wide


async def test_site_scoped_oversight_sees_only_its_sites(
    alice: Caller, issue: Any, site_ids: list[str]
) -> None:
    """Review issue 12, finding 3: grants and notices about people at other
    sites are hidden from a site-scoped manager, who cannot end them either."""
    here, there = site_ids[0], site_ids[1]
    far, _ = await person_with_case(alice, there)
    lina = issue(alice.org, Role.case_worker, subject="lina", sites=[here])
    far_grant = (await break_glass(lina, far["id"])).json()
    near, _ = await person_with_case(alice, here)
    omar = issue(alice.org, Role.case_worker, subject="omar", sites=[there])
    near_grant = (await break_glass(omar, near["id"])).json()

    local = issue(alice.org, Role.programme_manager, subject="pat", sites=[here])
    grants = (await local.get("/v1/break-glass")).json()["items"]
    assert [g["id"] for g in grants] == [near_grant["id"]]
    notices = (await local.get("/v1/protection-notices")).json()["items"]
    assert [n["entity_id"] for n in notices] == [near["id"]]
    r = await local.post(f"/v1/break-glass/{far_grant['id']}/revoke")
    assert r.status_code == 404
    mine = (await lina.get("/v1/break-glass")).status_code
    assert mine == 403  # a case worker does not review grants
    wide = issue(alice.org, Role.programme_manager)
    assert len((await wide.get("/v1/break-glass")).json()["items"]) == 2
    assert len((await wide.get("/v1/protection-notices")).json()["items"]) == 2
    r = await lina.post(f"/v1/break-glass/{far_grant['id']}/revoke")
    assert r.status_code == 200, r.text  # the holder still ends their own
