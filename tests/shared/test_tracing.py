"""Request ids and traces follow a request across services and queue jobs.

With tracing on (an in-memory exporter), a field app's visit is one trace: it
registers a person at the beneficiary service, searches for them by name and
phone, and creates a practice group at the training service, which checks
the client with the beneficiary service over HTTP. The publish job the
registration enqueued runs on a real arq worker, and the ingest job that job
enqueues runs on reporting's. Every span is in the one trace, each job's span
is the child of the span that enqueued it, the jobs' log lines carry the
registration's request id and the trace's id, and no span holds a name, a
phone or the person's id. With tracing off the request id still follows.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest
import structlog
from fastapi import FastAPI
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import ConsoleSpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind
from redis.asyncio import Redis
from sqlalchemy import text

from services.beneficiary.worker import make_worker as beneficiary_worker
from services.reporting.worker import make_worker as reporting_worker
from services.training.settings import TrainingSettings
from shared import tracing
from shared.auth import Role
from shared.db import make_engine
from shared.http import make_client
from shared.observability import configure_logging
from shared.queue import InlineQueue
from tests.beneficiary.api import beneficiary_body
from tests.callers import Caller, Org
from tests.databases import recreate_database
from tests.e2e.person import NAME, PHONE
from tests.fixtures.logs import LogLine
from tests.training.api import token, trainee
from tests.workers import run_burst

TRAINEE_NAME = "Shirin Abdulkarimova"
TRAINEE_PHONE = "+964 750 482 9917"
log = structlog.get_logger("test")


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.start_tracing(exporter, batch=False)
    yield exporter
    tracing.stop_tracing()


def service_of(span: ReadableSpan) -> str:
    return str(span.resource.attributes["service.name"])


def only(spans: Sequence[ReadableSpan], service: str, name: str) -> ReadableSpan:
    [found] = [s for s in spans if service_of(s) == service and s.name == name]
    return found


def parent_of(span: ReadableSpan, spans: Sequence[ReadableSpan]) -> ReadableSpan:
    assert span.parent is not None, span.name
    [found] = [s for s in spans if s.context.span_id == span.parent.span_id]
    return found


def span_texts(spans: Sequence[ReadableSpan]) -> list[str]:
    """Every name and attribute value of every span (and its events)."""
    texts = []
    for span in spans:
        texts.append(span.name)
        texts += [str(v) for v in (span.attributes or {}).values()]
        for event in span.events:
            texts += [event.name, *(str(v) for v in (event.attributes or {}).values())]
    return texts


def events_ingested(lines: list[LogLine]) -> list[dict[str, Any]]:
    return [line.event for line in lines if line.event["event"] == "events_ingested"]


async def test_a_visit_is_one_trace_across_services_and_jobs(
    spans: InMemorySpanExporter,
    log_lines: list[LogLine],
    beneficiary_app: FastAPI,
    linked_training: FastAPI,
    reporting_app: FastAPI,
    alice: Caller,
    orgs: dict[str, Org],
    training_settings: TrainingSettings,
    redis: Redis,
) -> None:
    trainer = token(training_settings, uuid.UUID(orgs["a"].id), Role.trainer)
    beneficiary = make_client(
        service="field-app",
        base_url="http://beneficiary",
        transport=httpx.ASGITransport(app=beneficiary_app),
    )
    training = make_client(
        service="field-app",
        base_url="http://training",
        transport=httpx.ASGITransport(app=linked_training),
    )
    field_worker = Caller(beneficiary, alice.token, alice.org, alice.subject)
    field_app = tracing.tracer("field-app")
    assert field_app is not None
    await redis.flushdb()  # the fixtures' own jobs are not the visit's
    spans.clear()
    async with beneficiary, training:
        with field_app.start_as_current_span("visit") as visit:
            registered = await field_worker.post(
                "/v1/beneficiaries", beneficiary_body(full_name=NAME, phone=PHONE)
            )
            assert registered.status_code == 201, registered.text
            person = registered.json()["id"]
            found = await field_worker.get(
                "/v1/beneficiaries", params={"name": NAME, "phone": PHONE}
            )
            assert [b["id"] for b in found.json()["items"]] == [person]
            facilitator = await training.post(
                "/v1/trainees",
                json=trainee(full_name=TRAINEE_NAME, phone=TRAINEE_PHONE),
                headers=trainer,
            )
            assert facilitator.status_code == 201, facilitator.text
            group = await training.post(
                "/v1/practice-groups",
                json={
                    "name": "Women's group, Qadia",
                    "facilitator_trainee_ids": [facilitator.json()["id"]],
                    "client_ids": [person],
                    "started_on": "2026-03-10",
                },
                headers=trainer,
            )
            assert group.status_code == 201, group.text
    await run_burst(beneficiary_worker, beneficiary_app.state.runtime)
    await run_burst(reporting_worker, reporting_app.state.runtime)

    finished = spans.get_finished_spans()
    trace_id = visit.get_span_context().trace_id
    assert {s.context.trace_id for s in finished} == {trace_id}
    register = only(finished, "beneficiary", "POST /v1/beneficiaries")
    assert register.kind == SpanKind.SERVER
    assert register.attributes is not None
    assert register.attributes["http.response.status_code"] == 201
    call = parent_of(register, finished)
    assert (call.kind, service_of(call)) == (SpanKind.CLIENT, "field-app")
    assert parent_of(call, finished) is only(finished, "field-app", "visit")

    publish = only(finished, "beneficiary", "publish_outbox")
    assert publish.kind == SpanKind.CONSUMER
    assert parent_of(publish, finished) is register
    ingest = only(finished, "reporting", "ingest_events")
    assert parent_of(ingest, finished) is publish
    for job in (publish, ingest):
        statements = [
            s.attributes.get("db.system.name")
            for s in finished
            if s.parent and s.parent.span_id == job.context.span_id and s.attributes
            if s.kind == SpanKind.CLIENT
        ]
        assert statements, job.name
        assert set(statements) == {"postgresql"}

    lookup = only(finished, "beneficiary", "POST /v1/beneficiaries/lookup")
    check = parent_of(lookup, finished)
    assert (check.kind, service_of(check)) == (SpanKind.CLIENT, "training")
    group_span = parent_of(check, finished)
    assert (group_span.kind, group_span.name) == (
        SpanKind.SERVER,
        "POST /v1/practice-groups",
    )

    request_id = registered.headers["x-request-id"]
    assert group.headers["x-request-id"] != request_id
    ingested = events_ingested(log_lines)
    assert ingested
    for line in ingested:
        assert (line["request_id"], line["service"], line["job"]) == (
            request_id,
            "reporting",
            "ingest_events",
        )
        assert line["trace_id"] == format(trace_id, "032x")
        assert line["span_id"] == format(ingest.context.span_id, "016x")
    [request_line] = [
        line.event
        for line in log_lines
        if line.event["event"] == "request"
        and line.event.get("request_id") == request_id
        and line.event["service"] == "beneficiary"
    ]
    assert request_line["span_id"] == format(register.context.span_id, "016x")

    assert "Zaytouna" in str(found.request.url)  # the search's query held them
    texts = [t.casefold() for t in span_texts(finished)]
    for needle in [
        *NAME.split(),
        quote(NAME),
        quote_plus(NAME),
        *TRAINEE_NAME.split(),
        PHONE,
        quote_plus(PHONE),
        "8392046",
        "839 2046",
        TRAINEE_PHONE,
        "4829917",
        "482 9917",
        person,
        uuid.UUID(person).hex,
    ]:
        assert not [t for t in texts if needle.casefold() in t], needle


async def test_with_tracing_off_the_request_id_still_follows_the_jobs(
    log_lines: list[LogLine],
    beneficiary_app: FastAPI,
    reporting_app: FastAPI,
    alice: Caller,
    redis: Redis,
) -> None:
    assert tracing.tracer("beneficiary") is None
    await redis.flushdb()
    registered = await alice.post("/v1/beneficiaries", beneficiary_body())
    assert registered.status_code == 201, registered.text
    listed = await alice.get("/v1/beneficiaries")
    request_id = registered.headers["x-request-id"]
    assert listed.headers["x-request-id"] != request_id

    origin = {"request_id": request_id}
    published = json.loads(await redis.get("arq:job:beneficiary:publish_outbox"))
    assert published["k"] == {"_origin": origin}
    await run_burst(beneficiary_worker, beneficiary_app.state.runtime)
    jobs = [json.loads(await redis.get(key)) for key in await redis.keys("arq:job:*")]
    assert [j["k"]["_origin"] for j in jobs if j["f"] == "ingest_events"] == [origin]
    await run_burst(reporting_worker, reporting_app.state.runtime)
    ingested = events_ingested(log_lines)
    assert ingested
    for line in ingested:
        assert line["request_id"] == request_id
        assert "trace_id" not in line


async def test_the_inline_queue_carries_them_too(
    spans: InMemorySpanExporter,
    log_lines: list[LogLine],
) -> None:
    """The embedded default: a job enqueued in a request, the job it
    enqueues, and a periodic run that starts its own request id."""
    configure_logging()

    children: asyncio.Queue[int] = asyncio.Queue()

    async def child(ctx: dict[str, Any], *, step: int) -> None:
        log.info("child_ran", step=step)
        children.put_nowait(step)

    async def parent(ctx: dict[str, Any]) -> None:
        log.info("parent_ran")
        await ctx["queue"].enqueue("child", step=1)

    ctx: dict[str, Any] = {}
    queue = InlineQueue(ctx, "inline_service")
    ctx["queue"] = queue
    queue.register([parent, child])
    caller = tracing.tracer("caller")
    assert caller is not None
    with (
        structlog.contextvars.bound_contextvars(request_id="request-1"),
        caller.start_as_current_span("request") as request,
    ):
        await queue.enqueue("parent")
    await asyncio.wait_for(children.get(), 5)
    queue.run_periodically(parent, every_seconds=3600)
    await asyncio.wait_for(children.get(), 5)
    await queue.close()

    ran = [
        (line.event["event"], line.event["request_id"])
        for line in log_lines
        if line.event["event"] in ("parent_ran", "child_ran")
    ]
    periodic_id = ran[2][1]
    assert ran == [
        ("parent_ran", "request-1"),
        ("child_ran", "request-1"),
        ("parent_ran", periodic_id),
        ("child_ran", periodic_id),
    ]
    assert periodic_id != "request-1"
    finished = spans.get_finished_spans()
    jobs = [s for s in finished if service_of(s) == "inline_service"]
    assert [s.name for s in jobs] == ["parent", "child", "parent", "child"]
    assert parent_of(jobs[0], finished).context == request.get_span_context()
    assert parent_of(jobs[1], finished) is jobs[0]
    assert jobs[2].parent is None  # a periodic run starts its own trace
    assert parent_of(jobs[3], finished) is jobs[2]


@pytest.mark.parametrize(
    ("environ", "exporter"),
    [
        ({}, None),
        ({"OTEL_TRACES_EXPORTER": "none"}, None),
        ({"OTEL_TRACES_EXPORTER": "console"}, ConsoleSpanExporter),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, OTLPSpanExporter),
        (
            {
                "OTEL_TRACES_EXPORTER": "otlp",
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            },
            OTLPSpanExporter,
        ),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, None),
    ],
)
def test_the_exporter_comes_from_the_environment(
    environ: dict[str, str], exporter: type | None
) -> None:
    made = tracing.exporter_from_env(environ)
    assert type(made) is exporter if exporter else made is None
    if made is not None:
        made.shutdown()


@pytest.mark.parametrize(
    "environ",
    [
        {"OTEL_TRACES_EXPORTER": "zipkin"},
        {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
    ],
)
def test_an_exporter_it_cannot_honour_stops_the_start(environ: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="OTEL_"):
        tracing.exporter_from_env(environ)


def test_otel_service_name_wins_over_the_service_name(
    spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "mhpss-beneficiary")
    named = tracing.tracer("beneficiary_named")
    assert named is not None
    with named.start_as_current_span("work"):
        pass
    [span] = spans.get_finished_spans()
    assert service_of(span) == "mhpss-beneficiary"


async def test_statements_are_hooked_only_while_tracing_is_on() -> None:
    """An engine traced while tracing is off has no statement hooks (one that
    returns at once cost every statement about 55 000 instructions); tracing
    started later spans its statements, and stopped unhooks them again."""
    tracing.stop_tracing()
    engine = make_engine(await recreate_database("mhpss_test_trace_hooks"))
    tracing.trace_engine(engine, "beneficiary")
    hooks = engine.sync_engine.dispatch
    try:
        assert not hooks.before_cursor_execute
        exporter = InMemorySpanExporter()
        tracing.start_tracing(exporter, batch=False)
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        finally:
            tracing.stop_tracing()
        [span] = exporter.get_finished_spans()
        assert span.name == "SELECT"
        assert span.attributes is not None
        assert span.attributes["db.system.name"] == "postgresql"
        assert not hooks.before_cursor_execute
        async with engine.connect() as conn:  # off again: nothing spanned
            await conn.execute(text("SELECT 1"))
        assert len(exporter.get_finished_spans()) == 1
    finally:
        await engine.dispose()
