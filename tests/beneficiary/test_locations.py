from __future__ import annotations

from typing import Any

from shared.auth import Role
from tests.callers import Caller


async def test_a_pcode_query_with_a_nul_character_is_invalid_not_a_500(
    alice: Caller,
) -> None:
    r = await alice.get("/v1/locations", params={"pcode": "\x00SY"})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"] == ["query", "pcode"]


async def test_a_location_name_with_a_nul_character_is_invalid_not_a_500(
    issue: Any, orgs: Any
) -> None:
    manager = issue(orgs["a"], Role.programme_manager)
    r = await manager.post(
        "/v1/locations", {"name": "Camp\x00 1", "level": "governorate"}
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"] == ["body", "name"]
