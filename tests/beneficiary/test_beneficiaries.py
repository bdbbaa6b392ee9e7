from __future__ import annotations

import hashlib
import secrets
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.beneficiary.beneficiaries.schemas import BeneficiaryCreate
from shared.auth import Role
from shared.crypto import KeyRing
from tests.beneficiary.api import beneficiary_body, count_rows, make_beneficiary
from tests.callers import Caller


class TestRegisterBeneficiary:
    async def test_valid(self, alice: Caller, site_ids: list[str]) -> None:
        r = await alice.post(
            "/v1/beneficiaries",
            beneficiary_body(
                full_name="Layla Hassan", phone="+964 750 123 4567", site_id=site_ids[0]
            ),
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["full_name"] == "Layla Hassan"
        assert body["phone"] == "+964 750 123 4567"
        assert body["code"].startswith("B-")
        assert body["organisation_id"] == alice.org.id
        assert body["version"] == 1
        assert r.headers["etag"] == '"1"'
        assert set(body["consents"]) == {"registration", "services"}
        assert body["possible_duplicates"] == []

    async def test_pii_is_encrypted_at_rest(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        from sqlalchemy import text

        await make_beneficiary(
            alice, full_name="Unique Plaintext Name", phone="0770 999 8888"
        )
        async with beneficiary_engine.connect() as conn:
            row = (
                (await conn.execute(text("SELECT * FROM beneficiary"))).mappings().one()
            )
        flat = " ".join(str(v) for v in row.values())
        assert "Unique Plaintext Name" not in flat
        assert "0770 999 8888" not in flat
        assert row["full_name_enc"].startswith("v1.")

    async def test_without_registration_consent_nothing_is_written(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        r = await alice.post(
            "/v1/beneficiaries",
            beneficiary_body(
                consents=[{"purpose": "services", "granted": True, "form_version": "1"}]
            ),
        )
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"
        assert "anonymous" in r.text
        assert await count_rows(beneficiary_engine, "beneficiary") == 0

    async def test_estimated_age(self, alice: Caller) -> None:
        b = await make_beneficiary(
            alice, date_of_birth=None, estimated_age=30, registration_date="2026-01-10"
        )
        assert b["date_of_birth"] == "1996-01-10"
        assert b["date_of_birth_estimated"] is True

    async def test_washington_group_derives_disability(self, alice: Caller) -> None:
        wg = {
            "seeing": "no_difficulty",
            "hearing": "some_difficulty",
            "walking": "a_lot_of_difficulty",
            "remembering": "no_difficulty",
            "self_care": "no_difficulty",
            "communicating": "no_difficulty",
        }
        b = await make_beneficiary(alice, disability=None, washington_group=wg)
        assert b["disability"] == "yes"
        r = await alice.post(
            "/v1/beneficiaries", beneficiary_body(disability="no", washington_group=wg)
        )
        assert r.status_code == 422


class TestBadInput:
    async def _rejected(
        self, alice: Caller, engine: AsyncEngine, response: Any, status: int
    ) -> dict[str, Any]:
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert await count_rows(engine, "beneficiary") == 0
        assert await count_rows(engine, "outbox_event") == 0
        body: dict[str, Any] = response.json()
        assert body["status"] == status
        assert body["type"].startswith("https://")
        return body

    async def test_future_date_of_birth(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        r = await alice.post(
            "/v1/beneficiaries", beneficiary_body(date_of_birth="2999-01-01")
        )
        body = await self._rejected(alice, beneficiary_engine, r, 422)
        assert any(e["loc"][-1] == "date_of_birth" for e in body["errors"])

    async def test_unknown_enum_value(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        r = await alice.post(
            "/v1/beneficiaries", beneficiary_body(marital_status="complicated")
        )
        body = await self._rejected(alice, beneficiary_engine, r, 422)
        assert body["errors"][0]["loc"] == ["body", "marital_status"]

    async def test_unknown_field(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        r = await alice.post("/v1/beneficiaries", beneficiary_body(religion="x"))
        await self._rejected(alice, beneficiary_engine, r, 422)

    async def test_malformed_json(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        r = await alice.client.post(
            "/v1/beneficiaries",
            content=b'{"full_name": "x",',
            headers=alice.headers({"content-type": "application/json"}),
        )
        body = await self._rejected(alice, beneficiary_engine, r, 400)
        assert body["type"].endswith("malformed-json")

    async def test_wrong_content_type(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        r = await alice.client.post(
            "/v1/beneficiaries",
            content=b"full_name=x",
            headers=alice.headers(
                {"content-type": "application/x-www-form-urlencoded"}
            ),
        )
        await self._rejected(alice, beneficiary_engine, r, 415)

    async def test_body_over_the_limit(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        r = await alice.post(
            "/v1/beneficiaries", beneficiary_body(address="x" * 3_000_000)
        )
        await self._rejected(alice, beneficiary_engine, r, 413)

    async def test_chunked_body_over_the_limit(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        async def chunks() -> Any:
            for _ in range(30):
                yield b"x" * 100_000

        r = await alice.client.post(
            "/v1/beneficiaries",
            content=chunks(),
            headers=alice.headers({"content-type": "application/json"}),
        )
        await self._rejected(alice, beneficiary_engine, r, 413)

    async def test_no_token(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        r = await alice.client.post("/v1/beneficiaries", json=beneficiary_body())
        await self._rejected(alice, beneficiary_engine, r, 401)
        assert r.headers["www-authenticate"] == "Bearer"


class TestDuplicates:
    async def test_same_phone_is_flagged(self, alice: Caller) -> None:
        first = await make_beneficiary(alice, phone="+964 770 111 2222")
        second = await make_beneficiary(
            alice, full_name="Other Name", phone="07701112222"
        )
        assert second["possible_duplicates"] == [first["id"]]

    async def test_same_name_close_birth_year_is_flagged(self, alice: Caller) -> None:
        first = await make_beneficiary(
            alice, full_name="أحمد  علي", date_of_birth="1990-01-01"
        )
        second = await make_beneficiary(
            alice, full_name="احمد علي", date_of_birth="1991-06-01"
        )
        far = await make_beneficiary(
            alice, full_name="Ahmad Ali", date_of_birth="1950-01-01"
        )
        other = await make_beneficiary(
            alice, full_name="احمد علي", date_of_birth="1960-01-01"
        )
        assert second["possible_duplicates"] == [first["id"]]
        assert far["possible_duplicates"] == []
        assert other["possible_duplicates"] == []

    async def test_flags_name_only_people_the_reader_can_see(
        self, alice: Caller, issue: Any, site_ids: list[str]
    ) -> None:
        """Review issue 12, finding 4: a site-scoped reader learnt the ids of
        people at other sites through the duplicate flags."""
        here, there = site_ids[0], site_ids[1]
        far = await make_beneficiary(alice, phone="0750 123 4567", site_id=there)
        local = issue(alice.org, Role.case_worker, sites=[here])
        near = await make_beneficiary(local, phone="0750 123 4567", site_id=here)
        assert near["possible_duplicates"] == []
        read = (await local.get(f"/v1/beneficiaries/{near['id']}")).json()
        assert read["possible_duplicates"] == []
        wide = (await alice.get(f"/v1/beneficiaries/{near['id']}")).json()
        assert wide["possible_duplicates"] == [far["id"]]
        stale = await local.patch(
            f"/v1/beneficiaries/{near['id']}",
            {"marital_status": "single"},
            headers={"If-Match": '"7"'},
        )
        assert stale.status_code == 409
        assert far["id"] not in stale.text

    async def test_other_organisations_people_are_never_compared(
        self, alice: Caller, bob: Caller
    ) -> None:
        await make_beneficiary(alice, phone="0750 000 1111")
        theirs = await make_beneficiary(bob, phone="0750 000 1111")
        assert theirs["possible_duplicates"] == []


class TestSearch:
    async def test_by_name_and_phone_through_blind_index(self, alice: Caller) -> None:
        b = await make_beneficiary(
            alice, full_name="Shirin  Dilshad", phone="0751 222 3344"
        )
        await make_beneficiary(alice, full_name="Someone Else")
        r = await alice.get("/v1/beneficiaries", params={"name": "shirin dilshad"})
        assert [i["id"] for i in r.json()["items"]] == [b["id"]]
        assert "full_name" not in r.json()["items"][0]
        r = await alice.get("/v1/beneficiaries", params={"phone": "+964751 222 3344"})
        assert [i["id"] for i in r.json()["items"]] == [b["id"]]

    async def test_cursor_pagination_visits_everyone_once(self, alice: Caller) -> None:
        ids = {(await make_beneficiary(alice))["id"] for _ in range(7)}
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 3}
            if cursor:
                params["cursor"] = cursor
            page = (await alice.get("/v1/beneficiaries", params=params)).json()
            seen += [i["id"] for i in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert sorted(seen) == sorted(ids)

    async def test_garbage_cursor_is_a_clear_400(self, alice: Caller) -> None:
        r = await alice.get("/v1/beneficiaries", params={"cursor": "not-a-cursor"})
        assert r.status_code == 400
        assert r.headers["content-type"] == "application/problem+json"


class TestUpdate:
    async def test_if_match_is_required(self, alice: Caller) -> None:
        b = await make_beneficiary(alice)
        r = await alice.patch(
            f"/v1/beneficiaries/{b['id']}", {"marital_status": "widowed"}
        )
        assert r.status_code == 428

    async def test_edit_and_stale_edit(self, alice: Caller) -> None:
        b = await make_beneficiary(alice)
        path = f"/v1/beneficiaries/{b['id']}"
        r = await alice.patch(
            path, {"marital_status": "widowed"}, headers={"If-Match": '"1"'}
        )
        assert r.status_code == 200, r.text
        assert r.json()["version"] == 2
        assert r.json()["marital_status"] == "widowed"
        assert r.json()["full_name"] == b["full_name"]
        stale = await alice.patch(
            path, {"marital_status": "single"}, headers={"If-Match": '"1"'}
        )
        assert stale.status_code == 409
        assert stale.json()["current"]["version"] == 2
        assert stale.json()["current"]["marital_status"] == "widowed"

    async def test_inconsistent_edit_is_rejected(self, alice: Caller) -> None:
        b = await make_beneficiary(alice, registration_date="2020-01-01")
        r = await alice.patch(
            f"/v1/beneficiaries/{b['id']}",
            {"date_of_birth": "2021-01-01"},
            headers={"If-Match": '"1"'},
        )
        assert r.status_code == 422


class TestIdempotencyKey:
    async def test_retry_returns_the_first_result(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        body = beneficiary_body()
        first = await alice.post(
            "/v1/beneficiaries", body, headers={"Idempotency-Key": "k-1"}
        )
        again = await alice.post(
            "/v1/beneficiaries", body, headers={"Idempotency-Key": "k-1"}
        )
        assert first.status_code == again.status_code == 201
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json()["id"] == first.json()["id"]
        assert await count_rows(beneficiary_engine, "beneficiary") == 1

    async def test_a_replay_is_not_audited_or_published_again(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        """A retried import must not double the audit log (52,000 rows became
        105,000) nor the change feed."""
        body = beneficiary_body()
        audited = await count_rows(beneficiary_engine, "audit_entry")
        written = []
        for _ in range(3):
            r = await alice.post(
                "/v1/beneficiaries", body, headers={"Idempotency-Key": "k-audit"}
            )
            assert r.status_code == 201, r.text
            written.append(
                (
                    await count_rows(beneficiary_engine, "audit_entry"),
                    await count_rows(beneficiary_engine, "outbox_event"),
                )
            )
        assert written[0][0] == audited + 1
        assert written == [written[0]] * 3

    async def test_same_key_other_body_is_refused(self, alice: Caller) -> None:
        await alice.post(
            "/v1/beneficiaries", beneficiary_body(), headers={"Idempotency-Key": "k-2"}
        )
        r = await alice.post(
            "/v1/beneficiaries", beneficiary_body(), headers={"Idempotency-Key": "k-2"}
        )
        assert r.status_code == 422
        assert r.json()["errors"][0]["type"] == "idempotency_key_reused"

    async def test_the_fingerprint_is_keyed(
        self, beneficiary_app: Any, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        """The stored fingerprint is an HMAC under the blind-index key: whoever
        reads the table cannot test guesses of a person's name against it."""
        body = beneficiary_body()
        r = await alice.post(
            "/v1/beneficiaries", body, headers={"Idempotency-Key": "k-3"}
        )
        assert r.status_code == 201, r.text
        message = request_message(body)
        stored = await stored_fingerprint(beneficiary_engine, "k-3")
        assert stored == beneficiary_app.state.runtime.keyring.digest(message)
        assert stored != hashlib.sha256(message.encode()).hexdigest()

    async def test_fingerprints_from_before_the_upgrade_still_match(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        """A record made before fingerprints were keyed (an unkeyed SHA-256)
        still recognises its retry, and still refuses another body."""
        body = beneficiary_body()
        first = await alice.post(
            "/v1/beneficiaries", body, headers={"Idempotency-Key": "k-4"}
        )
        legacy = hashlib.sha256(request_message(body).encode()).hexdigest()
        async with beneficiary_engine.begin() as connection:
            await connection.execute(
                text(
                    "UPDATE idempotency_record SET fingerprint = :f WHERE key = 'k-4'"
                ),
                {"f": legacy},
            )
        again = await alice.post(
            "/v1/beneficiaries", body, headers={"Idempotency-Key": "k-4"}
        )
        assert again.status_code == 201, again.text
        assert again.json()["id"] == first.json()["id"]
        other = await alice.post(
            "/v1/beneficiaries", beneficiary_body(), headers={"Idempotency-Key": "k-4"}
        )
        assert other.status_code == 422, other.text

    async def test_fingerprints_survive_a_blind_index_key_rotation(
        self, beneficiary_app: Any, alice: Caller, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        body = beneficiary_body()
        first = await alice.post(
            "/v1/beneficiaries", body, headers={"Idempotency-Key": "k-5"}
        )
        runtime = beneficiary_app.state.runtime
        ring: KeyRing = runtime.keyring
        rotated = replace(
            ring,
            blind_index_keys={
                **ring.blind_index_keys,
                "b-new": secrets.token_bytes(32),
            },
            blind_index_active="b-new",
        )
        monkeypatch.setattr(runtime, "keyring", rotated)
        again = await alice.post(
            "/v1/beneficiaries", body, headers={"Idempotency-Key": "k-5"}
        )
        assert again.status_code == 201, again.text
        assert again.json()["id"] == first.json()["id"]


def request_message(body: dict[str, Any]) -> str:
    """What the fingerprint of a registration covers: route and parsed body."""
    parsed = BeneficiaryCreate.model_validate(body)
    return "POST /v1/beneficiaries\0" + parsed.model_dump_json(exclude_unset=True)


async def stored_fingerprint(engine: AsyncEngine, key: str) -> str:
    async with engine.connect() as connection:
        found = await connection.execute(
            text("SELECT fingerprint FROM idempotency_record WHERE key = :k"),
            {"k": key},
        )
        return str(found.scalar_one())


class TestAudit:
    async def test_every_read_is_logged_with_reason(
        self, alice: Caller, issue: Any
    ) -> None:
        from shared.auth import Role

        b = await make_beneficiary(alice)
        await alice.get(
            f"/v1/beneficiaries/{b['id']}", headers={"X-Access-Reason": "follow-up"}
        )
        auditor = issue(alice.org, Role.auditor)
        r = await auditor.get("/v1/audit", params={"entity_id": b["id"]})
        assert r.status_code == 200
        entries = r.json()["items"]
        actions = [(e["action"], e["subject"], e["reason"]) for e in entries]
        assert ("read", "alice", "follow-up") in actions
        assert ("create", "alice", None) in actions
        assert (await alice.get("/v1/audit")).status_code == 403

    async def test_reading_anonymous_counts_is_logged_too(
        self, alice: Caller, issue: Any
    ) -> None:
        from shared.auth import Role

        r = await alice.post(
            "/v1/anonymous-services",
            {
                "activity_code": "awareness_session",
                "service_date": "2026-03-02",
                "counts": [{"sex": "female", "age_group": "adult", "count": 12}],
            },
        )
        assert r.status_code == 201, r.text
        record_id = r.json()["id"]
        read = await alice.get(
            f"/v1/anonymous-services/{record_id}",
            headers={"X-Access-Reason": "monthly check"},
        )
        assert read.status_code == 200, read.text
        auditor = issue(alice.org, Role.auditor)
        r = await auditor.get("/v1/audit", params={"entity_id": record_id})
        assert r.status_code == 200, r.text
        entries = [
            (e["action"], e["entity_type"], e["subject"], e["reason"])
            for e in r.json()["items"]
        ]
        assert ("read", "anonymous_service", "alice", "monthly check") in entries
        assert ("create", "anonymous_service", "alice", None) in entries


class TestIdempotencyHousekeeping:
    async def test_keys_older_than_a_week_are_purged(
        self, beneficiary_app: Any, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        from sqlalchemy import text

        from services.beneficiary.outbox.jobs import purge_idempotency_keys

        await alice.post(
            "/v1/beneficiaries", beneficiary_body(), headers={"Idempotency-Key": "old"}
        )
        await alice.post(
            "/v1/beneficiaries", beneficiary_body(), headers={"Idempotency-Key": "new"}
        )
        async with beneficiary_engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE idempotency_record "
                    "SET created_at = now() - interval '8 days' WHERE key = 'old'"
                )
            )
        assert (
            await purge_idempotency_keys({"runtime": beneficiary_app.state.runtime})
            == 1
        )
        assert await count_rows(beneficiary_engine, "idempotency_record") == 1
