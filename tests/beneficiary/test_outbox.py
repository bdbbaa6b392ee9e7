from __future__ import annotations

import asyncio
import json
import random
import uuid
from typing import Any

import pytest
from arq.jobs import JobDef
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col

from services.beneficiary.db import OutboxCounter, OutboxEvent
from services.beneficiary.outbox.jobs import publish_outbox
from services.beneficiary.worker import make_worker
from shared.auth import Role
from shared.contracts.events import EventEnvelope, EventFeedPage
from shared.contracts.ingest import INGEST_JOB, REPORTING_QUEUE
from shared.outbox import sequence_pending_events
from shared.queue import ArqQueue
from tests.beneficiary.api import make_beneficiary, record_service
from tests.callers import Caller
from tests.databases import count_begins


def raw_event(org_id: str, n: int) -> OutboxEvent:
    return OutboxEvent(
        type="test.event",
        organisation_id=uuid.UUID(org_id),
        entity_type="test",
        entity_id=uuid.uuid4(),
        data={"n": n},
    )


async def read_all(reader: Caller, after: int = 0) -> EventFeedPage:
    r = await reader.get("/v1/events", params={"cursor": after, "limit": 5000})
    assert r.status_code == 200, r.text
    return EventFeedPage.model_validate(r.json())


class TestChangeFeed:
    async def test_events_of_writes_carry_no_pii(
        self, alice: Caller, issue: Any
    ) -> None:
        b = await make_beneficiary(
            alice,
            full_name="Secret Name",
            phone="0770 111 9999",
            address="Camp 4 tent 9",
        )
        await record_service(alice, b["id"])
        reader = issue(alice.org, Role.service)
        page = await read_all(reader)
        types = [e.type for e in page.items]
        assert types[:3] == [
            "beneficiary.registered",
            "consent.recorded",
            "consent.recorded",
        ]
        assert "service_record.recorded" in types
        dumped = json.dumps([e.model_dump(mode="json") for e in page.items])
        for secret in (
            "Secret Name",
            "0770 111 9999",
            "111 9999",
            "Camp 4",
            "1990-04-01",
        ):
            assert secret not in dumped
        positions = [e.position for e in page.items]
        assert positions == sorted(set(positions))

    async def test_service_events_carry_the_staff_code(
        self, alice: Caller, issue: Any
    ) -> None:
        people = [await make_beneficiary(alice) for _ in range(2)]
        await record_service(alice, people[0]["id"], staff_id="staff-1")
        group = await alice.post(
            "/v1/group-activities",
            {
                "activity_code": "pm_plus_group",
                "activity_date": "2026-03-01",
                "facilitator_staff_ids": ["staff-7", "staff-8"],
                "attendee_ids": [people[1]["id"]],
                "anonymous_attendees": [
                    {"sex": "male", "age_group": "adult", "count": 2}
                ],
            },
        )
        assert group.status_code == 201, group.text
        anonymous = await alice.post(
            "/v1/anonymous-services",
            {
                "activity_code": "awareness_session",
                "service_date": "2026-03-02",
                "counts": [{"sex": "female", "age_group": "adult", "count": 12}],
            },
        )
        assert anonymous.status_code == 201, anonymous.text
        page = await read_all(issue(alice.org, Role.service))
        staff = {
            (e.type, e.data.get("beneficiary_id"), e.data["staff_id"])
            for e in page.items
            if e.type in ("service_record.recorded", "anonymous_service.recorded")
        }
        assert staff == {
            ("service_record.recorded", people[0]["id"], "staff-1"),
            ("service_record.recorded", people[1]["id"], "staff-7"),
            ("anonymous_service.recorded", None, "staff-7"),
            ("anonymous_service.recorded", None, None),
        }

    async def test_a_late_commit_is_not_skipped(
        self, beneficiary_engine: AsyncEngine, alice: Caller, issue: Any
    ) -> None:
        """A transaction that started first but commits last still appears
        after the reader's cursor."""
        reader = issue(alice.org, Role.service)
        async with AsyncSession(beneficiary_engine) as slow:
            await slow.begin()
            slow.add(raw_event(alice.org.id, 1))
            await slow.flush()
            async with AsyncSession(beneficiary_engine) as fast, fast.begin():
                fast.add(raw_event(alice.org.id, 2))
            first = await read_all(reader)
            assert [e.data["n"] for e in first.items] == [2]
            await slow.commit()
        second = await read_all(reader, first.next_cursor)
        assert [e.data["n"] for e in second.items] == [1]
        assert second.items[0].position > first.next_cursor

    async def test_concurrent_writers_and_a_polling_reader(
        self, beneficiary_engine: AsyncEngine, alice: Caller, issue: Any
    ) -> None:
        """Writers commit in random order while a reader polls: the reader
        ends with every event exactly once, in increasing positions."""
        reader = issue(alice.org, Role.service)
        writers = 40

        async def write(n: int) -> None:
            async with AsyncSession(beneficiary_engine) as session, session.begin():
                session.add(raw_event(alice.org.id, n))
                await session.flush()
                await asyncio.sleep(random.uniform(0, 0.05))

        seen: list[int] = []
        positions: list[int] = []
        after = 0

        async def poll_until_done() -> None:
            nonlocal after
            while len(seen) < writers:
                page = await read_all(reader, after)
                seen.extend(e.data["n"] for e in page.items)
                positions.extend(e.position for e in page.items)
                after = page.next_cursor
                await asyncio.sleep(0.005)

        await asyncio.wait_for(
            asyncio.gather(poll_until_done(), *(write(n) for n in range(writers))), 30
        )
        assert sorted(seen) == list(range(writers))
        assert positions == sorted(positions)
        assert len(set(positions)) == writers

    async def test_people_see_only_their_organisation(
        self, alice: Caller, bob: Caller, issue: Any
    ) -> None:
        mine = await make_beneficiary(alice)
        await make_beneficiary(bob)
        manager = issue(bob.org, Role.programme_manager)
        page = await read_all(manager)
        assert page.items
        assert all(str(e.organisation_id) == bob.org.id for e in page.items)
        assert mine["id"] not in json.dumps(page.model_dump(mode="json"))
        assert (await alice.get("/v1/events")).status_code == 403


class TestPublishJob:
    async def test_a_real_arq_worker_sequences_the_outbox(
        self,
        beneficiary_app: FastAPI,
        beneficiary_engine: AsyncEngine,
        alice: Caller,
        redis: Redis,
    ) -> None:
        """Writes enqueue publish_outbox on Redis; a real worker runs it."""
        await make_beneficiary(alice)
        await make_beneficiary(alice)
        async with AsyncSession(beneficiary_engine) as session:
            pending = (
                (
                    await session.execute(
                        select(OutboxEvent).where(col(OutboxEvent.position).is_(None))
                    )
                )
                .scalars()
                .all()
            )
        assert pending, "writes should leave events for the job to sequence"
        assert (
            await redis.zcard("arq:queue:beneficiary")
            + await redis.zcard("beneficiary")
            >= 1
        ), "the writes enqueued publish_outbox on Redis"
        worker = make_worker(beneficiary_app.state.runtime, burst=True)
        try:
            await worker.main()
        finally:
            await worker.close()
        assert worker.jobs_complete >= 1
        assert worker.jobs_failed == 0
        async with AsyncSession(beneficiary_engine) as session:
            positions = (
                (await session.execute(select(col(OutboxEvent.position))))
                .scalars()
                .all()
            )
        assert None not in positions
        assert sorted(positions) == list(range(1, len(positions) + 1))  # type: ignore[type-var]


async def reporting_jobs(app: FastAPI) -> list[JobDef]:
    queue = app.state.runtime.queue
    assert isinstance(queue, ArqQueue)
    jobs: list[JobDef] = await queue.pool.queued_jobs(queue_name=REPORTING_QUEUE)
    return sorted(jobs, key=lambda job: job.kwargs["events"][0]["position"])


class TestFastPathToReporting:
    async def test_published_events_wait_on_the_reporting_queue_without_pii(
        self, beneficiary_app: FastAPI, alice: Caller, redis: Redis
    ) -> None:
        b = await make_beneficiary(
            alice, full_name="Secret Name", phone="0770 111 9999"
        )
        worker = make_worker(beneficiary_app.state.runtime, burst=True)
        try:
            await worker.main()
        finally:
            await worker.close()
        assert worker.jobs_failed == 0
        [job] = await reporting_jobs(beneficiary_app)
        assert job.function == INGEST_JOB
        assert job.kwargs["source"] == "beneficiary"
        events = [EventEnvelope.model_validate(e) for e in job.kwargs["events"]]
        registered = [e for e in events if e.type == "beneficiary.registered"]
        assert [e.entity_id for e in registered] == [uuid.UUID(b["id"])]
        assert registered[0].source == "beneficiary"
        assert [e.position for e in events] == list(range(1, len(events) + 1))
        assert job.job_id == f"ingest:beneficiary:1-{len(events)}"
        stored = await redis.get(f"arq:job:{job.job_id}")
        assert stored is not None
        for secret in (b"Secret Name", b"0770 111 9999", b"111 9999", b"1990-04-01"):
            assert secret not in stored
        assert await publish_outbox({"runtime": beneficiary_app.state.runtime}) == 0
        assert (
            len(await reporting_jobs(beneficiary_app)) == 1
        )  # nothing new, nothing sent

    async def test_chunks_of_a_thousand_that_a_repeat_does_not_duplicate(
        self, beneficiary_app: FastAPI, beneficiary_engine: AsyncEngine, alice: Caller
    ) -> None:
        async with AsyncSession(beneficiary_engine) as session, session.begin():
            session.add_all(raw_event(alice.org.id, n) for n in range(2500))
        assert await publish_outbox({"runtime": beneficiary_app.state.runtime}) == 2500
        jobs = await reporting_jobs(beneficiary_app)
        assert [job.job_id for job in jobs] == [
            "ingest:beneficiary:1-1000",
            "ingest:beneficiary:1001-2000",
            "ingest:beneficiary:2001-2500",
        ]
        assert [len(job.kwargs["events"]) for job in jobs] == [1000, 1000, 500]
        async with AsyncSession(beneficiary_engine) as session, session.begin():
            await session.execute(update(OutboxEvent).values(position=None))
            await session.execute(update(OutboxCounter).values(last_position=0))
        assert await publish_outbox({"runtime": beneficiary_app.state.runtime}) == 2500
        assert len(await reporting_jobs(beneficiary_app)) == 3  # the same chunk ids

    async def test_the_setting_turns_the_fast_path_off(
        self, beneficiary_app: FastAPI, beneficiary_engine: AsyncEngine, alice: Caller
    ) -> None:
        settings = beneficiary_app.state.runtime.settings
        settings.publish_to_reporting = False
        try:
            async with AsyncSession(beneficiary_engine) as session, session.begin():
                session.add(raw_event(alice.org.id, 1))
            assert await publish_outbox({"runtime": beneficiary_app.state.runtime}) == 1
        finally:
            settings.publish_to_reporting = True
        assert await reporting_jobs(beneficiary_app) == []


async def test_reading_the_feed_with_nothing_to_sequence_writes_nothing(
    beneficiary_app: FastAPI,
    alice: Caller,
    issue: Any,
    orgs: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each feed read and publish job first looks for unsequenced events
    without the counter's lock: finding none, it leaves the counter row as
    it was (no row version, no commit to wait for)."""
    person = await make_beneficiary(alice)
    await record_service(alice, person["id"])
    reader = issue(orgs["a"], Role.me_officer)
    first = await read_all(reader)
    assert first.items  # the events got positions

    async def counter_version() -> str:
        async with beneficiary_app.state.engine.connect() as conn:
            found = await conn.execute(
                select(text("xmin::text")).select_from(OutboxCounter)
            )
            return str(found.scalar_one())

    before = await counter_version()
    await read_all(reader)
    began = count_begins(monkeypatch)
    engine = beneficiary_app.state.engine
    assert await sequence_pending_events(engine, OutboxEvent, OutboxCounter) == 0
    assert began == []  # the look is one statement, with no BEGIN around it
    await publish_outbox({"runtime": beneficiary_app.state.runtime})
    assert await counter_version() == before
