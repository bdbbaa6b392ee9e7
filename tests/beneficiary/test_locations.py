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


async def _every_page(caller: Caller, path: str, **params: Any) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        r = await caller.get(path, params=query)
        assert r.status_code == 200, r.text
        page = r.json()
        pages.append([item["id"] for item in page["items"]])
        assert page["has_more"] is (page["next_cursor"] is not None)
        cursor = page["next_cursor"]
        if cursor is None:
            return pages


async def test_places_page_in_their_order_without_gaps_or_repeats(
    alice: Caller,
) -> None:
    whole = await alice.get("/v1/locations", params={"limit": 500})
    everything = [place["id"] for place in whole.json()["items"]]
    assert len(everything) > 60  # governorates and sites
    levels = [place["level"] for place in whole.json()["items"]]
    assert levels == sorted(levels, key=["governorate", "district", "site"].index)
    pages = await _every_page(alice, "/v1/locations", limit=7)
    assert [len(p) for p in pages[:-1]] == [7] * (len(pages) - 1)
    assert [i for page in pages for i in page] == everything
    sites = await _every_page(alice, "/v1/locations", level="site", limit=20)
    assert len(sites) == 3


async def test_a_cursor_the_api_did_not_issue_is_refused(alice: Caller) -> None:
    for cursor in ("not-a-cursor", "WyJ4Il0"):  # garbage, then a one-key list
        r = await alice.get("/v1/locations", params={"cursor": cursor})
        assert r.status_code == 400, r.text
        assert r.headers["content-type"] == "application/problem+json"
