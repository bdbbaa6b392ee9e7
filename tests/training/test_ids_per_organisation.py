"""Client-chosen training ids are unique per organisation (decision 0006):
an id another organisation holds answers exactly like a free one, each
organisation reads and changes only its own record under it, and a repeat
inside one organisation behaves as it always did."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from services.training.settings import TrainingSettings
from shared.auth import Role
from tests.beneficiary.api import make_beneficiary
from tests.beneficiary.test_ids_per_organisation import _shape
from tests.callers import Caller
from tests.training.api import FIDELITY_ITEMS, SHA, ratings, token, trainee

State = dict[str, Any]
"""What a kind made for one organisation (its parents' ids, bodies sent)."""


@dataclass
class Org:
    """One organisation's training client: its token and a beneficiary caller
    (practice groups' clients are its beneficiaries)."""

    client: httpx.AsyncClient
    headers: dict[str, str]
    caller: Caller
    state: State = field(default_factory=dict)

    async def post(self, path: str, body: Any, **headers: str) -> httpx.Response:
        return await self.client.post(
            path, json=body, headers={**self.headers, **headers}
        )

    async def get(self, path: str) -> Any:
        r = await self.client.get(path, headers=self.headers)
        return r.json() if r.status_code == 200 else None

    async def among(self, path: str, record_id: str) -> Any:
        rows = await self.get(path)
        assert rows is not None
        return next((row for row in rows["items"] if row["id"] == record_id), None)


@dataclass(frozen=True)
class Kind:
    """One create route that takes a client id, and how to read and change
    what it made."""

    name: str
    create: Callable[[Org, str], Awaitable[httpx.Response]]
    read: Callable[[Org, str], Awaitable[Any]]
    change: Callable[[Org, str], Awaitable[httpx.Response]] | None
    repeat: int
    """The status of the same organisation sending the same id again."""
    made: Callable[[Any], Any] = lambda body: body
    """The record in the create route's answer."""


async def _trainee(org: Org) -> str:
    if "trainee" not in org.state:
        r = await org.post("/v1/trainees", trainee())
        assert r.status_code == 201, r.text
        org.state["trainee"] = r.json()["id"]
    return str(org.state["trainee"])


async def _cohort(org: Org) -> str:
    if "cohort" not in org.state:
        r = await create_cohort(org, str(uuid.uuid4()))
        assert r.status_code == 201, r.text
        org.state["cohort"] = r.json()["id"]
    return str(org.state["cohort"])


async def _group(org: Org) -> str:
    if "group" not in org.state:
        r = await create_group(org, str(uuid.uuid4()))
        assert r.status_code == 201, r.text
        org.state["group"] = r.json()["id"]
        assert (await record_session(org, org.state["group"])).status_code == 201
    return str(org.state["group"])


async def _plan(org: Org) -> str:
    if "plan" not in org.state:
        r = await create_plan(org, str(uuid.uuid4()))
        assert r.status_code == 201, r.text
        org.state["plan"] = r.json()["id"]
    return str(org.state["plan"])


async def _again(org: Org, path: str, body: dict[str, Any]) -> httpx.Response:
    """Send a body, keeping it to read the record back by a repeat (the
    routes without a read of their own answer a repeat with the first)."""
    org.state[f"{path} {body['id']}"] = body
    return await org.post(path, body)


async def _replayed(org: Org, path: str, record_id: str) -> Any:
    r = await org.post(path, org.state[f"{path} {record_id}"])
    return r.json() if r.status_code == 201 else None


async def create_trainee(org: Org, id: str) -> httpx.Response:
    return await org.post("/v1/trainees", trainee(id=id))


async def create_cohort(org: Org, id: str) -> httpx.Response:
    if "course" not in org.state:
        course = await org.post(
            "/v1/courses",
            {
                "title": "IPT-G foundations",
                "approach": "ipt_g",
                "level": "foundational",
                "planned_hours": 60,
            },
        )
        assert course.status_code == 201, course.text
        org.state["course"] = course.json()["id"]
    return await org.post(
        "/v1/cohorts",
        {
            "id": id,
            "course_id": org.state["course"],
            "title": "Duhok cohort",
            "starts_on": "2026-03-01",
            "ends_on": "2026-03-10",
            "modality": "in_person",
        },
    )


async def create_assessment(org: Org, id: str) -> httpx.Response:
    return await _again(
        org,
        "/v1/competency-assessments",
        {
            "id": id,
            "trainee_id": await _trainee(org),
            "cohort_id": await _cohort(org),
            "tool": "helping_skills_core@1.0",
            "mode": "role_play",
            "context": "post",
            "assessed_on": "2026-03-05",
            "ratings": ratings(3),
        },
    )


async def create_supervision(org: Org, id: str) -> httpx.Response:
    return await org.post(
        "/v1/supervision-sessions",
        {
            "id": id,
            "kind": "individual",
            "mode": "in_person",
            "held_on": "2026-04-03",
            "duration_minutes": 60,
            "supervisee_trainee_ids": [await _trainee(org)],
        },
    )


async def create_group(org: Org, id: str) -> httpx.Response:
    if "client" not in org.state:
        org.state["client"] = (await make_beneficiary(org.caller))["id"]
    return await org.post(
        "/v1/practice-groups",
        {
            "id": id,
            "name": "Group 1",
            "cohort_id": await _cohort(org),
            "facilitator_trainee_ids": [await _trainee(org)],
            "client_ids": [org.state["client"]],
            "started_on": "2026-04-01",
        },
    )


async def record_session(org: Org, group_id: str) -> httpx.Response:
    return await org.post(
        f"/v1/practice-groups/{group_id}/sessions",
        {
            "number": 1,
            "phase": "initial",
            "held_on": "2026-04-08",
            "attended_client_ids": [org.state["client"]],
            "recording_ref": "s3://rec/1.mp3",
            "recording_sha256": SHA,
        },
    )


def _reviews(org: Org) -> str:
    return f"/v1/practice-groups/{org.state['group']}/sessions/1/fidelity-reviews"


async def create_review(org: Org, id: str) -> httpx.Response:
    await _group(org)
    return await _again(
        org,
        _reviews(org),
        {
            "id": id,
            "reviewed_on": "2026-04-10",
            "ratings": dict.fromkeys(FIDELITY_ITEMS, 2),
            "feedback": "Good structure",
        },
    )


async def create_plan(org: Org, id: str) -> httpx.Response:
    return await org.post(
        "/v1/mentoring-plans",
        {
            "id": id,
            "mentored_organisation_id": str(uuid.uuid4()),
            "capacity_tool": "oca_mhpss@1.0",
            "starts_on": "2026-02-01",
            "ends_on": "2026-04-30",
            "goals": [{"code": "sop", "capacity_domain": "mhpss_technical"}],
        },
    )


def _visit(id: str | None = None, point: str | None = None) -> dict[str, Any]:
    return {
        "id": id or str(uuid.uuid4()),
        "held_on": "2026-02-10",
        "mode": "in_person",
        "duration_minutes": 90,
        "participants": 2,
        "topics": ["referral_pathways"],
        "action_points": [
            {
                "id": point or str(uuid.uuid4()),
                "description": "Adopt the SOP",
                "owner": "Coordinator",
                "due_on": "2026-02-24",
            }
        ],
    }


async def create_visit(org: Org, id: str) -> httpx.Response:
    return await org.post(f"/v1/mentoring-plans/{await _plan(org)}/visits", _visit(id))


async def create_point(org: Org, id: str) -> httpx.Response:
    """A new visit each time, with the action point under the id."""
    path = f"/v1/mentoring-plans/{await _plan(org)}/visits"
    return await org.post(path, _visit(point=id))


async def read_plan(org: Org, id: str) -> Any:
    progress = await org.get(f"/v1/mentoring-plans/{id}")
    return progress and progress["plan"]


async def read_point(org: Org, id: str) -> Any:
    visits = await org.get(f"/v1/mentoring-plans/{org.state['plan']}/visits")
    points = [p for v in visits["items"] for p in v["action_points"]]
    return next((p for p in points if p["id"] == id), None)


KINDS = [
    Kind(
        "trainee",
        create_trainee,
        lambda o, i: o.get(f"/v1/trainees/{i}"),
        lambda o, i: o.client.patch(
            f"/v1/trainees/{i}",
            json={"role": "senior counsellor"},
            headers={**o.headers, "If-Match": '"1"'},
        ),
        409,
    ),
    Kind(
        "cohort",
        create_cohort,
        lambda o, i: o.get(f"/v1/cohorts/{i}"),
        lambda o, i: o.post(
            f"/v1/cohorts/{i}/sessions",
            {"number": 1, "held_on": "2026-03-02", "hours": 6},
        ),
        409,
    ),
    Kind(
        "competency assessment",
        create_assessment,
        lambda o, i: _replayed(o, "/v1/competency-assessments", i),
        None,
        201,  # the same assessment sent again answers the first
    ),
    Kind(
        "supervision session",
        create_supervision,
        lambda o, i: o.among("/v1/supervision-sessions", i),
        None,
        201,  # a retry with the same id returns the first
    ),
    Kind(
        "practice group",
        create_group,
        lambda o, i: o.get(f"/v1/practice-groups/{i}"),
        None,  # no route changes a group
        409,
    ),
    Kind(
        "fidelity review",
        create_review,
        lambda o, i: _replayed(o, _reviews(o), i),
        None,
        201,  # the same review sent again answers the first
    ),
    Kind(
        "mentoring plan",
        create_plan,
        read_plan,
        None,
        201,  # a retry with the same id returns the first
    ),
    Kind(
        "mentoring visit",
        create_visit,
        lambda o, i: o.among(f"/v1/mentoring-plans/{o.state['plan']}/visits", i),
        None,
        201,  # a retry with the same id returns the first
    ),
    Kind(
        "action point",
        create_point,
        read_point,
        lambda o, i: o.post(
            f"/v1/action-points/{i}/status",
            {"status": "in_progress", "on": "2026-02-12"},
            **{"If-Match": '"1"'},
        ),
        409,  # another visit naming the same point
        made=lambda visit: visit["action_points"][0],
    ),
]

VOLATILE = {"version", "updated_at", "status", "completed_on", "sessions"}
VOLATILE |= {"hours_delivered", "role"}


def _same(read: Any, created: Any) -> bool:
    """The record read is the one created (their common fields agree)."""
    common = (set(read) & set(created)) - VOLATILE
    return bool(common) and all(read[k] == created[k] for k in common)


@pytest.fixture
def orgs(
    linked_training: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
    alice: Caller,
    bob: Caller,
) -> tuple[Org, Org]:
    def org(caller: Caller) -> Org:
        roles = (Role.trainer, Role.supervisor)
        headers = token(training_settings, uuid.UUID(caller.org.id), *roles)
        return Org(training_client, headers, caller)

    return org(alice), org(bob)


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
async def test_an_id_taken_elsewhere_is_a_free_id_here(
    kind: Kind, orgs: tuple[Org, Org]
) -> None:
    theirs_org, mine_org = orgs
    taken = str(uuid.uuid4())
    theirs = await kind.create(theirs_org, taken)
    assert theirs.status_code == 201, theirs.text

    mine = await kind.create(mine_org, taken)
    free = await kind.create(mine_org, str(uuid.uuid4()))
    assert (mine.status_code, free.status_code) == (201, 201), mine.text
    assert _shape(mine.json()) == _shape(free.json())
    theirs_made, mine_made = kind.made(theirs.json()), kind.made(mine.json())
    assert theirs_made["id"] == mine_made["id"] == taken

    theirs_read = await kind.read(theirs_org, taken)
    mine_read = await kind.read(mine_org, taken)
    assert theirs_read is not None
    assert mine_read is not None
    assert _same(theirs_read, theirs_made)
    assert not _same(theirs_read, mine_made)
    assert _same(mine_read, mine_made)
    assert not _same(mine_read, theirs_made)

    if kind.change is not None:
        changed = await kind.change(mine_org, taken)
        assert changed.status_code in (200, 201), changed.text
        assert await kind.read(theirs_org, taken) == theirs_read
        assert await kind.read(mine_org, taken) != mine_read

    again = await kind.create(theirs_org, taken)
    assert again.status_code == kind.repeat, again.text
    assert await kind.read(mine_org, taken) is not None


async def test_a_child_cannot_name_another_organisations_parent(
    orgs: tuple[Org, Org], training_app: FastAPI
) -> None:
    """The composite foreign keys: even a write that skipped every check in
    the code could not enrol a trainee in another organisation's cohort."""
    theirs, mine = orgs
    cohort = await _cohort(theirs)
    assert (
        await theirs.post(f"/v1/cohorts/{cohort}/enrolments", {"trainee_ids": []})
    ).status_code == 200
    await _trainee(mine)
    async with training_app.state.engine.connect() as connection:
        with pytest.raises(Exception, match="foreign key"):
            await connection.execute(
                text(
                    "INSERT INTO cohort_enrolment "
                    "(id, organisation_id, cohort_id, trainee_id, created_at) "
                    "VALUES (:id, :org, :cohort, :trainee, now())"
                ),
                {
                    "id": uuid.uuid4(),
                    "org": mine.caller.org.id,
                    "cohort": cohort,
                    "trainee": mine.state["trainee"],
                },
            )
        await connection.rollback()
