"""Duplicate candidates come from indexed keys (name with birth date, phone),
a bounded number per key, with pairs inside a batch found in one pass: a
common name costs the same however many people share it."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.beneficiary.beneficiaries.service import CANDIDATES_PER_KEY
from tests.beneficiary.api import CONSENTS, make_beneficiary, offline_person
from tests.callers import Caller


def people(count: int, **overrides: Any) -> list[dict[str, Any]]:
    return [
        {
            "id": str(uuid.uuid4()),
            "data": offline_person(**overrides),
            "consents": CONSENTS,
        }
        for _ in range(count)
    ]


async def candidates_of(engine: AsyncEngine, person_id: str) -> list[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT candidate_id FROM duplicate_candidate "
                "WHERE beneficiary_id = :id"
            ),
            {"id": uuid.UUID(person_id)},
        )
        return [str(r[0]) for r in rows]


class TestBounded:
    async def test_a_common_name_flags_at_most_the_nearest_births(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        crowd = CANDIDATES_PER_KEY * 3
        older = people(crowd, full_name="Mohammed Ali", date_of_birth="1990-03-01")
        younger = people(crowd, full_name="Mohammed Ali", date_of_birth="1991-09-01")
        r = await alice.post("/v1/sync", {"beneficiaries": older + younger})
        assert {x["status"] for x in r.json()["results"]} == {"created"}
        in_batch = await candidates_of(beneficiary_engine, younger[-1]["id"])
        assert len(in_batch) == CANDIDATES_PER_KEY  # the latest of the batch
        new = await make_beneficiary(
            alice, full_name="Mohammed  Ali", date_of_birth="1991-01-01"
        )
        flagged = await candidates_of(beneficiary_engine, new["id"])
        assert len(flagged) == 2 * CANDIDATES_PER_KEY  # each side of 1991-01-01
        assert set(flagged) <= {p["id"] for p in older + younger}

    async def test_a_shared_phone_flags_the_latest_registrations(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        household = people(CANDIDATES_PER_KEY + 3, phone="0750 111 2222")
        for n, person in enumerate(household):
            person["data"]["full_name"] = f"Member {n}"
        await alice.post("/v1/sync", {"beneficiaries": household})
        new = await make_beneficiary(alice, full_name="Guest", phone="0750 111 2222")
        flagged = await candidates_of(beneficiary_engine, new["id"])
        assert len(flagged) == CANDIDATES_PER_KEY
        assert household[-1]["id"] in flagged
        assert household[0]["id"] not in flagged

    async def test_the_same_name_far_in_age_is_not_a_candidate(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        batch = people(1, full_name="Zainab Hassan", date_of_birth="1980-12-31")
        batch += people(1, full_name="Zainab Hassan", date_of_birth="1983-01-01")
        batch += people(1, full_name="Zainab Hassan", date_of_birth="1978-01-01")
        await alice.post("/v1/sync", {"beneficiaries": batch})
        assert (
            await candidates_of(beneficiary_engine, batch[1]["id"]) == []
        )  # 3 years on
        assert await candidates_of(beneficiary_engine, batch[2]["id"]) == [
            batch[0]["id"]
        ]

    async def test_a_pair_is_flagged_once_for_both_reasons(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        first = await make_beneficiary(
            alice, full_name="Omar Saleh", phone="0770 555 6666"
        )
        second = await make_beneficiary(
            alice, full_name="Omar Saleh", phone="0770 555 6666"
        )
        async with beneficiary_engine.connect() as connection:
            reasons = (
                await connection.execute(
                    text(
                        "SELECT reasons FROM duplicate_candidate "
                        "WHERE beneficiary_id = :id"
                    ),
                    {"id": uuid.UUID(second["id"])},
                )
            ).all()
        assert [r[0] for r in reasons] == ["same_phone,same_name_close_birth_year"]
        assert second["possible_duplicates"] == [first["id"]]
