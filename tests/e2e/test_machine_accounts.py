"""Production mode (tokens from an OIDC provider's JWKS): each service calls
the others with ONE static machine token (role ``service``) for every
organisation. The calls made for an organisation name it
(``X-Acting-Organisation``), so they act for the right one, whatever
organisation the provider put in the machine token."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shared.auth import Role
from tests.beneficiary.api import make_beneficiary
from tests.callers import Caller, Org
from tests.e2e.person import REASON
from tests.idp import IdentityProvider
from tests.training.api import trainee

PLATFORM = uuid.UUID(int=0)
"""The organisation the provider puts in the machine accounts' tokens."""


@pytest.fixture
def idp(
    linked_beneficiary: FastAPI,
    linked_training: FastAPI,
    orgs: dict[str, Org],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[IdentityProvider]:
    """Both services verify the provider's tokens (once ``orgs`` exist) and
    call each other with a static machine token it issued
    (TRAINING_BENEFICIARY_TOKEN, BENEFICIARY_TRAINING_TOKEN)."""
    provider = IdentityProvider()
    for target, setting, subject in (
        (linked_training, "beneficiary_token", "training-service"),
        (linked_beneficiary, "training_token", "beneficiary-service"),
    ):
        monkeypatch.setattr(
            target.state.runtime.settings,
            setting,
            provider.issue(PLATFORM, Role.service, subject=subject),
        )
    with provider.serving(linked_beneficiary, linked_training):
        yield provider


async def practice_group(
    idp: IdentityProvider, training: httpx.AsyncClient, org: Org, clients: list[str]
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {idp.issue(org.id, Role.trainer)}"}
    facilitator = await training.post("/v1/trainees", json=trainee(), headers=headers)
    assert facilitator.status_code == 201, facilitator.text
    return await training.post(
        "/v1/practice-groups",
        json={
            "name": f"Group of {org.name}",
            "facilitator_trainee_ids": [facilitator.json()["id"]],
            "client_ids": clients,
            "started_on": "2026-04-01",
        },
        headers=headers,
    )


async def test_one_static_machine_token_serves_every_organisation(
    idp: IdentityProvider,
    beneficiary_client: httpx.AsyncClient,
    training_client: httpx.AsyncClient,
    orgs: dict[str, Org],
) -> None:
    groups: dict[str, tuple[str, str]] = {}
    for name in ("a", "b"):
        org = orgs[name]
        worker = Caller(
            beneficiary_client, idp.issue(org.id, Role.case_worker), org, "cw"
        )
        person = (await make_beneficiary(worker))["id"]
        created = await practice_group(idp, training_client, org, [person])
        assert created.status_code == 201, created.text  # clients checked for org
        groups[name] = (person, created.json()["id"])

    # a client of another organisation is still refused
    stranger = await practice_group(idp, training_client, orgs["a"], [groups["b"][0]])
    assert stranger.status_code == 422, stranger.text

    # the subject access export asks training for the person's organisation
    person, group = groups["b"]
    supervisor = Caller(
        beneficiary_client, idp.issue(orgs["b"].id, Role.supervisor), orgs["b"], "sup"
    )
    export = await supervisor.get(
        f"/v1/beneficiaries/{person}/subject-access", headers=REASON
    )
    assert export.status_code == 200, export.text
    found: dict[str, Any] = export.json()["training"]
    assert found["included"] is True
    assert [g["group_id"] for g in found["practice_groups"]] == [group]

    # reporting's static token reads every organisation's change feed
    feed = await beneficiary_client.get(
        "/v1/events",
        params={"limit": 1000},
        headers={"Authorization": f"Bearer {idp.issue(PLATFORM, Role.service)}"},
    )
    assert feed.status_code == 200, feed.text
    seen = {e["organisation_id"] for e in feed.json()["items"]}
    assert {orgs["a"].id, orgs["b"].id} <= seen


async def test_people_cannot_act_for_another_organisation(
    idp: IdentityProvider,
    beneficiary_client: httpx.AsyncClient,
    training_client: httpx.AsyncClient,
    orgs: dict[str, Org],
) -> None:
    """The header is a machine account's only: a person's token is refused
    at the machine routes, and elsewhere the header changes nothing."""
    org_b = orgs["b"]
    worker = Caller(
        beneficiary_client, idp.issue(org_b.id, Role.case_worker), org_b, "cw"
    )
    person = (await make_beneficiary(worker))["id"]
    manager = idp.issue(orgs["a"].id, Role.programme_manager)
    acting_for_b = {
        "Authorization": f"Bearer {manager}",
        "X-Acting-Organisation": org_b.id,
    }
    lookup = await beneficiary_client.post(
        "/v1/beneficiaries/lookup", json={"ids": [person]}, headers=acting_for_b
    )
    assert lookup.status_code == 403, lookup.text
    groups = await beneficiary_client.post(
        "/v1/group-activities/lookup", json={"ids": [person]}, headers=acting_for_b
    )
    assert groups.status_code == 403, groups.text
    for path in ("/v1/organisations/lookup", "/v1/projects/lookup"):
        named = await beneficiary_client.post(
            path, json={"ids": [orgs["a"].id]}, headers=acting_for_b
        )
        assert named.status_code == 403, (path, named.text)
    participation = await training_client.get(
        f"/v1/practice-clients/{person}", headers=acting_for_b
    )
    assert participation.status_code == 403, participation.text
    listed = await beneficiary_client.get("/v1/beneficiaries", headers=acting_for_b)
    assert listed.status_code == 200, listed.text
    assert person not in {b["id"] for b in listed.json()["items"]}
