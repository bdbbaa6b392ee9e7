from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from shared.auth import Role
from tests.beneficiary.api import (
    CONSENTS,
    audit_trail,
    count_rows,
    make_beneficiary,
    offline_batch,
    offline_person,
)
from tests.callers import Caller


class TestBatch:
    async def test_created_then_replayed_three_times_changes_nothing(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        batch = offline_batch()
        first = await alice.post("/v1/sync", batch)
        assert first.status_code == 200, first.text
        assert [r["status"] for r in first.json()["results"]] == ["created"] * 3
        events = await count_rows(beneficiary_engine, "outbox_event")
        for _ in range(3):
            again = await alice.post("/v1/sync", batch)
            assert [r["status"] for r in again.json()["results"]] == ["unchanged"] * 3
        assert await count_rows(beneficiary_engine, "beneficiary") == 1
        assert await count_rows(beneficiary_engine, "service_record") == 2
        assert await count_rows(beneficiary_engine, "outbox_event") == events
        assert await count_rows(beneficiary_engine, "sync_conflict") == 0

    async def test_offline_edit_on_current_version_applies(self, alice: Caller) -> None:
        batch = offline_batch()
        await alice.post("/v1/sync", batch)
        change = batch["beneficiaries"][0]
        change["base_version"] = 1
        change["data"]["marital_status"] = "widowed"
        r = await alice.post("/v1/sync", {"beneficiaries": [change]})
        assert r.json()["results"][0]["status"] == "updated"
        assert r.json()["results"][0]["version"] == 2
        replay = await alice.post("/v1/sync", {"beneficiaries": [change]})
        assert replay.json()["results"][0]["status"] == "unchanged"

    async def test_conflicting_edit_is_kept_and_resolvable(
        self, alice: Caller, issue: Any
    ) -> None:
        batch = offline_batch()
        await alice.post("/v1/sync", batch)
        person = batch["beneficiaries"][0]
        path = f"/v1/beneficiaries/{person['id']}"
        online = await alice.patch(
            path, {"marital_status": "divorced"}, headers={"If-Match": '"1"'}
        )
        assert online.status_code == 200
        offline = {
            **person,
            "base_version": 1,
            "data": {**person["data"], "phone": "0770 555 6666"},
        }
        r = await alice.post(
            "/v1/sync", {"device_id": "tablet-9", "beneficiaries": [offline]}
        )
        result = r.json()["results"][0]
        assert result["status"] == "conflict"
        assert result["server_copy"]["marital_status"] == "divorced"
        assert result["server_copy"]["phone"] is None
        again = await alice.post(
            "/v1/sync", {"device_id": "tablet-9", "beneficiaries": [offline]}
        )
        assert again.json()["results"][0]["conflict_id"] == result["conflict_id"]

        assert (await alice.get("/v1/sync/conflicts")).status_code == 403
        supervisor = issue(alice.org, Role.supervisor)
        conflicts = (await supervisor.get("/v1/sync/conflicts")).json()["items"]
        assert len(conflicts) == 1
        assert conflicts[0]["client_version"]["phone"] == "0770 555 6666"
        assert conflicts[0]["device_id"] == "tablet-9"
        resolved = await supervisor.post(
            f"/v1/sync/conflicts/{result['conflict_id']}/resolve",
            {"resolution": "apply_client"},
        )
        assert resolved.status_code == 200, resolved.text
        now = (await alice.get(path)).json()
        assert now["phone"] == "0770 555 6666"
        assert now["version"] == 3
        twice = await supervisor.post(
            f"/v1/sync/conflicts/{result['conflict_id']}/resolve",
            {"resolution": "keep_server"},
        )
        assert twice.status_code == 409
        assert (await supervisor.get("/v1/sync/conflicts")).json()["items"] == []

    async def test_rejected_record_leaves_no_trace_and_others_commit(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        batch = offline_batch()
        batch["service_records"][0]["data"]["activity_code"] = "no_such_activity"
        r = await alice.post("/v1/sync", batch)
        statuses = [x["status"] for x in r.json()["results"]]
        assert statuses == ["created", "rejected", "created"]
        assert r.json()["results"][1]["errors"][0]["loc"] == ["body", "activity_code"]
        assert await count_rows(beneficiary_engine, "service_record") == 1

    async def test_new_person_without_consent_is_rejected(self, alice: Caller) -> None:
        batch = offline_batch()
        batch["beneficiaries"][0]["consents"] = []
        batch["service_records"] = []
        r = await alice.post("/v1/sync", batch)
        assert r.json()["results"][0]["status"] == "rejected"

    async def test_a_registration_keeps_its_own_rule_among_valid_people(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        """What a registration adds to a person's fields (a name, one entry
        per purpose, registration granted) is checked per person of a batch,
        each refusal with its own error, the valid people written."""
        services_only = [{**CONSENTS[1]}]
        twice = [CONSENTS[0], {**CONSENTS[0], "granted": False}]
        withheld = [{**CONSENTS[0], "granted": False}, CONSENTS[1]]
        nameless = {**new_person(), "data": offline_person(full_name=None)}
        people = [
            new_person(),
            {**new_person(), "consents": services_only},
            {**new_person(), "consents": twice},
            {**new_person(), "consents": withheld},
            nameless,
            new_person(),
        ]
        r = await alice.post("/v1/sync", {"beneficiaries": people})
        results = r.json()["results"]
        assert [x["status"] for x in results] == ["created"] + ["rejected"] * 4 + [
            "created"
        ]
        messages = [x["errors"][0]["msg"] for x in results[1:5]]
        assert messages == [
            "Value error, registration needs consent to registration; record "
            "an anonymous service count instead",
            "Value error, one consent entry per purpose",
            "Value error, registration needs consent to registration; record "
            "an anonymous service count instead",
            "Value error, full_name is required to register someone",
        ]
        assert await count_rows(beneficiary_engine, "beneficiary") == 2
        assert await count_rows(beneficiary_engine, "consent_entry") == 4

    async def test_malformed_batch_writes_nothing(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        batch = offline_batch()
        batch["service_records"][1]["data"]["service_date"] = "2999-01-01"
        r = await alice.post("/v1/sync", batch)
        assert r.status_code == 422
        assert await count_rows(beneficiary_engine, "beneficiary") == 0

    async def test_other_organisations_ids_are_not_found(
        self, alice: Caller, bob: Caller
    ) -> None:
        batch = offline_batch()
        await alice.post("/v1/sync", batch)
        hijack = {**batch["beneficiaries"][0], "base_version": 1}
        r = await bob.post("/v1/sync", {"beneficiaries": [hijack]})
        assert r.json()["results"][0]["status"] == "rejected"
        assert (await alice.get(f"/v1/beneficiaries/{hijack['id']}")).json()[
            "version"
        ] == 1


def new_person(**overrides: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "data": offline_person(**overrides),
        "consents": CONSENTS,
    }


def new_record(person_id: str) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "data": {
            "beneficiary_id": person_id,
            "activity_code": "pfa",
            "service_date": "2026-02-03",
        },
    }


class TestNewRecordsWrittenTogether:
    async def test_every_row_event_and_consent_of_a_large_batch(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        people = [new_person() for _ in range(40)]
        records = [new_record(people[n % 40]["id"]) for n in range(160)]
        events = await count_rows(beneficiary_engine, "outbox_event")
        r = await alice.post(
            "/v1/sync", {"beneficiaries": people, "service_records": records}
        )
        assert r.status_code == 200, r.text
        assert [x["status"] for x in r.json()["results"]] == ["created"] * 200
        assert [x["id"] for x in r.json()["results"]] == [
            c["id"] for c in people + records
        ]
        assert await count_rows(beneficiary_engine, "beneficiary") == 40
        assert await count_rows(beneficiary_engine, "service_record") == 160
        assert await count_rows(beneficiary_engine, "consent_entry") == 80
        # registered + two consents per person, recorded per service
        assert (
            await count_rows(beneficiary_engine, "outbox_event")
            == events + 40 * 3 + 160
        )
        person = (await alice.get(f"/v1/beneficiaries/{people[0]['id']}")).json()
        assert set(person["consents"]) == {"registration", "services"}
        assert person["version"] == 1

    async def test_duplicates_are_flagged_within_the_batch_and_against_the_server(
        self, alice: Caller
    ) -> None:
        known = await make_beneficiary(alice, full_name="Huda Kareem Ali")
        first = new_person(full_name="Other Name", phone="0750 123 4567")
        second = new_person(full_name="Third Name", phone="0750 123 4567")
        namesake = new_person(full_name="huda  kareem ali", date_of_birth="1991-01-01")
        r = await alice.post("/v1/sync", {"beneficiaries": [first, second, namesake]})
        assert [x["status"] for x in r.json()["results"]] == ["created"] * 3

        async def flagged(person: dict[str, Any]) -> list[str]:
            path = f"/v1/beneficiaries/{person['id']}"
            found: list[str] = (await alice.get(path)).json()["possible_duplicates"]
            return found

        assert await flagged(first) == []
        assert await flagged(second) == [first["id"]]
        assert await flagged(namesake) == [known["id"]]

    async def test_a_person_created_then_edited_in_one_batch(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        """The edit finds the person the bulk writer wrote as the session's
        row: the edit is written, as a version of its own."""
        fresh = new_person()
        edited = {
            **fresh,
            "base_version": 1,
            "data": {**fresh["data"], "marital_status": "widowed"},
        }
        r = await alice.post(
            "/v1/sync",
            {
                "beneficiaries": [fresh, edited],
                "service_records": [new_record(fresh["id"])],
            },
        )
        assert [(x["status"], x.get("version")) for x in r.json()["results"]] == [
            ("created", 1),
            ("updated", 2),
            ("created", 1),
        ]
        read = (await alice.get(f"/v1/beneficiaries/{fresh['id']}")).json()
        assert (read["marital_status"], read["version"]) == ("widowed", 2)
        replay = await alice.post("/v1/sync", {"beneficiaries": [edited]})
        assert replay.json()["results"][0]["status"] == "unchanged"

    async def test_the_batch_order_still_decides(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        batch = offline_batch()
        await alice.post("/v1/sync", batch)
        known = batch["beneficiaries"][0]
        withdrawn = {
            **known,
            "consents": [
                *CONSENTS[:1],
                {"purpose": "services", "granted": False, "form_version": "2024-1"},
            ],
        }
        fresh = new_person()
        repeated = new_record(fresh["id"])
        r = await alice.post(
            "/v1/sync",
            {
                "beneficiaries": [fresh, withdrawn, fresh],
                "service_records": [new_record(known["id"]), repeated, repeated],
            },
        )
        statuses = [x["status"] for x in r.json()["results"]]
        assert statuses == [
            "created",
            "updated",
            "unchanged",
            "rejected",
            "created",
            "unchanged",
        ]
        assert "services" in r.json()["results"][3]["detail"]
        assert await count_rows(beneficiary_engine, "service_record") == 3

    async def test_a_clash_inside_the_new_records_rejects_only_that_record(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        entry_id = str(uuid.uuid4())
        people = [new_person() for _ in range(3)]
        for person in people[:2]:
            person["consents"] = [{**CONSENTS[0], "id": entry_id}, CONSENTS[1]]
        r = await alice.post("/v1/sync", {"beneficiaries": people})
        results = r.json()["results"]
        assert [x["status"] for x in results] == ["created", "rejected", "created"]
        assert "consent entry" in results[1]["detail"]
        assert await count_rows(beneficiary_engine, "beneficiary") == 2
        assert await count_rows(beneficiary_engine, "consent_entry") == 4

    async def test_an_id_of_another_organisation_is_a_free_id(
        self, alice: Caller, bob: Caller
    ) -> None:
        """Ids are unique per organisation (decision 0006): rejecting it would
        tell that the id exists elsewhere."""
        taken = new_person()
        await alice.post("/v1/sync", {"beneficiaries": [taken]})
        mine = new_person()
        r = await bob.post("/v1/sync", {"beneficiaries": [taken, mine]})
        assert [x["status"] for x in r.json()["results"]] == ["created", "created"]


class TestPull:
    async def test_changes_since_cursor(self, alice: Caller, bob: Caller) -> None:
        batch = offline_batch()
        await alice.post("/v1/sync", batch)
        await bob.post("/v1/sync", offline_batch())
        first = (await alice.get("/v1/sync/changes")).json()
        assert [b["id"] for b in first["beneficiaries"]] == [
            batch["beneficiaries"][0]["id"]
        ]
        assert len(first["service_records"]) == 2
        cursor = first["next_cursor"]
        nothing = (
            await alice.get("/v1/sync/changes", params={"cursor": cursor})
        ).json()
        assert nothing["beneficiaries"] == []
        assert nothing["service_records"] == []
        path = f"/v1/beneficiaries/{batch['beneficiaries'][0]['id']}"
        await alice.patch(path, {"nationality": "SYR"}, headers={"If-Match": '"1"'})
        later = (await alice.get("/v1/sync/changes", params={"cursor": cursor})).json()
        assert [b["nationality"] for b in later["beneficiaries"]] == ["SYR"]
        assert later["next_cursor"] > cursor


class TestBackpressure:
    async def test_a_crowd_of_devices_is_told_to_retry(
        self, beneficiary_app: Any, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        import asyncio

        settings = beneficiary_app.state.runtime.settings
        saved = (
            getattr(beneficiary_app.state, "sync_gate", None),
            settings.sync_wait_seconds,
        )
        beneficiary_app.state.sync_gate = asyncio.Semaphore(0)  # every turn taken
        settings.sync_wait_seconds = 0.05
        try:
            r = await alice.post("/v1/sync", offline_batch())
        finally:
            beneficiary_app.state.sync_gate, settings.sync_wait_seconds = saved
        assert r.status_code == 503
        assert r.headers["retry-after"] == "5"
        assert r.headers["content-type"] == "application/problem+json"
        assert await count_rows(beneficiary_engine, "beneficiary") == 0
        again = await alice.post("/v1/sync", offline_batch())
        assert again.status_code == 200


async def _conflict_at(alice: Caller, site_id: str) -> None:
    """A person at the site, edited online, then offline on the old version."""
    person: dict[str, Any] = {"id": str(uuid.uuid4()), "consents": CONSENTS}
    person["data"] = offline_person(site_id=site_id)
    assert (
        await alice.post("/v1/sync", {"beneficiaries": [person]})
    ).status_code == 200
    online = await alice.patch(
        f"/v1/beneficiaries/{person['id']}",
        {"marital_status": "divorced"},
        headers={"If-Match": '"1"'},
    )
    assert online.status_code == 200, online.text
    offline = {**person, "base_version": 1}
    offline["data"] = {**person["data"], "phone": "0770 555 6666"}
    r = await alice.post("/v1/sync", {"beneficiaries": [offline]})
    assert r.json()["results"][0]["status"] == "conflict"


async def _conflict_pages(caller: Caller) -> list[int]:
    sizes, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await caller.get("/v1/sync/conflicts", params=params)).json()
        sizes.append(len(page["items"]))
        cursor = page["next_cursor"]
        if cursor is None:
            return sizes


async def test_a_site_scoped_supervisor_gets_full_pages_of_their_conflicts(
    alice: Caller, issue: Any, site_ids: list[str]
) -> None:
    here, there = site_ids[:2]
    for site in (there, here, there, here, here):
        await _conflict_at(alice, site)
    everywhere = issue(alice.org, Role.supervisor)
    assert await _conflict_pages(everywhere) == [2, 2, 1]
    local = issue(alice.org, Role.supervisor, sites=[here])
    assert await _conflict_pages(local) == [2, 1]


async def test_a_conflicts_trail_from_the_batch_to_its_resolution(
    alice: Caller, issue: Any, beneficiary_engine: AsyncEngine
) -> None:
    """A batch audits what it answered with the server's copy, each time it
    does so (a keyed replay applies the batch again); the conflict's
    listing, its resolution (on the person, once per key) and a pull of
    changes are audited too."""
    batch = offline_batch()
    await alice.post("/v1/sync", batch)
    person = batch["beneficiaries"][0]
    online = await alice.patch(
        f"/v1/beneficiaries/{person['id']}",
        {"marital_status": "divorced"},
        headers={"If-Match": '"1"'},
    )
    assert online.status_code == 200, online.text
    stale = {
        **person,
        "base_version": 1,
        "data": {**person["data"], "phone": "0770 555 6666"},
    }
    keyed = {"Idempotency-Key": "stale-batch"}
    for _ in range(2):
        r = await alice.post("/v1/sync", {"beneficiaries": [stale]}, headers=keyed)
        assert r.json()["results"][0]["status"] == "conflict", r.text
    assert r.headers["Idempotent-Replayed"] == "true"
    conflict = r.json()["results"][0]["conflict_id"]
    supervisor = issue(alice.org, Role.supervisor)
    listed = (await supervisor.get("/v1/sync/conflicts")).json()["items"]
    assert [c["id"] for c in listed] == [conflict]
    for _ in range(2):
        resolved = await supervisor.post(
            f"/v1/sync/conflicts/{conflict}/resolve",
            {"resolution": "keep_server"},
            headers={"Idempotency-Key": "resolve"},
        )
        assert resolved.status_code == 200, resolved.text
    pulled = (await alice.get("/v1/sync/changes")).json()["beneficiaries"]
    assert [b["id"] for b in pulled] == [person["id"]]
    assert await audit_trail(
        beneficiary_engine,
        person["id"],
        conflict,
        not_actions=("create", "update", "read"),
    ) == [
        ("sync", "beneficiary", person["id"]),
        ("sync", "beneficiary", person["id"]),
        ("sync", "beneficiary", person["id"]),
        ("read_conflict", "sync_conflict", conflict),
        ("resolve_conflict", "beneficiary", person["id"]),
        ("sync_pull", "beneficiary", person["id"]),
    ]


async def test_an_old_devices_one_topic_and_a_new_ones_list(
    alice: Caller, beneficiary_engine: AsyncEngine
) -> None:
    """A device that sends ``topic_code`` alone records a list of one, and
    sending it again is unchanged (no conflict, no event); a newer device's
    ``topic_codes`` on the current version replaces the list."""
    person = await make_beneficiary(alice)
    data: dict[str, Any] = {
        "beneficiary_id": person["id"],
        "activity_code": "individual_counselling",
        "service_date": "2026-02-03",
        "topic_code": "sleep",
    }
    record = {"id": str(uuid.uuid4()), "data": data}
    batch = {"device_id": "old-tablet", "service_records": [record]}
    first = await alice.post("/v1/sync", batch)
    assert [r["status"] for r in first.json()["results"]] == ["created"], first.text
    read = (await alice.get(f"/v1/service-records/{record['id']}")).json()
    assert (read["topic_code"], read["topic_codes"]) == ("sleep", ["sleep"])
    events = await count_rows(beneficiary_engine, "outbox_event")
    again = await alice.post("/v1/sync", batch)
    assert [r["status"] for r in again.json()["results"]] == ["unchanged"]
    assert await count_rows(beneficiary_engine, "outbox_event") == events
    assert await count_rows(beneficiary_engine, "sync_conflict") == 0

    edit = {
        "id": record["id"],
        "base_version": 1,
        "data": {
            **data,
            "topic_code": None,
            "topic_codes": ["sleep", "coping_skills"],
        },
    }
    newer = await alice.post(
        "/v1/sync", {"device_id": "new-tablet", "service_records": [edit]}
    )
    assert [r["status"] for r in newer.json()["results"]] == ["updated"], newer.text
    read = (await alice.get(f"/v1/service-records/{record['id']}")).json()
    assert read["topic_codes"] == ["sleep", "coping_skills"]
    assert read["version"] == 2


async def test_an_old_device_edits_a_record_without_dropping_its_other_topics(
    alice: Caller, beneficiary_engine: AsyncEngine
) -> None:
    """An old device knows one topic (``topic_code``, the first): its edit of
    a two-topic record keeps the other topic, sent again it is unchanged,
    and a topic of its own replaces the first only; PATCH reads it alike."""
    person = await make_beneficiary(alice)
    data: dict[str, Any] = {
        "beneficiary_id": person["id"],
        "activity_code": "individual_counselling",
        "service_date": "2026-02-03",
        "topic_codes": ["sleep", "coping_skills"],
    }
    record_id = str(uuid.uuid4())
    new = {
        "device_id": "new-tablet",
        "service_records": [{"id": record_id, "data": data}],
    }
    first = await alice.post("/v1/sync", new)
    assert [r["status"] for r in first.json()["results"]] == ["created"], first.text
    path = f"/v1/service-records/{record_id}"

    old_data = {**data, "duration_minutes": 45, "topic_code": "sleep"}
    del old_data["topic_codes"]
    old = {
        "device_id": "old-tablet",
        "service_records": [{"id": record_id, "base_version": 1, "data": old_data}],
    }
    edited = await alice.post("/v1/sync", old)
    assert [r["status"] for r in edited.json()["results"]] == ["updated"], edited.text
    read = (await alice.get(path)).json()
    assert read["topic_codes"] == ["sleep", "coping_skills"]
    assert (read["duration_minutes"], read["version"]) == (45, 2)
    events = await count_rows(beneficiary_engine, "outbox_event")
    again = await alice.post("/v1/sync", old)
    assert [r["status"] for r in again.json()["results"]] == ["unchanged"]
    assert await count_rows(beneficiary_engine, "outbox_event") == events
    assert await count_rows(beneficiary_engine, "sync_conflict") == 0

    other = {**old_data, "topic_code": "anger_management"}
    renamed = await alice.post(
        "/v1/sync",
        {"service_records": [{"id": record_id, "base_version": 2, "data": other}]},
    )
    assert [r["status"] for r in renamed.json()["results"]] == ["updated"]
    read = (await alice.get(path)).json()
    assert read["topic_codes"] == ["anger_management", "coping_skills"]

    for sent, topics in (
        ({"topic_code": "anger_management"}, ["anger_management", "coping_skills"]),
        ({"topic_code": "sleep"}, ["sleep", "coping_skills"]),
        ({"topic_code": "coping_skills"}, ["coping_skills"]),
        ({"topic_code": None}, []),
        ({"topic_code": "sleep", "topic_codes": ["sleep"]}, ["sleep"]),
    ):
        patched = await alice.patch(
            path, sent, headers={"If-Match": f'"{read["version"]}"'}
        )
        assert patched.status_code == 200, patched.text
        read = patched.json()
        assert (read["topic_codes"], read["topic_code"]) == (
            topics,
            topics[0] if topics else None,
        ), sent
        if topics == []:  # give it two topics again for the next edit
            read = (
                await alice.patch(
                    path,
                    {"topic_codes": ["sleep", "coping_skills"]},
                    headers={"If-Match": f'"{read["version"]}"'},
                )
            ).json()


async def test_an_old_devices_stale_edit_kept_as_a_conflict_keeps_the_topics(
    alice: Caller, issue: Any
) -> None:
    """An old device's edit of a version the server changed since is kept
    read against the record, so applying it replaces the first topic only."""
    person = await make_beneficiary(alice)
    data: dict[str, Any] = {
        "beneficiary_id": person["id"],
        "activity_code": "individual_counselling",
        "service_date": "2026-02-03",
        "topic_codes": ["sleep", "coping_skills"],
    }
    record_id = str(uuid.uuid4())
    await alice.post("/v1/sync", {"service_records": [{"id": record_id, "data": data}]})
    path = f"/v1/service-records/{record_id}"
    online = await alice.patch(
        path, {"duration_minutes": 30}, headers={"If-Match": '"1"'}
    )
    assert online.status_code == 200, online.text
    old_data = {**data, "topic_code": "anger_management", "duration_minutes": 45}
    del old_data["topic_codes"]
    stale = await alice.post(
        "/v1/sync",
        {"service_records": [{"id": record_id, "base_version": 1, "data": old_data}]},
    )
    result = stale.json()["results"][0]
    assert result["status"] == "conflict", stale.text
    supervisor = issue(alice.org, Role.supervisor)
    resolved = await supervisor.post(
        f"/v1/sync/conflicts/{result['conflict_id']}/resolve",
        {"resolution": "apply_client"},
        headers={"Idempotency-Key": "apply-old-device"},
    )
    assert resolved.status_code == 200, resolved.text
    read = (await alice.get(path)).json()
    assert read["topic_codes"] == ["anger_management", "coping_skills"]
    assert (read["duration_minutes"], read["version"]) == (45, 3)
