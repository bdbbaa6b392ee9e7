"""Scrape-time gauges on each app's /metrics: queue depth and age in Redis,
outbox lag, webhook deliveries by state, feed cursors and ingestion freshness;
a failing or slow source is reported as down without failing the scrape."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.ops_metrics import Sample
from tests.beneficiary.api import make_beneficiary, positive_item_9
from tests.callers import Caller

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(client: httpx.AsyncClient) -> Samples:
    r = await client.get("/metrics")
    assert r.status_code == 200, r.text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def gauge(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


async def scalar(engine: AsyncEngine, sql: str) -> Any:
    async with engine.connect() as connection:
        return (await connection.execute(text(sql))).scalar_one()


async def test_beneficiary_reports_queues_outbox_lag_and_dead_letters(
    beneficiary_app: FastAPI,
    beneficiary_client: httpx.AsyncClient,
    alice: Caller,
    redis: Redis,
) -> None:
    await positive_item_9(alice)  # events, a publish job, a pending alert
    async with beneficiary_app.state.engine.begin() as connection:
        await connection.execute(text("UPDATE risk_alert SET delivery='dead_letter'"))
    two_minutes_ago_ms = (time.time() - 120) * 1000
    await redis.zadd("reporting", {"arq:job:waiting": two_minutes_ago_ms})

    samples = await scrape(beneficiary_client)

    unsequenced = await scalar(
        beneficiary_app.state.engine,
        "SELECT count(*) FROM outbox_event WHERE position IS NULL",
    )
    assert unsequenced >= 3
    assert gauge(samples, "mhpss_outbox_unsequenced_events") == unsequenced
    assert 0 <= gauge(samples, "mhpss_outbox_oldest_unsequenced_age_seconds") < 60
    depth = await redis.zcard("beneficiary")
    assert depth >= 1  # the publish job, waiting for a worker
    assert gauge(samples, "mhpss_queue_depth", queue="beneficiary") == depth
    assert gauge(samples, "mhpss_queue_depth", queue="reporting") == 1
    age = gauge(samples, "mhpss_queue_oldest_job_age_seconds", queue="reporting")
    assert 120 <= age < 180
    deliveries = "mhpss_webhook_deliveries"
    assert gauge(samples, deliveries, kind="risk_alert", state="dead_letter") == 1
    assert gauge(samples, deliveries, kind="risk_alert", state="pending") == 0
    assert gauge(samples, deliveries, kind="protection_notice", state="pending") == 0
    for source in ("queue", "outbox", "webhooks"):
        assert gauge(samples, "mhpss_scrape_source_up", source=source) == 1
    assert not [key for key in samples if "alice" in str(key)]


async def test_an_empty_queue_and_outbox_report_zero(
    beneficiary_client: httpx.AsyncClient,
) -> None:
    samples = await scrape(beneficiary_client)
    assert gauge(samples, "mhpss_outbox_unsequenced_events") == 0
    assert gauge(samples, "mhpss_outbox_oldest_unsequenced_age_seconds") == 0
    assert gauge(samples, "mhpss_queue_depth", queue="reporting") == 0
    assert gauge(samples, "mhpss_queue_oldest_job_age_seconds", queue="reporting") == 0


async def test_a_failing_or_slow_source_is_down_and_the_scrape_still_answers(
    beneficiary_app: FastAPI,
    beneficiary_client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(runtime: Any) -> list[Sample]:
        raise ConnectionError("redis is gone")

    async def slow(runtime: Any) -> list[Sample]:
        await asyncio.sleep(5)
        return [Sample("mhpss_queue_depth", {"queue": "never"}, 1)]

    operations = beneficiary_app.state.operations
    monkeypatch.setattr(operations, "timeout", 0.2)
    monkeypatch.setitem(operations.probes, "broken", broken)
    monkeypatch.setitem(operations.probes, "slow", slow)

    samples = await scrape(beneficiary_client)

    assert gauge(samples, "mhpss_scrape_source_up", source="broken") == 0
    assert gauge(samples, "mhpss_scrape_source_up", source="slow") == 0
    assert gauge(samples, "mhpss_scrape_source_up", source="outbox") == 1
    assert ("mhpss_queue_depth", frozenset({("queue", "never")})) not in samples
    assert gauge(samples, "mhpss_outbox_unsequenced_events") == 0


async def test_training_reports_its_outbox_lag(
    training_app: FastAPI, training_client: httpx.AsyncClient
) -> None:
    async with training_app.state.engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO outbox_event (id, type, organisation_id, entity_type,"
                " entity_id, occurred_at, data) VALUES (:id, 'trainee.registered',"
                " :org, 'trainee', :entity, now() - interval '90 seconds', '{}')"
            ),
            {"id": uuid.uuid4(), "org": uuid.uuid4(), "entity": uuid.uuid4()},
        )

    samples = await scrape(training_client)

    assert gauge(samples, "mhpss_outbox_unsequenced_events") == 1
    age = gauge(samples, "mhpss_outbox_oldest_unsequenced_age_seconds")
    assert 90 <= age < 150
    assert gauge(samples, "mhpss_queue_depth", queue="training") == 0
    assert gauge(samples, "mhpss_queue_depth", queue="reporting") == 0
    assert gauge(samples, "mhpss_scrape_source_up", source="outbox") == 1


async def test_reporting_reports_feed_cursors_and_freshness(
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
    alice: Caller,
    catch_up: Any,
) -> None:
    await make_beneficiary(alice)
    assert await catch_up() >= 1

    samples = await scrape(reporting_client)

    position = await scalar(
        reporting_app.state.engine,
        "SELECT position FROM feed_cursor WHERE source = 'beneficiary'",
    )
    assert position >= 1
    cursor = gauge(samples, "mhpss_feed_cursor_position", source="beneficiary")
    assert cursor == position
    freshness = gauge(samples, "mhpss_ingest_freshness_seconds", source="beneficiary")
    assert 0 <= freshness < 30
    assert gauge(samples, "mhpss_queue_depth", queue="reporting") >= 0
    assert gauge(samples, "mhpss_scrape_source_up", source="feeds") == 1
    assert gauge(samples, "mhpss_scrape_source_up", source="queue") == 1
    again = await scrape(reporting_client)  # the request metrics sit alongside
    route = {"service": "reporting", "method": "GET", "route": "/metrics"}
    assert gauge(again, "http_requests_total", **route, status="200") >= 1
    assert gauge(again, "http_request_duration_seconds_count", **route) >= 1
