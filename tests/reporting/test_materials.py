"""Materials distributed: lines recorded on group activities and services
through the beneficiary API, counted by reporting as quantities by item,
language, site, activity and month; bad input writes nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.auth import Role
from tests.beneficiary.api import (
    count_rows,
    make_beneficiary,
    record_service,
    withdraw_registration,
)
from tests.callers import Caller
from tests.reporting.helpers import by_value, values

YEAR = {"start": "2026-01-01", "end": "2026-12-31"}


async def _created(caller: Caller, path: str, body: dict[str, Any]) -> str:
    r = await caller.post(path, body)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def _group(caller: Caller, code: str, day: str, site: str, person: str) -> str:
    return await _created(
        caller,
        "/v1/group-activities",
        {
            "activity_code": code,
            "activity_date": day,
            "site_id": site,
            "attendee_ids": [person],
        },
    )


async def _hand_out(caller: Caller, **body: Any) -> dict[str, Any]:
    r = await caller.post("/v1/material-distributions", body)
    assert r.status_code == 201, r.text
    found: dict[str, Any] = r.json()
    return found


async def test_materials_are_summed_by_item_language_site_and_month(
    alice: Caller,
    bob: Caller,
    issue: Any,
    orgs: Any,
    site_ids: list[str],
    reporting_client: httpx.AsyncClient,
    beneficiary_engine: AsyncEngine,
    catch_up: Any,
) -> None:
    person = (await make_beneficiary(alice, site_id=site_ids[0]))["id"]
    games = await _group(
        alice, "recreational_activity", "2026-02-10", site_ids[0], person
    )
    awareness = await _group(
        alice, "awareness_session", "2026-03-05", site_ids[1], person
    )
    service = await record_service(
        alice, person, service_date="2026-03-12", site_id=site_ids[0]
    )
    bags = await _hand_out(
        alice, group_activity_id=games, item_code="school_bag", quantity=200
    )
    assert (bags["distributed_on"], bags["activity_code"], bags["site_id"]) == (
        "2026-02-10",
        "recreational_activity",
        site_ids[0],
    )
    for language, quantity in (("ar", 40), ("ckb", 30), ("kmr", 20)):
        await _hand_out(
            alice,
            group_activity_id=awareness,
            item_code="leaflet",
            quantity=quantity,
            language=language,
        )
    await _hand_out(
        alice, service_record_id=service["id"], item_code="hygiene_kit", quantity=1
    )
    mistake = await _hand_out(
        alice, group_activity_id=games, item_code="dignity_kit", quantity=5
    )
    voided = await alice.post(
        f"/v1/material-distributions/{mistake['id']}/void", {"reason": "wrong kit"}
    )
    assert voided.status_code == 200, voided.text
    assert voided.json()["voided"] is True
    other = (await make_beneficiary(bob))["id"]
    bobs = await _group(bob, "recreational_activity", "2026-02-10", site_ids[0], other)
    await _hand_out(bob, group_activity_id=bobs, item_code="school_bag", quantity=50)
    await catch_up()

    reader = issue(orgs["a"], Role.me_officer)
    items = await values(
        reporting_client, reader, "materials_distributed", **YEAR, by="item"
    )
    assert by_value(items) == {"school_bag": 200, "leaflet": 90, "hygiene_kit": 1}
    assert items["total"]["value"] == 291
    leaflets = await values(
        reporting_client,
        reader,
        "materials_distributed",
        **YEAR,
        item="leaflet",
        by="language",
    )
    assert by_value(leaflets) == {"ar": 40, "ckb": 30, "kmr": 20}
    months = await values(
        reporting_client, reader, "materials_distributed", **YEAR, by="month"
    )
    assert by_value(months) == {"2026-02": 200, "2026-03": 91}
    places = await values(
        reporting_client, reader, "materials_distributed", **YEAR, by="site,activity"
    )
    assert by_value(places) == {
        (site_ids[0], "recreational_activity"): 200,
        (site_ids[1], "awareness_session"): 90,
        (site_ids[0], "individual_counselling"): 1,
    }
    strict = await reporting_client.get(
        "/v1/indicators/materials_distributed/values",
        params={**YEAR, "item": "school_bags"},
        headers=reader.headers(),
    )
    assert strict.status_code == 422, strict.text
    assert await count_rows(beneficiary_engine, "material_distribution") == 7


async def test_bad_lines_are_refused_and_write_nothing(
    alice: Caller,
    bob: Caller,
    site_ids: list[str],
    beneficiary_engine: AsyncEngine,
) -> None:
    person = (await make_beneficiary(alice, site_id=site_ids[0]))["id"]
    group = await _group(alice, "awareness_session", "2026-03-05", site_ids[0], person)
    service = (await record_service(alice, person))["id"]
    other = (await make_beneficiary(bob))["id"]
    bobs = await _group(bob, "awareness_session", "2026-03-05", site_ids[0], other)
    events = await count_rows(beneficiary_engine, "outbox_event")
    line = {"item_code": "leaflet", "quantity": 10}
    refused = {
        "unknown item": {**line, "group_activity_id": group, "item_code": "tent"},
        "no record": line,
        "two records": {
            **line,
            "group_activity_id": group,
            "service_record_id": service,
        },
        "no quantity": {**line, "group_activity_id": group, "quantity": 0},
        "bad language": {**line, "group_activity_id": group, "language": "Arabic"},
        "extra field": {**line, "group_activity_id": group, "recipient": "Ali"},
    }
    for why, body in refused.items():
        r = await alice.post("/v1/material-distributions", body)
        assert r.status_code == 422, (why, r.text)
        assert r.headers["content-type"] == "application/problem+json", why
    foreign = await alice.post(
        "/v1/material-distributions", {**line, "group_activity_id": bobs}
    )
    assert foreign.status_code == 404, foreign.text
    assert bobs not in foreign.text
    void = await alice.post(f"/v1/service-records/{service}/void", {"reason": "typo"})
    assert void.status_code == 200, void.text
    on_voided = await alice.post(
        "/v1/material-distributions", {**line, "service_record_id": service}
    )
    assert on_voided.status_code == 422, on_voided.text
    assert await count_rows(beneficiary_engine, "material_distribution") == 0
    assert await count_rows(beneficiary_engine, "outbox_event") == events + 1  # void

    key = {"Idempotency-Key": "materials-1"}
    first = await alice.post(
        "/v1/material-distributions", {**line, "group_activity_id": group}, headers=key
    )
    again = await alice.post(
        "/v1/material-distributions", {**line, "group_activity_id": group}, headers=key
    )
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()
    assert await count_rows(beneficiary_engine, "material_distribution") == 1
    listed = await alice.get(
        "/v1/material-distributions", params={"group_activity_id": group}
    )
    assert [i["id"] for i in listed.json()["items"]] == [first.json()["id"]]
    same_id = await alice.post(
        "/v1/material-distributions",
        {**line, "group_activity_id": group, "id": first.json()["id"]},
    )
    assert same_id.status_code == 409, same_id.text
    assert await count_rows(beneficiary_engine, "material_distribution") == 1


async def test_erasure_clears_the_void_reasons_of_a_persons_material_lines(
    alice: Caller, issue: Any, orgs: Any, beneficiary_engine: AsyncEngine
) -> None:
    """A void reason is free text (it may name the person); the person's
    erasure clears it on the lines handed out with their services, and
    leaves the lines (counts of things) and other people's reasons."""
    person = (await make_beneficiary(alice))["id"]
    other = (await make_beneficiary(alice))["id"]
    lines = []
    for who in (person, other):
        service = await record_service(alice, who, service_date="2026-03-12")
        line = await _hand_out(
            alice, service_record_id=service["id"], item_code="hygiene_kit", quantity=1
        )
        voided = await alice.post(
            f"/v1/material-distributions/{line['id']}/void",
            {"reason": "given to the wrong family member"},
        )
        assert voided.status_code == 200, voided.text
        lines.append(line["id"])
    erased = await withdraw_registration(issue, orgs["a"], person)
    assert erased.status_code in (200, 201), erased.text
    async with beneficiary_engine.connect() as connection:
        reasons: dict[str, str | None] = dict(
            (
                await connection.execute(
                    text("SELECT id::text, void_reason FROM material_distribution")
                )
            ).all()
        )
    assert reasons == {lines[0]: None, lines[1]: "given to the wrong family member"}


async def test_voiding_a_service_voids_its_material_lines(
    alice: Caller,
    issue: Any,
    orgs: Any,
    site_ids: list[str],
    reporting_client: httpx.AsyncClient,
    beneficiary_engine: AsyncEngine,
    catch_up: Any,
) -> None:
    """The lines of a voided service stop counting with it, each voided,
    audited and announced; a line voided before keeps its own reason, and
    the void replayed or sent again writes nothing more."""
    person = (await make_beneficiary(alice, site_id=site_ids[0]))["id"]
    service = (await record_service(alice, person, service_date="2026-03-12"))["id"]
    kept = await record_service(alice, person, service_date="2026-03-13")
    kits = await _hand_out(
        alice, service_record_id=service, item_code="hygiene_kit", quantity=2
    )
    leaflets = await _hand_out(
        alice,
        service_record_id=service,
        item_code="leaflet",
        quantity=3,
        language="ar",
    )
    wrong = await _hand_out(
        alice, service_record_id=service, item_code="dignity_kit", quantity=1
    )
    await _hand_out(
        alice, service_record_id=kept["id"], item_code="hygiene_kit", quantity=1
    )
    first = await alice.post(
        f"/v1/material-distributions/{wrong['id']}/void", {"reason": "wrong kit"}
    )
    assert first.status_code == 200, first.text
    await catch_up()
    reader = issue(orgs["a"], Role.me_officer)
    before = await values(reporting_client, reader, "materials_distributed", **YEAR)
    assert before["total"]["value"] == 6
    events = await count_rows(beneficiary_engine, "outbox_event")
    audited = await count_rows(beneficiary_engine, "audit_entry")

    key = {"Idempotency-Key": "void-with-lines"}
    path = f"/v1/service-records/{service}/void"
    voided = await alice.post(path, {"reason": "entered twice"}, headers=key)
    assert voided.status_code == 200, voided.text
    # the record's event and one per line still counting
    assert await count_rows(beneficiary_engine, "outbox_event") == events + 3
    lines = {
        i["id"]: i
        for i in (
            await alice.get(
                "/v1/material-distributions", params={"service_record_id": service}
            )
        ).json()["items"]
    }
    assert {k: (v["voided"], v["version"]) for k, v in lines.items()} == {
        kits["id"]: (True, 2),
        leaflets["id"]: (True, 2),
        wrong["id"]: (True, 2),
    }
    async with beneficiary_engine.connect() as connection:
        reasons: dict[str, str | None] = dict(
            (
                await connection.execute(
                    text("SELECT id::text, void_reason FROM material_distribution")
                )
            ).all()
        )
        trail = (
            await connection.execute(
                text(
                    "SELECT entity_type, entity_id::text FROM audit_entry"
                    " WHERE action = 'void' ORDER BY entity_type, entity_id"
                )
            )
        ).all()
    assert {k: reasons[k] for k in lines} == {
        kits["id"]: "entered twice",
        leaflets["id"]: "entered twice",
        wrong["id"]: "wrong kit",
    }
    assert sorted(trail) == sorted(
        [
            ("material_distribution", wrong["id"]),
            ("material_distribution", kits["id"]),
            ("material_distribution", leaflets["id"]),
            ("service_record", service),
        ]
    )
    written = await count_rows(beneficiary_engine, "outbox_event")
    replayed = await alice.post(path, {"reason": "entered twice"}, headers=key)
    assert replayed.status_code == 200, replayed.text
    again = await alice.post(path, {"reason": "another reason"})
    assert again.status_code == 200, again.text
    assert await count_rows(beneficiary_engine, "outbox_event") == written
    assert await count_rows(beneficiary_engine, "audit_entry") > audited
    await catch_up()
    after = await values(
        reporting_client, reader, "materials_distributed", **YEAR, by="item"
    )
    assert by_value(after) == {"hygiene_kit": 1}
    assert after["total"]["value"] == 1


async def test_a_line_waits_for_a_void_of_its_record_running_at_the_same_time(
    alice: Caller, beneficiary_engine: AsyncEngine
) -> None:
    """While a void holds its record (it updates the record, then voids the
    lines it sees), a new line on that record waits, then sees the record
    voided: it is refused, never left counting on a voided record."""
    person = (await make_beneficiary(alice))["id"]
    service = await record_service(alice, person, service_date="2026-04-02")
    async with beneficiary_engine.connect() as voiding:
        await voiding.execute(
            text("UPDATE service_record SET voided = true WHERE id = :id"),
            {"id": service["id"]},
        )
        line = asyncio.create_task(
            alice.post(
                "/v1/material-distributions",
                {"service_record_id": service["id"], "item_code": "leaflet",
                 "quantity": 3},
            )
        )  # fmt: skip
        done, _ = await asyncio.wait({line}, timeout=1)
        assert not done, "the line did not wait for the void in progress"
        await voiding.commit()
    answer = await line
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["type"] == "voided"
    assert await count_rows(beneficiary_engine, "material_distribution") == 0
