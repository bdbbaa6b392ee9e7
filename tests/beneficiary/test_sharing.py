"""Data-sharing agreements and exports under them, through the API: only the
agreed fields, only people consenting to data sharing now, never an erased
record, never outside the agreement's days, and every export logged."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.auth import Role
from shared.db import utcnow
from shared.spreadsheet import unguard
from tests.beneficiary.api import (
    AGREEMENTS,
    CONSENTS,
    ERASURE_REASON,
    SHARING,
    WITHDRAW_REGISTRATION,
    agreement_body,
    count_rows,
    give_consent,
    make_agreement,
    make_beneficiary,
)
from tests.callers import Caller, Org
from tests.shared.spreadsheets import no_formula_either_way


@pytest.fixture
def maria(issue: Any, orgs: dict[str, Org]) -> Caller:
    """A programme manager of org A."""
    return issue(orgs["a"], Role.programme_manager, subject="maria")  # type: ignore[no-any-return]


@pytest.fixture
def brian(issue: Any, orgs: dict[str, Org]) -> Caller:
    """A programme manager of org B."""
    return issue(orgs["b"], Role.programme_manager, subject="brian")  # type: ignore[no-any-return]


async def consent_to_sharing(caller: Caller, person: str, granted: bool) -> None:
    r = await give_consent(caller, person, {**SHARING, "granted": granted})
    assert r.status_code == 201, r.text


async def export(
    caller: Caller, agreement_id: str, **kwargs: Any
) -> list[dict[str, Any]]:
    r = await caller.post(f"{AGREEMENTS}/{agreement_id}/exports", **kwargs)
    assert r.status_code == 200, r.text
    records: list[dict[str, Any]] = r.json()["records"]
    return records


async def nothing_exported(engine: AsyncEngine) -> bool:
    async with engine.connect() as connection:
        shares = (
            await connection.execute(
                text("SELECT count(*) FROM audit_entry WHERE action = 'share'")
            )
        ).scalar_one()
    return (
        await count_rows(engine, "sharing_export") == 0
        and await count_rows(engine, "protection_notice") == 0
        and shares == 0
    )


class TestCreateAgreement:
    async def test_valid(self, maria: Caller, beneficiary_engine: AsyncEngine) -> None:
        body = agreement_body(fields=["pseudonym", "sex", "phone", "date_of_birth"])
        r = await maria.post(AGREEMENTS, body)
        assert r.status_code == 201, r.text
        agreement = r.json()
        assert agreement["organisation_id"] == maria.org.id
        assert agreement["fields"] == body["fields"]
        assert agreement["identifying_fields"] == ["phone", "date_of_birth"]
        assert agreement["status"] == "active"
        assert agreement["created_by"] == "maria"
        assert agreement["revoked_at"] is None
        assert "pseudonym_salt" not in agreement
        async with beneficiary_engine.connect() as connection:
            audited = (
                await connection.execute(
                    text(
                        "SELECT action, entity_type, subject FROM audit_entry "
                        "WHERE entity_id = :id"
                    ),
                    {"id": agreement["id"]},
                )
            ).all()
        assert [tuple(a) for a in audited] == [("create", "sharing_agreement", "maria")]

    async def test_an_admin_of_the_organisation_may(
        self, issue: Any, orgs: dict[str, Org]
    ) -> None:
        admin = issue(orgs["a"], Role.admin)
        agreement = await make_agreement(admin)
        assert agreement["organisation_id"] == orgs["a"].id

    @pytest.mark.parametrize(
        "fields",
        [
            ["sex", "washington_group"],
            ["sex", "id"],
            ["consents"],
            ["full_name_enc"],
            ["sex", "sex"],
            [],
        ],
    )
    async def test_fields_outside_the_allow_list_are_refused(
        self, maria: Caller, beneficiary_engine: AsyncEngine, fields: list[str]
    ) -> None:
        audited = await count_rows(beneficiary_engine, "audit_entry")
        r = await maria.post(AGREEMENTS, agreement_body(fields=fields))
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert await count_rows(beneficiary_engine, "sharing_agreement") == 0
        assert await count_rows(beneficiary_engine, "audit_entry") == audited

    async def test_terms_must_be_complete_and_consistent(
        self, maria: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        today = utcnow().date()
        for body in [
            agreement_body(
                valid_from=(today + timedelta(days=10)).isoformat(),
                expires_on=(today + timedelta(days=9)).isoformat(),
            ),
            agreement_body(
                valid_from=(today - timedelta(days=10)).isoformat(),
                expires_on=(today - timedelta(days=1)).isoformat(),
            ),
            agreement_body(purpose="   "),
            agreement_body(partner=""),
            {k: v for k, v in agreement_body().items() if k != "purpose"},
            {k: v for k, v in agreement_body().items() if k != "expires_on"},
        ]:
            r = await maria.post(AGREEMENTS, body)
            assert r.status_code == 422, (body, r.text)
        assert await count_rows(beneficiary_engine, "sharing_agreement") == 0

    async def test_a_one_day_agreement_is_allowed(self, maria: Caller) -> None:
        today = utcnow().date().isoformat()
        agreement = await make_agreement(maria, valid_from=today, expires_on=today)
        assert agreement["status"] == "active"

    async def test_a_case_worker_cannot(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        r = await alice.post(AGREEMENTS, agreement_body())
        assert r.status_code == 403
        assert await count_rows(beneficiary_engine, "sharing_agreement") == 0


class TestReadAndRevoke:
    async def test_list_read_and_revoke(
        self, maria: Caller, issue: Any, orgs: dict[str, Org]
    ) -> None:
        first = await make_agreement(maria, partner="First")
        second = await make_agreement(maria, partner="Second")
        listed = (await maria.get(AGREEMENTS)).json()
        assert [a["id"] for a in listed["items"]] == [second["id"], first["id"]]
        auditor = issue(orgs["a"], Role.auditor)
        read = (await auditor.get(f"{AGREEMENTS}/{first['id']}")).json()
        assert read == first

        r = await maria.post(f"{AGREEMENTS}/{first['id']}/revoke")
        assert r.status_code == 200
        revoked = r.json()
        assert revoked["status"] == "revoked"
        assert revoked["revoked_at"] is not None
        again = (await maria.post(f"{AGREEMENTS}/{first['id']}/revoke")).json()
        assert again["revoked_at"] == revoked["revoked_at"]

    async def test_an_auditor_reads_but_cannot_export_or_revoke(
        self,
        maria: Caller,
        issue: Any,
        orgs: dict[str, Org],
        beneficiary_engine: AsyncEngine,
    ) -> None:
        agreement = await make_agreement(maria)
        auditor = issue(orgs["a"], Role.auditor)
        r = await auditor.get(f"{AGREEMENTS}/{agreement['id']}/exports")
        assert r.status_code == 200
        assert r.json()["items"] == []
        for path in ("exports", "revoke"):
            r = await auditor.post(f"{AGREEMENTS}/{agreement['id']}/{path}")
            assert r.status_code == 403, path
        assert (await auditor.post(AGREEMENTS, agreement_body())).status_code == 403
        assert await nothing_exported(beneficiary_engine)

    async def test_another_organisations_agreement_is_404(
        self, maria: Caller, brian: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        await make_beneficiary(maria, consents=[*CONSENTS, SHARING])
        agreement = await make_agreement(maria)
        path = f"{AGREEMENTS}/{agreement['id']}"
        assert (await brian.get(path)).status_code == 404
        assert (await brian.get(f"{path}/exports")).status_code == 404
        assert (await brian.post(f"{path}/exports")).status_code == 404
        assert (await brian.post(f"{path}/revoke")).status_code == 404
        assert (await brian.get(AGREEMENTS)).json()["items"] == []
        assert (await maria.get(path)).json()["status"] == "active"
        assert await nothing_exported(beneficiary_engine)


class TestExport:
    async def test_only_agreed_fields_of_people_consenting_now(
        self, maria: Caller, brian: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        at_registration = await make_beneficiary(
            maria,
            full_name="Amal Consented",
            phone="0770 111 2222",
            consents=[*CONSENTS, SHARING],
        )
        later = await make_beneficiary(maria, full_name="Badr Later")
        await consent_to_sharing(maria, later["id"], granted=True)
        withdrew = await make_beneficiary(
            maria, full_name="Carim Withdrew", consents=[*CONSENTS, SHARING]
        )
        await consent_to_sharing(maria, withdrew["id"], granted=False)
        await make_beneficiary(maria, full_name="Dana Never")
        erased = await make_beneficiary(
            maria, full_name="Eman Erased", consents=[*CONSENTS, SHARING]
        )
        r = await maria.post(
            f"/v1/beneficiaries/{erased['id']}/consents",
            [WITHDRAW_REGISTRATION],
            headers=ERASURE_REASON,
        )
        assert r.status_code == 201
        await make_beneficiary(
            brian, full_name="Fadi Other Org", consents=[*CONSENTS, SHARING]
        )
        fields = ["pseudonym", "sex", "age_group", "birth_year", "full_name"]
        agreement = await make_agreement(maria, fields=fields)

        r = await maria.post(f"{AGREEMENTS}/{agreement['id']}/exports")
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store"
        body = r.json()
        assert body["fields"] == fields
        assert body["partner"] == "Cash Partner NGO"
        records = body["records"]
        assert all(list(record) == fields for record in records)
        assert sorted(record["full_name"] for record in records) == [
            "Amal Consented",
            "Badr Later",
        ]
        assert {record["birth_year"] for record in records} == {1990}
        assert {record["age_group"] for record in records} == {"18_59"}
        assert {record["sex"] for record in records} == {"female"}
        # the phone's digits as any format would show them; not "0770" alone,
        # which a pseudonym or an id (hex) holds about once in 700 exports
        for absent in ("Carim", "Dana", "Eman", "Fadi", "1112222", "111 2222", "B-"):
            assert absent not in r.text
        for internal in (at_registration["id"], later["id"], at_registration["code"]):
            assert internal not in r.text
        assert body["export"]["records"] == 2

    async def test_identifying_fields_only_when_agreed(self, maria: Caller) -> None:
        known = await make_beneficiary(
            maria,
            full_name="Hana Known",
            phone="+964 770 123 4567",
            address="Block 4, tent 12",
            consents=[*CONSENTS, SHARING],
        )
        await make_beneficiary(
            maria,
            date_of_birth=None,
            estimated_age=30,
            consents=[*CONSENTS, SHARING],
        )
        identifying = ["beneficiary_code", "phone", "address", "date_of_birth"]
        agreement = await make_agreement(maria, fields=[*identifying, "birth_year"])
        records = await export(maria, agreement["id"])
        by_code = {record["beneficiary_code"]: record for record in records}
        assert by_code[known["code"]] == {
            "beneficiary_code": known["code"],
            "phone": "+964 770 123 4567",
            "address": "Block 4, tent 12",
            "date_of_birth": "1990-04-01",
            "birth_year": 1990,
        }
        estimated = next(r for code, r in by_code.items() if code != known["code"])
        assert estimated["date_of_birth"] is None  # a guess is not a birth date
        assert estimated["birth_year"] is not None

    async def test_places(self, maria: Caller, site_ids: list[str]) -> None:
        site = (await maria.get(f"/v1/locations/{site_ids[0]}")).json()
        parent = (await maria.get(f"/v1/locations/{site['parent_id']}")).json()
        await make_beneficiary(maria, site_id=site["id"], consents=[*CONSENTS, SHARING])
        fields = ["governorate_pcode", "district_pcode", "site_pcode", "site_name"]
        agreement = await make_agreement(maria, fields=fields)
        [record] = await export(maria, agreement["id"])
        assert parent["level"] == "governorate"  # reference sites: no district
        assert record == {
            "governorate_pcode": parent["pcode"],
            "district_pcode": None,
            "site_pcode": site["pcode"],
            "site_name": site["name"],
        }

    async def test_pseudonyms_are_stable_per_agreement_and_unlinkable_across(
        self, maria: Caller
    ) -> None:
        for _ in range(3):
            await make_beneficiary(maria, consents=[*CONSENTS, SHARING])
        one = await make_agreement(maria, fields=["pseudonym"])
        other = await make_agreement(maria, fields=["pseudonym"], partner="Other")
        first = [r["pseudonym"] for r in await export(maria, one["id"])]
        again = [r["pseudonym"] for r in await export(maria, one["id"])]
        elsewhere = [r["pseudonym"] for r in await export(maria, other["id"])]
        assert len(set(first)) == 3
        assert sorted(first) == sorted(again)
        assert not set(first) & set(elsewhere)
        assert all(p.startswith("P-") and len(p) == 34 for p in first)

    async def test_a_site_scoped_manager_shares_only_their_sites(
        self, issue: Any, orgs: dict[str, Org], maria: Caller, site_ids: list[str]
    ) -> None:
        mine = await make_beneficiary(
            maria, site_id=site_ids[0], consents=[*CONSENTS, SHARING]
        )
        await make_beneficiary(
            maria, site_id=site_ids[1], consents=[*CONSENTS, SHARING]
        )
        await make_beneficiary(maria, consents=[*CONSENTS, SHARING])  # no site
        scoped = issue(orgs["a"], Role.programme_manager, sites=[site_ids[0]])
        agreement = await make_agreement(maria, fields=["beneficiary_code"])
        assert await export(scoped, agreement["id"]) == [
            {"beneficiary_code": mine["code"]}
        ]
        assert len(await export(maria, agreement["id"])) == 3

    async def test_agreements_are_made_and_ended_organisation_wide(
        self, issue: Any, orgs: dict[str, Org], maria: Caller, site_ids: list[str]
    ) -> None:
        """An agreement binds every site: a site-scoped manager neither makes
        nor ends one (review issue 12, the class of finding 3)."""
        scoped = issue(orgs["a"], Role.programme_manager, sites=[site_ids[0]])
        r = await scoped.post(AGREEMENTS, agreement_body())
        assert r.status_code == 403, r.text
        agreement = await make_agreement(maria)
        r = await scoped.post(f"{AGREEMENTS}/{agreement['id']}/revoke")
        assert r.status_code == 403, r.text
        listed = (await maria.get(AGREEMENTS)).json()["items"]
        assert [(a["id"], a["revoked_at"]) for a in listed] == [(agreement["id"], None)]

    async def test_every_export_is_logged(
        self, maria: Caller, beneficiary_engine: AsyncEngine, redis: Redis
    ) -> None:
        people = [
            await make_beneficiary(maria, consents=[*CONSENTS, SHARING])
            for _ in range(2)
        ]
        await make_beneficiary(maria)  # not consenting: not shared, not audited
        agreement = await make_agreement(maria)
        reason = "Cash round 3, list asked for by Layla at the partner"
        r = await maria.post(
            f"{AGREEMENTS}/{agreement['id']}/exports",
            headers={"X-Access-Reason": reason},
        )
        assert r.status_code == 200
        export_id = r.headers["x-sharing-export-id"]
        assert r.json()["export"]["id"] == export_id
        await export(maria, agreement["id"])

        log = (await maria.get(f"{AGREEMENTS}/{agreement['id']}/exports")).json()
        assert [e["id"] for e in log["items"]][1] == export_id
        logged = log["items"][1]
        assert logged["records"] == 2
        assert logged["fields"] == agreement["fields"]
        assert logged["exported_by"] == "maria"
        assert logged["reason"] == reason
        assert log["items"][0]["reason"] is None

        async with beneficiary_engine.connect() as connection:
            shares = (
                await connection.execute(
                    text(
                        "SELECT entity_id, subject, reason FROM audit_entry "
                        "WHERE action = 'share' AND entity_type = 'beneficiary' "
                        "ORDER BY at"
                    )
                )
            ).all()
            notices = (
                await connection.execute(
                    text(
                        "SELECT id, organisation_id, kind, subject, entity_id, "
                        "detail, delivery FROM protection_notice ORDER BY created_at"
                    )
                )
            ).all()
        assert len(shares) == 4  # two people, two exports
        assert {str(s.entity_id) for s in shares} == {p["id"] for p in people}
        assert {s.subject for s in shares} == {"maria"}
        with_reason = [s.reason for s in shares if reason in s.reason]
        assert len(with_reason) == 2
        for share in shares:
            assert agreement["id"] in share.reason
            assert "Cash Partner NGO" in share.reason

        assert len(notices) == 2
        notice = notices[0]
        assert str(notice.organisation_id) == maria.org.id
        assert (notice.kind, notice.subject) == ("sharing_export", "maria")
        assert str(notice.entity_id) == export_id
        assert notice.delivery == "pending"
        detail = notice.detail
        if isinstance(detail, str):
            detail = json.loads(detail)
        assert detail["agreement_id"] == agreement["id"]
        assert detail["records"] == 2
        assert detail["identifying_fields"] == ["full_name"]
        as_text = json.dumps(detail)
        assert "Layla" not in as_text
        for person in people:
            assert person["full_name"] not in as_text
            assert person["id"] not in as_text
        assert await redis.exists(f"arq:job:protection_notice:{notice.id}")

    async def test_csv(self, maria: Caller) -> None:
        await make_beneficiary(
            maria,
            full_name="Nour Csv",
            address='=HYPERLINK("http://evil.example","x")',
            consents=[*CONSENTS, SHARING],
        )
        agreement = await make_agreement(
            maria, fields=["full_name", "address", "birth_year", "marital_status"]
        )
        r = await maria.post(
            f"{AGREEMENTS}/{agreement['id']}/exports", params={"format": "csv"}
        )
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/csv")
        assert r.headers["cache-control"] == "no-store"
        assert "attachment" in r.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(r.text)))
        assert rows == [
            ["full_name", "address", "birth_year", "marital_status"],
            ["Nour Csv", '\'=HYPERLINK("http://evil.example","x")', "1990", "married"],
        ]
        log = (await maria.get(f"{AGREEMENTS}/{agreement['id']}/exports")).json()
        assert log["items"][0]["records"] == 1

    async def test_csv_opens_without_formulas_whatever_the_separator(
        self, maria: Caller
    ) -> None:
        name = "Ali;=1+2;x"
        await make_beneficiary(
            maria,
            full_name=name,
            address="Street 4,-2+3;@SUM(A1)\n=1",
            consents=[*CONSENTS, SHARING],
        )
        agreement = await make_agreement(maria, fields=["full_name", "address"])
        r = await maria.post(
            f"{AGREEMENTS}/{agreement['id']}/exports", params={"format": "csv"}
        )
        assert r.status_code == 200, r.text
        rows = no_formula_either_way(r.text)
        assert [unguard(cell) for cell in rows[1]] == [
            name,
            "Street 4,-2+3;@SUM(A1)\n=1",
        ]

    async def test_an_empty_export_is_logged_too(
        self, maria: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        await make_beneficiary(maria)
        agreement = await make_agreement(maria)
        assert await export(maria, agreement["id"]) == []
        assert await count_rows(beneficiary_engine, "sharing_export") == 1
        assert await count_rows(beneficiary_engine, "protection_notice") == 1

    async def test_a_case_worker_cannot_export(
        self, maria: Caller, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        await make_beneficiary(maria, consents=[*CONSENTS, SHARING])
        agreement = await make_agreement(maria)
        r = await alice.post(f"{AGREEMENTS}/{agreement['id']}/exports")
        assert r.status_code == 403
        assert await nothing_exported(beneficiary_engine)


class TestOutsideTheAgreement:
    async def test_not_yet_valid(
        self, maria: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        await make_beneficiary(maria, consents=[*CONSENTS, SHARING])
        tomorrow = utcnow().date() + timedelta(days=1)
        agreement = await make_agreement(maria, valid_from=tomorrow.isoformat())
        assert agreement["status"] == "scheduled"
        await self.assert_refused(maria, agreement["id"], beneficiary_engine)

    async def test_expired(
        self, maria: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        await make_beneficiary(maria, consents=[*CONSENTS, SHARING])
        agreement = await make_agreement(maria)
        today = utcnow().date()
        async with beneficiary_engine.begin() as connection:
            await connection.execute(
                text(
                    "UPDATE sharing_agreement SET valid_from = :start, "
                    "expires_on = :end WHERE id = :id"
                ),
                {
                    "start": today - timedelta(days=30),
                    "end": today - timedelta(days=1),
                    "id": agreement["id"],
                },
            )
        read = (await maria.get(f"{AGREEMENTS}/{agreement['id']}")).json()
        assert read["status"] == "expired"
        await self.assert_refused(maria, agreement["id"], beneficiary_engine)

    async def test_the_last_day_is_included(self, maria: Caller) -> None:
        await make_beneficiary(maria, consents=[*CONSENTS, SHARING])
        today = utcnow().date().isoformat()
        agreement = await make_agreement(maria, expires_on=today)
        assert len(await export(maria, agreement["id"])) == 1

    async def test_revoked(
        self, maria: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        await make_beneficiary(maria, consents=[*CONSENTS, SHARING])
        agreement = await make_agreement(maria)
        r = await maria.post(f"{AGREEMENTS}/{agreement['id']}/revoke")
        assert r.status_code == 200
        await self.assert_refused(maria, agreement["id"], beneficiary_engine)

    @staticmethod
    async def assert_refused(
        caller: Caller, agreement_id: str, engine: AsyncEngine
    ) -> None:
        for params in ({}, {"format": "csv"}):
            r = await caller.post(f"{AGREEMENTS}/{agreement_id}/exports", params=params)
            assert r.status_code == 409, r.text
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["type"].endswith("/agreement-not-in-force")
        assert await nothing_exported(engine)
        log = (await caller.get(f"{AGREEMENTS}/{agreement_id}/exports")).json()
        assert log["items"] == []


class TestRetriedExport:
    """A retry of an export (same Idempotency-Key) is the same export, never
    a way around a person's "no" given since or a revoked agreement."""

    async def test_is_the_same_export_without_whoever_withdrew_since(
        self, maria: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        stays = await make_beneficiary(
            maria, full_name="Amal Stays", consents=[*CONSENTS, SHARING]
        )
        leaves = await make_beneficiary(
            maria, full_name="Badr Leaves", consents=[*CONSENTS, SHARING]
        )
        agreement = await make_agreement(maria)
        path = f"{AGREEMENTS}/{agreement['id']}/exports"
        key = {"Idempotency-Key": "export-once"}
        first = await maria.post(path, headers=key)
        assert first.status_code == 200, first.text
        assert len(first.json()["records"]) == 2

        await consent_to_sharing(maria, leaves["id"], granted=False)
        again = await maria.post(path, headers=key)
        assert again.status_code == 200, again.text
        assert again.headers["Idempotent-Replayed"] == "true"
        assert (
            again.headers["X-Sharing-Export-Id"]
            == (first.headers["X-Sharing-Export-Id"])
        )
        assert [r["full_name"] for r in again.json()["records"]] == ["Amal Stays"]
        assert await count_rows(beneficiary_engine, "sharing_export") == 1
        assert await count_rows(beneficiary_engine, "protection_notice") == 1
        async with beneficiary_engine.connect() as connection:
            shared = (
                await connection.execute(
                    text("SELECT entity_id FROM audit_entry WHERE action = 'share'")
                )
            ).scalars()
            shared_ids = sorted(str(i) for i in shared)
        # what left again is audited again: both people once, then one of them
        assert shared_ids == sorted([stays["id"], leaves["id"], stays["id"]])

        other_format = await maria.post(path, params={"format": "csv"}, headers=key)
        assert other_format.status_code == 422
        assert other_format.json()["errors"][0]["type"] == "idempotency_key_reused"

    async def test_is_refused_once_the_agreement_is_revoked(
        self, maria: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        await make_beneficiary(maria, consents=[*CONSENTS, SHARING])
        agreement = await make_agreement(maria)
        path = f"{AGREEMENTS}/{agreement['id']}/exports"
        key = {"Idempotency-Key": "export-before-revoke"}
        assert (await maria.post(path, headers=key)).status_code == 200
        revoked = await maria.post(f"{AGREEMENTS}/{agreement['id']}/revoke")
        assert revoked.status_code == 200, revoked.text
        again = await maria.post(path, headers=key)
        assert again.status_code == 409
        assert "records" not in again.json()
