"""PostgreSQL stopped (fast shutdown) and started again while registrations
and trainees are written: during the outage the APIs answer 503 problem+json
with Retry-After (no 500, no request hanging beyond a bound); they recover by
themselves, without a process restart; and no write is partial: every 201
exists whole (person, consent ledger, audit entry, outbox event), every
failed request left nothing, and its retry with the same Idempotency-Key
creates the person exactly once."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx

from shared.errors import PROBLEM_MEDIA_TYPE
from tests.beneficiary.api import beneficiary_body
from tests.ops.checks import fetch, make_org, scalar
from tests.ops.harness import Platform
from tests.training.api import trainee

WRITERS = 6
OUTAGE_SECONDS = 3.0
SLOWEST_ALLOWED = 12.0  # the pool's 10 s checkout timeout, plus margin


@dataclass
class Attempt:
    kind: str
    key: str
    body: dict[str, Any]
    began: float
    seconds: float
    status: int | None  # None: transport error
    content_type: str = ""  # or the transport error
    retry_after: str | None = None
    created: str | None = None


async def _write(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], kind: str
) -> Attempt:
    key = uuid.uuid4().hex
    body = (
        beneficiary_body(full_name=f"Person {key}")
        if kind == "beneficiary"
        else trainee(full_name=f"Trainee {key}", email=f"{key}@example.org")
    )
    began = time.monotonic()
    try:
        r = await client.post(
            url, json=body, headers={**headers, "Idempotency-Key": key}
        )
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
        return Attempt(kind, key, body, began, time.monotonic() - began, None, error)
    return Attempt(
        kind,
        key,
        body,
        began,
        time.monotonic() - began,
        r.status_code,
        r.headers.get("content-type", ""),
        r.headers.get("retry-after"),
        r.json().get("id") if r.status_code == 201 else None,
    )


async def test_postgres_restart_is_503_then_recovers_with_nothing_partial(
    platform: Platform,
) -> None:
    platform.migrate("beneficiary", "training")
    apis = [platform.start_api("beneficiary"), platform.start_api("training")]
    workers = [platform.start_worker("beneficiary"), platform.start_worker("training")]
    await platform.wait_ready()
    pids = [p.popen.pid for p in apis + workers]
    routes = {
        "beneficiary": f"{platform.api_url('beneficiary')}/v1/beneficiaries",
        "trainee": f"{platform.api_url('training')}/v1/trainees",
    }
    attempts: list[Attempt] = []
    stop = asyncio.Event()

    async with httpx.AsyncClient(timeout=30) as client:
        org = await make_org(platform, client)
        headers = {"beneficiary": org.case_worker, "trainee": org.trainer}

        async def writer(n: int) -> None:
            kind = ("beneficiary", "trainee")[n % 2]
            while not stop.is_set():
                attempt = await _write(client, routes[kind], headers[kind], kind)
                attempts.append(attempt)
                if attempt.status != 201:  # as a client honouring Retry-After would
                    await asyncio.sleep(0.2)

        load = [asyncio.create_task(writer(n)) for n in range(WRITERS)]
        try:
            await asyncio.sleep(1.5)
            down_at = time.monotonic()
            await asyncio.to_thread(platform.postgres.stop, "fast")
            await asyncio.sleep(OUTAGE_SECONDS)
            await asyncio.to_thread(platform.postgres.start)
            up_at = time.monotonic()
            recovered = await _first_success_after(attempts, up_at, within=30)
            await asyncio.sleep(2.0)  # a steady state after recovery
        finally:
            stop.set()
            await asyncio.gather(*load)

        assert [p.popen.pid for p in apis + workers] == pids
        assert platform.alive() == []
        statuses = {a.status for a in attempts}
        assert statuses <= {201, 503}, (
            Counter((a.kind, a.status) for a in attempts),
            {a.content_type for a in attempts if a.status is None},
        )
        failed = [a for a in attempts if a.status != 201]
        assert failed, "the outage was seen by the load"
        for attempt in failed:
            assert attempt.content_type == PROBLEM_MEDIA_TYPE
            assert attempt.retry_after is not None
            assert int(attempt.retry_after) > 0
        slowest = max(a.seconds for a in attempts)
        assert slowest < SLOWEST_ALLOWED
        settled = [a for a in attempts if a.began > recovered + 1.0]
        assert settled
        assert {a.status for a in settled} == {201}

        await _assert_whole_or_nothing(platform, attempts)
        retried = await _retry_failed(client, routes, headers, failed)
        succeeded = [a for a in attempts if a.status == 201] + retried
        await _assert_whole_or_nothing(platform, succeeded)

    outage = [a for a in attempts if a.began >= down_at]
    print(  # noqa: T201
        f"postgres restart: {len(attempts)} writes, {len(failed)} answered 503 "
        f"(all problem+json with Retry-After), slowest {slowest:.2f} s; down "
        f"{up_at - down_at:.1f} s, first success {recovered - up_at:.2f} s after "
        f"start; {len(outage)} writes since the stop; {len(retried)} retried "
        "with their Idempotency-Key, each created once"
    )


async def _first_success_after(
    attempts: list[Attempt], moment: float, within: float
) -> float:
    """When the first write begun after ``moment`` succeeded."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        done = [a.began + a.seconds for a in attempts if a.began > moment]
        ok = [
            a.began + a.seconds
            for a in attempts
            if a.began > moment and a.status == 201
        ]
        if ok:
            return min(ok)
        await asyncio.sleep(0.1)
    raise AssertionError(
        f"no write succeeded {within} s after the restart: {done[-5:]}"
    )


async def _retry_failed(
    client: httpx.AsyncClient,
    routes: dict[str, str],
    headers: dict[str, dict[str, str]],
    failed: list[Attempt],
) -> list[Attempt]:
    """Each failed write sent again with its key: created now (not a replay,
    since the failure left nothing), and a second retry replays it."""
    done = []
    for attempt in failed:
        sent = {**headers[attempt.kind], "Idempotency-Key": attempt.key}
        first = await client.post(routes[attempt.kind], json=attempt.body, headers=sent)
        assert first.status_code == 201, first.text
        assert "idempotent-replayed" not in first.headers
        if attempt.kind == "beneficiary":  # trainees take no Idempotency-Key
            again = await client.post(
                routes[attempt.kind], json=attempt.body, headers=sent
            )
            assert again.status_code == 201, again.text
            assert again.json()["id"] == first.json()["id"]
            assert again.headers["idempotent-replayed"] == "true"
        done.append(
            Attempt(attempt.kind, attempt.key, attempt.body, 0, 0, 201,
                    created=first.json()["id"])
        )  # fmt: skip
    return done


async def _assert_whole_or_nothing(platform: Platform, attempts: list[Attempt]) -> None:
    """The rows in the databases are exactly those of the 201s, each whole."""
    people = {a.created for a in attempts if a.kind == "beneficiary" and a.created}
    trainees = {a.created for a in attempts if a.kind == "trainee" and a.created}
    found = {
        row[0]
        for row in await fetch(
            platform, "beneficiary", "SELECT id::text FROM beneficiary"
        )
    }
    assert found == people
    per_person = {
        "consent_entry": "SELECT beneficiary_id::text, count(*) FROM consent_entry "
        "GROUP BY 1",
        "audit_entry": "SELECT entity_id::text, count(*) FROM audit_entry "
        "WHERE entity_type = 'beneficiary' AND action = 'create' GROUP BY 1",
        "outbox_event": "SELECT entity_id::text, "
        "string_agg(type, ' ' ORDER BY type) FROM outbox_event "
        "WHERE entity_type = 'beneficiary' GROUP BY 1",
        "idempotency_record": "SELECT resource_id::text, count(*) "
        "FROM idempotency_record GROUP BY 1",
    }
    expected_each = {
        "consent_entry": 2,
        "audit_entry": 1,
        "outbox_event": "beneficiary.registered consent.recorded consent.recorded",
        "idempotency_record": 1,
    }
    for table, sql in per_person.items():
        counts = dict(await fetch(platform, "beneficiary", sql))
        assert counts == dict.fromkeys(people, expected_each[table]), table
    found_trainees = {
        row[0]
        for row in await fetch(platform, "training", "SELECT id::text FROM trainee")
    }
    assert found_trainees == trainees
    events = await scalar(
        platform,
        "training",
        "SELECT count(*) FROM outbox_event WHERE entity_type = 'trainee'",
    )
    assert events == len(trainees)
