"""Review of issue 17's passes (wt-rev), what held: a service record's
Idempotency-Key, now looked up by the driver itself (``fetch_rows``) in the
one dependency for actor, session and key, is replayed only to the same
caller (organisation and subject) for the same route and body."""

from __future__ import annotations

from typing import Any

from shared.auth import Role
from tests.beneficiary.api import make_beneficiary
from tests.callers import Caller, Org


def _body(person: dict[str, Any], day: str = "2026-02-01") -> dict[str, Any]:
    return {
        "beneficiary_id": person["id"],
        "activity_code": "individual_counselling",
        "service_date": day,
    }


async def test_rev_a_records_key_answers_only_its_own_request(
    alice: Caller, issue: Any, orgs: dict[str, Org]
) -> None:
    person = await make_beneficiary(alice)
    key = {"Idempotency-Key": "rev-key-1"}
    first = await alice.post("/v1/service-records", _body(person), headers=key)
    assert first.status_code == 201, first.text
    again = await alice.post("/v1/service-records", _body(person), headers=key)
    assert again.status_code == 201, again.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["id"] == first.json()["id"]

    other_body = await alice.post(
        "/v1/service-records", _body(person, "2026-02-02"), headers=key
    )
    assert other_body.status_code == 422
    assert other_body.json()["errors"][0]["type"] == "idempotency_key_reused"

    other_route = await alice.patch(
        f"/v1/service-records/{first.json()['id']}",
        {"duration_minutes": 30},
        headers={**key, "If-Match": first.headers["ETag"]},
    )
    assert other_route.status_code == 422, other_route.text

    colleague = issue(orgs["a"], Role.case_worker, subject="alice-colleague")
    theirs = await colleague.post("/v1/service-records", _body(person), headers=key)
    assert theirs.status_code == 201, theirs.text
    assert theirs.headers.get("Idempotent-Replayed") is None
    assert theirs.json()["id"] != first.json()["id"]

    # the same subject name in another organisation is someone else
    namesake = issue(orgs["b"], Role.case_worker, subject="alice")
    elsewhere = await make_beneficiary(namesake)
    own = await namesake.post("/v1/service-records", _body(elsewhere), headers=key)
    assert own.status_code == 201, own.text
    assert own.headers.get("Idempotent-Replayed") is None
    replay_there = await namesake.post(
        "/v1/service-records", _body(person), headers={"Idempotency-Key": "rev-key-2"}
    )
    assert replay_there.status_code == 404, replay_there.text
