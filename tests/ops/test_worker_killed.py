"""A reporting worker killed with SIGKILL in the middle of ingestion jobs:
the jobs it held stay in Redis marked in progress, arq gives them to another
worker once that mark expires (the worker's longest job timeout plus 10 s,
shortened here with REPORTING_JOB_TIMEOUT_SECONDS), and each is run again
exactly once: every event counts once in the indicators. The feed pull is
off (REPORTING_PULL_FEEDS=false), so only arq's redelivery can repair it."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter

import httpx
from redis.asyncio import Redis

from tests.ops.checks import (
    assert_indicators_equal_sql,
    heads,
    indicator,
    make_org,
    scalar,
    sync_batch,
    total,
)
from tests.ops.harness import Platform, Process

JOB_TIMEOUT = 5  # seconds; arq's in-progress mark lasts this + 10 s
FAST_PATH_ONLY = {
    "REPORTING_PULL_FEEDS": "false",
    "REPORTING_JOB_TIMEOUT_SECONDS": str(JOB_TIMEOUT),
}
IN_PROGRESS = "arq:in-progress:"  # set when a worker takes a job
RETRIES = "arq:retry:"  # incremented when the job's function begins


async def _ingest_jobs(redis: Redis) -> list[str]:
    queued = await redis.zrange("reporting", 0, -1)
    return [j.decode() for j in queued if j.startswith(b"ingest:")]


def _covered(jobs: list[str]) -> int:
    """Events the queued chunks hold (``ingest:<source>:<first>-<last>``)."""
    spans = [job.rsplit(":", 1)[1].split("-") for job in jobs]
    return sum(int(last) - int(first) + 1 for first, last in spans)


# arq's own lines: "  0.50s → <job id>:ingest_events(<args>) try=2 delayed=…"
# and "  0.10s ← <job id>:ingest_events ● 960", arrows JSON-escaped in the log.
# Read from the raw log, not only from lines that parse as JSON, so that a
# line another write ran into still counts.
_ARQ_LINE = re.compile(r"\\u(2192|2190) (\S+?):ingest_events([^\n]*)")
STARTED = "2192"


def _arq_lines(process: Process) -> list[tuple[str, str, str]]:
    """(arrow, job id, rest of the line) for each ingestion job line."""
    return _ARQ_LINE.findall(process.log.read_text(errors="replace"))


def _runs(processes: list[Process]) -> tuple[Counter[str], Counter[str]]:
    """Per ingestion job id: how often a worker started it, and finished it."""
    started: Counter[str] = Counter()
    finished: Counter[str] = Counter()
    for process in processes:
        for arrow, job, _ in _arq_lines(process):
            (started if arrow == STARTED else finished)[job] += 1
    return started, finished


def _tries(process: Process) -> Counter[tuple[str, bool]]:
    """Per job the process started: (job id, whether it was a second try)."""
    return Counter(
        (job, "try=2" in rest)
        for arrow, job, rest in _arq_lines(process)
        if arrow == STARTED
    )


async def test_a_job_cut_by_sigkill_runs_again_exactly_once(platform: Platform) -> None:
    platform.migrate()  # the indicators are checked against both producers
    platform.start_api("beneficiary")
    platform.start_api("reporting", 0, **FAST_PATH_ONLY)
    platform.start_worker("beneficiary")
    await platform.wait_ready()
    redis = Redis.from_url(platform.redis.url())
    try:
        async with httpx.AsyncClient(timeout=120) as client:
            org = await make_org(platform, client)
            uploads = await asyncio.gather(
                *(
                    client.post(
                        f"{platform.api_url('beneficiary')}/v1/sync",
                        json=sync_batch(people=60, records_each=5),
                        headers=org.case_worker,
                    )
                    for _ in range(3)
                )
            )
            assert [r.status_code for r in uploads] == [200] * 3
            deadline = time.monotonic() + 60
            while True:  # read in this order: a head read once none is pending is final
                pending = await scalar(
                    platform,
                    "beneficiary",
                    "SELECT count(*) FROM outbox_event WHERE position IS NULL",
                )
                head = (await heads(platform))["beneficiary"]
                jobs = await _ingest_jobs(redis)
                if not pending and _covered(jobs) >= head:
                    break
                assert time.monotonic() < deadline, "events were not all queued"
                await asyncio.sleep(0.2)

            first = platform.start_worker("reporting", **FAST_PATH_ONLY)
            deadline = time.monotonic() + 90
            while not await redis.keys(f"{RETRIES}ingest:*"):  # a job has begun
                assert first.popen.poll() is None, first.tail()
                assert time.monotonic() < deadline, first.tail()
                await asyncio.sleep(0.002)
            first.kill()
            killed_at = time.monotonic()
            marked = [
                k.decode().removeprefix(IN_PROGRESS)
                for k in await redis.keys(f"{IN_PROGRESS}ingest:*")
            ]
            held = [j for j in marked if await redis.zscore("reporting", j) is not None]
            begun = [j for j in held if await redis.exists(f"{RETRIES}{j}")]
            assert begun, "the worker was killed in the middle of an ingestion job"
            started, finished = _runs([first])
            assert all(finished[j] == 0 for j in held)
            applied = total(
                await indicator(platform, client, org, "services_delivered")
            )
            expected = await scalar(
                platform, "beneficiary", "SELECT count(*) FROM service_record"
            )

            second = platform.start_worker("reporting", **FAST_PATH_ONLY)
            deadline = time.monotonic() + 60
            while [j for j in jobs if await redis.zscore("reporting", j) is not None]:
                assert second.popen.poll() is None, second.tail()
                assert time.monotonic() < deadline, second.tail()
                await asyncio.sleep(0.1)
            redone_after = time.monotonic() - killed_at

            started, finished = _runs([first, second])
            assert set(finished) == set(jobs)
            assert all(n == 1 for n in finished.values()), finished
            tries = {k: n for k, n in _tries(second).items() if k[0] in held}
            # begun jobs run a second time, the others (taken, not begun) a first
            assert tries == {(job, job in begun): 1 for job in held}, second.tail()
            # blocked until the in-progress mark expired
            assert redone_after >= JOB_TIMEOUT + 10 - 1
            counts = await assert_indicators_equal_sql(platform, client, org)
    finally:
        await redis.aclose()
    print(  # noqa: T201
        f"worker killed: {len(jobs)} ingestion jobs queued, {len(held)} held by "
        f"the worker at SIGKILL, {len(begun)} of them begun ({applied} of "
        f"{expected} services counted then); run once "
        f"each by the next worker {redone_after:.1f} s after the kill "
        f"(job timeout {JOB_TIMEOUT} s + arq's 10 s); {counts}"
    )
