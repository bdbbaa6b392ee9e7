"""What a single write no longer pays for: a ping per pooled connection in
constant use (a connection idle a while is still pinged, and a dead one is
replaced before use), one Redis enqueue per write (writes committed
while an announce is in flight share the next one, and none returns before
an announce that started after it), and the unit of work for its audit
row, event and Idempotency-Key record (plain rows, written together)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from fastapi.routing import APIRoute
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from sqlalchemy import bindparam, event, func, literal, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from shared import db as shared_db
from shared import tracing
from shared.auth import Role
from shared.db import SessionDep
from shared.outbox import announce_writes
from shared.queue import ArqQueue
from tests.beneficiary.api import make_beneficiary
from tests.databases import REDIS_URL, recreate_database


async def test_a_busy_connection_is_not_pinged_an_idle_or_dead_one_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shared_db, "PING_AFTER_IDLE_SECONDS", 0.3)
    engine = shared_db.make_engine(await recreate_database("mhpss_test_ping"))
    pings: list[float] = []
    dialect = engine.sync_engine.dialect
    original = dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(time.monotonic())
        return bool(original(dbapi_connection))

    monkeypatch.setattr(dialect, "do_ping", counted)
    try:
        async with engine.connect() as conn:
            pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        for _ in range(5):  # in constant use: never pinged
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        assert pings == []
        await asyncio.sleep(0.4)  # idle: pinged once, then busy again
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        assert len(pings) == 1
        killer = shared_db.make_engine(str(engine.url.render_as_string(False)))
        try:
            async with killer.connect() as conn:
                await conn.execute(
                    text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}
                )
        finally:
            await killer.dispose()
        await asyncio.sleep(0.4)
        # the pool's only connection was killed while idle: the ping finds
        # it dead and the pool opens another; the caller never sees it
        async with engine.connect() as conn:
            fresh = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert fresh != pid
        assert len(pings) >= 2
    finally:
        await engine.dispose()


class SlowQueue:
    """Records when each enqueue starts and ends; each takes a while."""

    def __init__(self) -> None:
        self.started: list[float] = []
        self.ended: list[float] = []

    async def enqueue(self, function: str, **kwargs: Any) -> None:
        self.started.append(time.monotonic())
        await asyncio.sleep(0.05)
        self.ended.append(time.monotonic())


class FakeRuntime:
    def __init__(self, queue: SlowQueue) -> None:
        self.queue = queue
        self.settings = type("S", (), {"service_name": f"s-{uuid.uuid4()}"})()


async def test_writes_committed_together_share_one_announce() -> None:
    queue = SlowQueue()
    runtime: Any = FakeRuntime(queue)

    async def write(delay: float) -> tuple[float, float]:
        await asyncio.sleep(delay)
        asked = time.monotonic()
        await announce_writes(runtime)
        return asked, time.monotonic()

    writes = await asyncio.gather(*(write(0.002 * n) for n in range(16)))
    assert 2 <= len(queue.started) < 16  # shared, not one each
    sends = list(zip(queue.started, queue.ended, strict=True))
    for asked, done in writes:
        # each write returned after an enqueue that started after it asked
        assert any(asked <= s and e <= done for s, e in sends), (asked, sends)


async def test_an_announce_finding_its_job_queued_asks_redis_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The outbox job announced on every write is usually still queued when
    the next write announces it: one EXISTS then, not arq's WATCH, EXISTS
    and UNWATCH (a pipeline); a job not queued is enqueued as before."""
    queue = await ArqQueue.connect(REDIS_URL, "overheads-test")
    job_id = f"overheads-test:{uuid.uuid4()}"
    pipelines: list[bool] = []
    pipeline = queue.pool.pipeline

    def counted(*args: Any, **kwargs: Any) -> Any:
        pipelines.append(True)
        return pipeline(*args, **kwargs)

    monkeypatch.setattr(queue.pool, "pipeline", counted)
    try:
        await queue.enqueue("publish_outbox", job_id=job_id)
        assert len(pipelines) == 1
        assert await queue.pool.exists(f"arq:job:{job_id}") == 1
        for _ in range(5):
            await queue.enqueue("publish_outbox", job_id=job_id)
        assert len(pipelines) == 1
        assert await queue.pool.zcard("overheads-test") == 1
    finally:
        await queue.pool.delete(f"arq:job:{job_id}", "overheads-test")
        await queue.close()


def test_a_row_built_without_the_constructor_is_the_constructors_row() -> None:
    """``new_row`` gives what the model's constructor gives (every field,
    defaults for those not given, fresh ones per row), without calling it."""
    from services.beneficiary.service_records.models import ServiceRecord

    given: dict[str, Any] = {
        "id": uuid.uuid4(),
        "beneficiary_id": uuid.uuid4(),
        "organisation_id": uuid.uuid4(),
        "activity_code": "individual_counselling",
        "iasc_layer": 3,
        "service_date": date(2026, 2, 1),
        "created_by": "u1",
        "created_at": shared_db.utcnow(),
        "updated_at": shared_db.utcnow(),
    }
    built = shared_db.new_row(ServiceRecord, **given)
    constructed = ServiceRecord(**given)
    assert built.__dict__.keys() == constructed.__dict__.keys()
    for name in constructed.__dict__.keys() - {"_sa_instance_state"}:
        assert getattr(built, name) == getattr(constructed, name), name
    assert shared_db.new_row(ServiceRecord).id != shared_db.new_row(ServiceRecord).id


async def test_a_service_record_is_written_in_one_statement(
    alice: Any, beneficiary_engine: AsyncEngine
) -> None:
    """The record goes to PostgreSQL with its event, audit row and
    Idempotency-Key record in one statement at the commit (they were four
    ORM inserts in two flushes, then two statements), with no UPDATE after
    it, and all are there afterwards."""
    person = await make_beneficiary(alice)
    writes: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().startswith(("INSERT", "WITH", "UPDATE")):
            writes.append(statement)

    event.listen(beneficiary_engine.sync_engine, "before_cursor_execute", seen)
    try:
        r = await alice.post(
            "/v1/service-records",
            {
                "beneficiary_id": person["id"],
                "activity_code": "individual_counselling",
                "service_date": "2026-02-01",
            },
            headers={"Idempotency-Key": "trail-1"},
        )
    finally:
        event.remove(beneficiary_engine.sync_engine, "before_cursor_execute", seen)
    assert r.status_code == 201, r.text
    assert len(writes) == 1, writes
    for table in ("service_record", "outbox_event", "audit_entry", "idempotency"):
        assert f"INSERT INTO {table}" in writes[0], (table, writes[0])
    async with beneficiary_engine.connect() as conn:
        found = await conn.execute(
            text(
                "SELECT (SELECT count(*) FROM audit_entry WHERE entity_id = :id"
                " AND action = 'create'), (SELECT count(*) FROM idempotency_record"
                " WHERE resource_id = :id), (SELECT count(*) FROM outbox_event"
                " WHERE entity_id = :id)"
            ),
            {"id": uuid.UUID(r.json()["id"])},
        )
        assert tuple(found.one()) == (1, 1, 1)


async def test_a_service_record_reads_in_three_statements(alice: Any) -> None:
    """Before writing, a keyed record reads three times: the Idempotency-Key,
    the person locked with their organisation (a read fewer), then their
    consent ledger, by a statement of its own once the lock is held (see
    test_consent_integrity: a withdrawal committed while the record waited
    for the lock), which asyncpg runs itself (``fetch_rows``) with the span
    a statement through SQLAlchemy has; a withdrawn consent still refuses
    the record."""
    person = await make_beneficiary(alice)
    body = {
        "beneficiary_id": person["id"],
        "activity_code": "individual_counselling",
        "service_date": "2026-02-01",
    }
    exporter = InMemorySpanExporter()
    tracing.start_tracing(exporter, batch=False)
    try:
        r = await alice.post(
            "/v1/service-records", body, headers={"Idempotency-Key": "reads-1"}
        )
    finally:
        tracing.stop_tracing()
    assert r.status_code == 201, r.text
    selects = [
        str(span.attributes["db.query.text"])
        for span in exporter.get_finished_spans()
        if span.name == "SELECT" and span.attributes
    ]
    assert len(selects) == 3, selects
    key, person_read, ledger = selects
    assert "idempotency_record" in key, key
    assert "FOR UPDATE OF beneficiary" in person_read, person_read
    assert "organisation" in person_read
    assert "consent_entry" not in person_read
    assert "consent_entry" in ledger, ledger
    r = await alice.post(
        f"/v1/beneficiaries/{person['id']}/consents",
        [{"purpose": "services", "granted": False, "form_version": "2024-1"}],
    )
    assert r.status_code == 201, r.text
    r = await alice.post(
        "/v1/service-records", body, headers={"Idempotency-Key": "reads-2"}
    )
    assert r.status_code == 409, r.text
    assert "'services'" in r.json()["detail"], r.json()


async def test_a_warm_service_record_builds_no_statement_anew(alice: Any) -> None:
    """Every statement a keyed record runs (the person with their
    organisation through the session, the key and their consent ledger by
    the driver) is built once and run again with new parameters: a statement
    built per call is keyed, looked up and loaded anew each time (the
    ledger's cost a write a fifth of its Python until it was built once)."""
    people = [await make_beneficiary(alice) for _ in range(3)]
    ran: list[list[Any]] = []

    def seen(state: Any) -> None:
        ran[-1].append(state.statement)

    event.listen(Session, "do_orm_execute", seen)
    try:
        for number, person in enumerate(people):
            ran.append([])
            r = await alice.post(
                "/v1/service-records",
                {
                    "beneficiary_id": person["id"],
                    "activity_code": "individual_counselling",
                    "service_date": "2026-02-01",
                },
                headers={"Idempotency-Key": f"built-once-{number}"},
            )
            assert r.status_code == 201, r.text
            if number == 1:  # the driver's reads are compiled once each
                compiled = len(shared_db._RAW)
    finally:
        event.remove(Session, "do_orm_execute", seen)
    assert len(ran[1]) == 1, ran[1]  # the person; the key and the ledger: fetch_rows
    assert all(a is b for a, b in zip(ran[1], ran[2], strict=True)), ran[1:]
    assert len(shared_db._RAW) == compiled


async def test_routers_of_other_paths_are_passed_over(
    alice: Any, beneficiary_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request tries only the routes of routers whose paths begin as its
    own does (the tenth router's write tried a hundred routes first); an
    unknown path is still a 404 and a known path with another method a
    405, as problem+json."""
    tried: list[str] = []
    matches = APIRoute.matches

    def counted(route: APIRoute, scope: Any) -> Any:
        tried.append(route.path)
        return matches(route, scope)

    monkeypatch.setattr(APIRoute, "matches", counted)
    person = await make_beneficiary(alice)
    tried.clear()
    r = await alice.post(
        "/v1/service-records",
        {
            "beneficiary_id": person["id"],
            "activity_code": "individual_counselling",
            "service_date": "2026-02-01",
        },
    )
    assert r.status_code == 201, r.text
    assert tried, "no route tried"
    others = [p for p in tried if p.startswith("/v1/") and "/service-records" not in p]
    assert others == [], others  # the app's own few (/docs, /openapi.json) aside
    tried.clear()
    r = await alice.get("/v1/service-recordz")
    assert r.status_code == 404, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert [p for p in tried if p.startswith("/v1/")] == [], tried
    r = await alice.put("/v1/service-records", {})
    assert r.status_code == 405, r.text
    assert r.headers["content-type"] == "application/problem+json"


async def test_appended_rows_follow_their_transaction(
    beneficiary_engine: AsyncEngine,
) -> None:
    """A row staged by ``append_row`` commits with its transaction, is gone
    with a rolled-back one (or a rolled-back savepoint), and a flush writes
    it, as ``session.add`` would."""
    from services.beneficiary.audit.models import AuditEntry

    org = uuid.uuid4()

    def audit(session: AsyncSession, entity_id: uuid.UUID) -> None:
        shared_db.append_row(
            session,
            AuditEntry,
            organisation_id=org,
            subject="u1",
            action="read",
            entity_type="test",
            entity_id=entity_id,
        )

    async def written() -> set[uuid.UUID]:
        async with beneficiary_engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT entity_id FROM audit_entry WHERE organisation_id = :o"),
                {"o": org},
            )
            return set(rows.scalars())

    kept, dropped, in_savepoint, flushed = (uuid.uuid4() for _ in range(4))
    async with AsyncSession(beneficiary_engine) as session:
        async with session.begin():
            audit(session, dropped)
            await session.rollback()  # the write failed
        async with session.begin():
            audit(session, kept)
            savepoint = await session.begin_nested()
            audit(session, in_savepoint)
            await savepoint.rollback()
        assert await written() == {kept}
        async with session.begin():
            audit(session, flushed)
            session.add(
                shared_db.new_row(
                    AuditEntry,
                    id=uuid.uuid4(),
                    organisation_id=org,
                    subject="u1",
                    action="read",
                    entity_type="test",
                    entity_id=kept,
                )
            )
            await session.flush()
            seen = await session.execute(
                text("SELECT count(*) FROM audit_entry WHERE entity_id = :e"),
                {"e": flushed},
            )
            assert seen.scalar_one() == 1
            await session.rollback()
    assert await written() == {kept}


async def test_a_row_added_with_the_appended_rows_is_as_if_loaded(
    beneficiary_engine: AsyncEngine,
) -> None:
    """``add_appended`` leaves the row in the session as if loaded (found by
    ``get``), writes it at the next flush (an autoflush too) even when
    nothing else changed,
    with a change made before it as it then stands (no UPDATE), a later
    change as an UPDATE; inside a rolled-back savepoint it writes nothing,
    and a rolled-back transaction drops it."""
    from services.beneficiary.db import OutboxEvent

    def event_row() -> OutboxEvent:
        return shared_db.new_row(
            OutboxEvent,
            id=uuid.uuid4(),
            type="service_record.recorded",
            organisation_id=uuid.uuid4(),
            entity_type="test",
            entity_id=uuid.uuid4(),
            occurred_at=shared_db.utcnow(),
            data={},
        )

    kept, undone, dropped = event_row(), event_row(), event_row()
    ids = {"a": kept.id, "b": undone.id, "c": dropped.id}
    writes: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().startswith(("INSERT", "WITH", "UPDATE")):
            writes.append(statement.split("(")[0].split(" SET")[0].strip())

    async def count(session: AsyncSession, row: OutboxEvent) -> int:
        seen = await session.execute(
            text("SELECT count(*) FROM outbox_event WHERE id = :i"), {"i": row.id}
        )
        return int(seen.scalar_one())

    event.listen(beneficiary_engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with (
            AsyncSession(
                beneficiary_engine, expire_on_commit=False, autoflush=False
            ) as session,
            session.begin(),
        ):
            await shared_db.add_appended(session, kept)
            assert await session.get(OutboxEvent, kept.id) is kept
            kept.position = -7
            await session.flush()
            assert await count(session, kept) == 1
            assert writes == ["INSERT INTO outbox_event"], writes
            kept.position = -8
            savepoint = await session.begin_nested()
            await shared_db.add_appended(session, undone)
            await savepoint.rollback()
        assert writes == [
            "INSERT INTO outbox_event",
            "UPDATE outbox_event",
            "INSERT INTO outbox_event",  # the savepoint's, rolled back
        ], writes
        async with AsyncSession(beneficiary_engine) as session:
            async with session.begin():
                await shared_db.add_appended(session, dropped)
                assert await count(session, dropped) == 1  # autoflushed
                await session.rollback()
            async with session.begin():
                pass  # the next transaction of the session writes nothing of it
    finally:
        event.remove(beneficiary_engine.sync_engine, "before_cursor_execute", seen)
    async with beneficiary_engine.connect() as conn:
        found = await conn.execute(
            text("SELECT id, position FROM outbox_event WHERE id IN (:a, :b, :c)"),
            ids,
        )
        assert [tuple(r) for r in found] == [(ids["a"], -8)]


def test_a_router_is_passed_over_once_however_many_apps_use_it() -> None:
    """The routers are module-level: a second app built with the same one
    leaves its prefilter as the first app set it, not wrapped again."""
    from fastapi import APIRouter

    from shared.app import skip_other_paths

    router = APIRouter(prefix="/v1/things")
    router.add_api_route("", lambda: None, methods=["GET"])
    skip_other_paths(router)
    once = router.matches
    skip_other_paths(router)
    assert router.matches is once


def _record_write_dependants() -> list[Any]:
    """What FastAPI solves for ``POST /v1/service-records``: the route's own
    dependant first, then every dependency below it, depth first."""
    from services.beneficiary.service_records.router import router

    def walk(dependant: Any) -> Iterator[Any]:
        yield dependant
        for sub in dependant.dependencies:
            yield from walk(sub)

    write = next(
        r
        for r in router.routes
        if isinstance(r, APIRoute)
        and r.path == "/v1/service-records"
        and "POST" in (r.methods or ())
    )
    return list(walk(write.dependant))


def test_the_bearer_scheme_is_the_principals_one_dependency() -> None:
    """A write solves the bearer scheme and the principal as one dependency
    (they were two: the scheme for the OpenAPI, then the principal); the
    route still declares the scheme (test_api_contract checks the document)."""
    from fastapi.security import HTTPBearer

    from shared.auth import PRINCIPAL

    found = [dependant.call for dependant in _record_write_dependants()]
    assert PRINCIPAL in found
    schemes = [c for c in found if isinstance(c, HTTPBearer)]
    assert schemes == [PRINCIPAL], schemes


async def test_the_request_session_is_closed_by_the_middleware(
    beneficiary_engine: AsyncEngine,
) -> None:
    """The request's session is a plain dependency (one that yields cost two
    context managers and a cancel scope per request), closed after the
    answer: a transaction left open, or open when the handler failed, gives
    its connection back; a committed one holds none."""
    import inspect

    import httpx
    from fastapi import FastAPI

    from shared.db import CloseSession, get_session

    assert not inspect.isasyncgenfunction(get_session)
    app = FastAPI()
    app.state.engine = beneficiary_engine
    app.add_middleware(CloseSession)

    @app.get("/left-open")
    async def left_open(session: SessionDep) -> int:
        return int((await session.execute(text("SELECT 1"))).scalar_one())

    @app.get("/failed")
    async def failed(session: SessionDep) -> int:
        await session.execute(text("SELECT 1"))
        raise RuntimeError("the handler failed")

    @app.get("/committed")
    async def committed(session: SessionDep) -> int:
        async with session.begin():
            await session.execute(text("SELECT 1"))
        return 1

    pool: Any = beneficiary_engine.pool
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for path, status in (
            ("/left-open", 200),
            ("/failed", 500),
            ("/committed", 200),
        ):
            r = await client.get(path)
            assert r.status_code == status, (path, r.text)
            assert pool.checkedout() == 0, path


_PID = select(func.pg_backend_pid())
_QUOTIENT = select(literal(1) / bindparam("by"))


async def test_a_read_by_the_driver_fails_as_through_sqlalchemy(
    beneficiary_engine: AsyncEngine,
) -> None:
    """``fetch_rows`` begins the session's transaction when nothing did, and
    its errors are SQLAlchemy's: a statement's error as through the session,
    a lost connection invalidated (the app answers 503, and the pool hands
    out a live connection next)."""
    async with AsyncSession(beneficiary_engine) as session, session.begin():
        with pytest.raises(DBAPIError) as through_session:
            await session.execute(_QUOTIENT, {"by": 0})
    async with AsyncSession(beneficiary_engine) as session, session.begin():
        await shared_db.fetch_rows(session, _PID, {})
        connection = await session.connection()
        pooled: Any = connection.sync_connection.connection  # type: ignore[union-attr]
        assert pooled.dbapi_connection._transaction is not None  # BEGIN sent
        with pytest.raises(DBAPIError) as by_driver:
            await shared_db.fetch_rows(session, _QUOTIENT, {"by": 0})
    assert type(by_driver.value) is type(through_session.value)
    assert type(by_driver.value.orig) is type(through_session.value.orig)
    assert by_driver.value.orig.sqlstate == "22012"  # type: ignore[union-attr]
    assert not by_driver.value.connection_invalidated
    killer = shared_db.make_engine(beneficiary_engine.url.render_as_string(False))
    try:
        async with AsyncSession(beneficiary_engine) as session:
            await session.begin()
            [(pid,)] = await shared_db.fetch_rows(session, _PID, {})
            async with killer.connect() as conn:
                await conn.execute(
                    text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}
                )
            with pytest.raises(DBAPIError) as lost:
                await shared_db.fetch_rows(session, _PID, {})
            assert lost.value.connection_invalidated
    finally:
        await killer.dispose()
    async with AsyncSession(beneficiary_engine) as session, session.begin():
        [(fresh,)] = await shared_db.fetch_rows(session, _PID, {})
    assert fresh != pid


async def test_each_request_is_counted_once_in_its_series(
    beneficiary_app: Any, beneficiary_client: Any
) -> None:
    """The request guard finds a (method, route, status)'s two series once
    and keeps them: each request still adds one to its count and one
    latency observation, and a new status gets series of its own."""
    registry = beneficiary_app.state.metrics.registry

    def counted(route: str, status: str) -> tuple[float, float]:
        labels = {"service": "beneficiary", "method": "GET", "route": route}
        requests = registry.get_sample_value(
            "http_requests_total", {**labels, "status": status}
        )
        observed = registry.get_sample_value(
            "http_request_duration_seconds_count", labels
        )
        return requests or 0.0, observed or 0.0

    before = counted("/healthz", "200")
    for _ in range(3):
        assert (await beneficiary_client.get("/healthz")).status_code == 200
    assert counted("/healthz", "200") == (before[0] + 3, before[1] + 3)
    unknown = counted("/healthz", "400")
    r = await beneficiary_client.get("/healthz", params={"nosuch": "1"})
    assert r.status_code == 400, r.text
    assert counted("/healthz", "400") == (unknown[0] + 1, unknown[1] + 1)
    assert counted("/healthz", "200")[0] == before[0] + 3


async def test_a_record_solves_one_dependency_for_actor_session_and_key(
    alice: Any, issue: Any, orgs: Any, beneficiary_engine: AsyncEngine
) -> None:
    """``POST /v1/service-records`` takes its actor, session and
    Idempotency-Key from one dependency (there were three, and the session
    twice), reading the same two headers in the same order (the OpenAPI is
    test_api_contract's); the actor's checks and reason are as before."""
    solved = _record_write_dependants()[1:]
    assert len(solved) == 2, [d.call for d in solved]  # it and the principal
    headers = [p.alias for d in solved for p in d.header_params]
    assert headers == ["x-access-reason", "idempotency-key"], headers

    person = await make_beneficiary(alice)
    body = {
        "beneficiary_id": person["id"],
        "activity_code": "individual_counselling",
        "service_date": "2026-02-01",
    }
    r = await alice.post(
        "/v1/service-records",
        body,
        headers={"X-Access-Reason": "break-glass: mine", "Idempotency-Key": "d-1"},
    )
    assert r.status_code == 422, r.text
    auditor = issue(orgs["a"], Role.auditor)
    r = await auditor.post(
        "/v1/service-records", body, headers={"Idempotency-Key": "d-2"}
    )
    assert r.status_code == 403, r.text
    r = await alice.post(
        "/v1/service-records",
        body,
        headers={"X-Access-Reason": "home visit", "Idempotency-Key": "d-3"},
    )
    assert r.status_code == 201, r.text
    async with beneficiary_engine.connect() as conn:
        reason = await conn.scalar(
            text(
                "SELECT reason FROM audit_entry WHERE entity_id = :id"
                " AND action = 'create'"
            ),
            {"id": uuid.UUID(r.json()["id"])},
        )
    assert reason == "home visit"
    replayed = await alice.post(
        "/v1/service-records", body, headers={"Idempotency-Key": "d-3"}
    )
    assert replayed.status_code == 201, replayed.text
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json()["id"] == r.json()["id"]
