"""Training side of consent and access integrity: an old or repeated
attendance request never undoes a newer one; erasing a client or a trainee
erases the free text linked to them (found in the security review of issue 12)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from services.beneficiary.outbox.jobs import publish_outbox as publish_beneficiary
from services.training.practice.jobs import pull_beneficiary_erasures
from services.training.settings import TrainingSettings
from shared.auth import Role
from shared.taxonomy.fidelity import checklists
from tests.beneficiary.api import make_beneficiary
from tests.callers import Caller, Org
from tests.training.api import cohort_of_trainees, token, trainee


async def test_a_stale_or_repeated_attendance_write_never_undoes_a_newer_one(
    training_client: httpx.AsyncClient, training_settings: TrainingSettings
) -> None:
    headers, cohort, people = await cohort_of_trainees(
        training_client, training_settings, 2
    )
    path = f"/v1/cohorts/{cohort['id']}"
    r = await training_client.post(
        f"{path}/enrolments", json={"trainee_ids": people}, headers=headers
    )
    assert r.status_code == 200, r.text
    r = await training_client.post(
        f"{path}/sessions",
        json={"number": 1, "held_on": "2026-03-01", "hours": 6},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    attendance = f"{path}/sessions/1/attendance"
    first = {"present": people}
    r = await training_client.put(attendance, json=first, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == '"1"'
    r = await training_client.put(
        attendance,
        json={"present": people[:1]},
        headers={**headers, "If-Match": r.headers["ETag"]},
    )
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == '"2"'

    replayed = await training_client.put(attendance, json=first, headers=headers)
    assert replayed.status_code == 428, replayed.text
    assert replayed.headers["content-type"].startswith("application/problem+json")
    stale = await training_client.put(
        attendance, json=first, headers={**headers, "If-Match": '"1"'}
    )
    assert stale.status_code == 409, stale.text
    assert stale.json()["current"] == {"present": people[:1], "version": 2}

    r = await training_client.get(attendance, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == '"2"'
    assert r.json() == {"present": people[:1], "version": 2}
    progress = await training_client.get(f"{path}/progress", headers=headers)
    attended = {
        p["trainee_id"]: p["sessions_attended"] for p in progress.json()["items"]
    }
    assert attended == {people[0]: 1, people[1]: 0}

    unchanged = await training_client.put(
        attendance, json={"present": people[:1]}, headers={**headers, "If-Match": '"2"'}
    )
    assert unchanged.status_code == 200, unchanged.text
    assert unchanged.headers["ETag"] == '"2"'  # nothing changed, same version


REASON = {"X-Access-Reason": "written request received 2026-03-01, ref DP-7"}


async def practice_group(
    training_client: httpx.AsyncClient,
    headers: dict[str, str],
    facilitators: list[str],
    clients: list[str],
) -> str:
    """A group with two recorded sessions, each reviewed with feedback."""
    r = await training_client.post(
        "/v1/practice-groups",
        json={
            "name": "Tuesday group",
            "facilitator_trainee_ids": facilitators,
            "client_ids": clients,
            "started_on": "2026-03-01",
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    group: str = r.json()["id"]
    items = [i.id for i in checklists()["ipt_g_fidelity@1.0"].items]
    for number, attendees in ((0, clients), (1, clients[1:])):
        r = await training_client.post(
            f"/v1/practice-groups/{group}/sessions",
            json={
                "number": number,
                "phase": "initial",
                "held_on": f"2026-03-0{number + 2}",
                "attended_client_ids": attendees,
                "recording_ref": f"recordings/ali-hassan-and-rasha-{number}.mp3",
            },
            headers=headers,
        )
        assert r.status_code == 201, r.text
        r = await training_client.post(
            f"/v1/practice-groups/{group}/sessions/{number}/fidelity-reviews",
            json={
                "reviewed_on": "2026-03-09",
                "ratings": dict.fromkeys(items, 2),
                "feedback": "Ali spoke first; Rasha kept to the manual.",
            },
            headers=headers,
        )
        assert r.status_code == 201, r.text
    return group


async def free_text(app: FastAPI, group: str) -> list[tuple[Any, ...]]:
    """Each session's recording reference and its reviews' feedback."""
    async with app.state.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT s.recording_ref, r.feedback_enc FROM practice_session s "
                "JOIN fidelity_review r ON r.session_id = s.id "
                "WHERE s.group_id = :group ORDER BY s.number"
            ),
            {"group": uuid.UUID(group)},
        )
        return [tuple(row) for row in rows]


async def recorded_sessions(
    training_client: httpx.AsyncClient, headers: dict[str, str]
) -> Any:
    r = await training_client.get("/v1/training-summary", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["recorded_sessions"]


async def test_an_erased_client_leaves_no_free_text_in_practice_groups(
    linked_training: FastAPI,
    beneficiary_app: FastAPI,
    alice: Caller,
    issue: Any,
    orgs: dict[str, Org],
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
) -> None:
    """Training never holds a client's name, so it cannot check free text
    for it: what was written about a group's sessions goes with any client."""
    org = uuid.UUID(orgs["a"].id)
    headers = token(training_settings, org, Role.trainer, Role.supervisor)
    r = await training_client.post("/v1/trainees", json=trainee(), headers=headers)
    facilitator = r.json()["id"]
    clients = [(await make_beneficiary(alice))["id"] for _ in range(2)]
    group = await practice_group(training_client, headers, [facilitator], clients)
    other = await practice_group(training_client, headers, [facilitator], clients[1:])
    recorded = await recorded_sessions(training_client, headers)

    manager = issue(orgs["a"], Role.programme_manager)
    r = await manager.post(
        f"/v1/beneficiaries/{clients[0]}/erasure", None, headers=REASON
    )
    assert r.status_code == 200, r.text
    await publish_beneficiary({"runtime": beneficiary_app.state.runtime})
    await pull_beneficiary_erasures({"runtime": linked_training.state.runtime})

    assert await free_text(linked_training, group) == [("", None), ("", None)]
    assert all(
        ref and feedback for ref, feedback in await free_text(linked_training, other)
    )
    assert await recorded_sessions(training_client, headers) == recorded


async def test_an_erased_trainee_leaves_no_free_text_linked_to_them(
    linked_training: FastAPI,
    alice: Caller,
    orgs: dict[str, Org],
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
) -> None:
    """Notes of every supervision they were in, and what was written about
    the sessions of groups they facilitated, go; whether the text names
    them is not checked (a nickname or a misspelt name would pass)."""
    org = uuid.UUID(orgs["a"].id)
    headers = token(training_settings, org, Role.trainer, Role.supervisor)
    trainees = [
        (
            await training_client.post(
                "/v1/trainees",
                json=trainee(full_name=f"Rasha Ahmed {i}"),
                headers=headers,
            )
        ).json()["id"]
        for i in range(2)
    ]
    rasha, other = trainees
    notes = {}
    for key, supervisees in (("with", trainees), ("without", [other])):
        r = await training_client.post(
            "/v1/supervision-sessions",
            json={
                "kind": "group" if len(supervisees) > 1 else "individual",
                "mode": "virtual",
                "held_on": "2026-02-02",
                "duration_minutes": 60,
                "supervisee_trainee_ids": supervisees,
                "notes": "Our newest counsellor from Zakho struggled today.",
            },
            headers=headers,
        )
        assert r.status_code == 201, r.text
        notes[key] = r.json()["id"]
    client = (await make_beneficiary(alice))["id"]
    facilitated = await practice_group(training_client, headers, trainees, [client])
    not_facilitated = await practice_group(training_client, headers, [other], [client])

    manager = token(training_settings, org, Role.programme_manager)
    r = await training_client.post(
        f"/v1/trainees/{rasha}/erasure", headers=manager | REASON
    )
    assert r.status_code == 200, r.text

    async with linked_training.state.engine.connect() as conn:
        kept = dict(
            (
                await conn.execute(
                    text("SELECT id, notes_enc IS NOT NULL FROM supervision_session")
                )
            ).all()
        )
    assert kept == {uuid.UUID(notes["with"]): False, uuid.UUID(notes["without"]): True}
    assert await free_text(linked_training, facilitated) == [("", None), ("", None)]
    assert all(
        ref and feedback
        for ref, feedback in await free_text(linked_training, not_facilitated)
    )


async def test_another_organisations_supervision_id_is_a_free_id(
    training_client: httpx.AsyncClient, training_settings: TrainingSettings
) -> None:
    """A client-chosen id is unique per organisation (decision 0006):
    reusing another organisation's records one's own session, never a 409
    that tells theirs exists, a 500 or their row."""
    sent = {
        "id": str(uuid.uuid4()),
        "kind": "individual",
        "mode": "phone",
        "held_on": "2026-02-02",
        "duration_minutes": 30,
    }
    supervisees = []
    for org in (uuid.uuid4(), uuid.uuid4()):
        headers = token(training_settings, org, Role.trainer, Role.supervisor)
        r = await training_client.post("/v1/trainees", json=trainee(), headers=headers)
        supervisees.append(r.json()["id"])
        r = await training_client.post(
            "/v1/supervision-sessions",
            json={**sent, "supervisee_trainee_ids": [supervisees[-1]]},
            headers=headers,
        )
        assert r.status_code == 201, r.text
        assert r.json()["supervisee_trainee_ids"] == [supervisees[-1]]
