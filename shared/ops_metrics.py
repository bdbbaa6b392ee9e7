"""Operational gauges read at scrape time: queue depth and age, outbox lag,
webhook deliveries, ingestion freshness.

Each source (a probe) runs one or two cheap queries under a short timeout when
``/metrics`` is scraped. A source that fails or times out never fails the
scrape: its gauges are left out and ``mhpss_scrape_source_up{source}`` is 0.
Labels carry names of queues, tables, states and feeds only, never ids.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from shared.db import utcnow
from shared.queue import ArqQueue

if TYPE_CHECKING:
    from shared.app import Runtime

log = structlog.get_logger(__name__)
PROBE_TIMEOUT_SECONDS = 2.0

HELP = {
    "mhpss_queue_depth": "Jobs waiting in an arq queue (ZCARD of its sorted set).",
    "mhpss_queue_oldest_job_age_seconds": (
        "Age of the oldest job in an arq queue (now minus its score); 0 if empty."
    ),
    "mhpss_outbox_unsequenced_events": (
        "Committed outbox events not yet given a feed position."
    ),
    "mhpss_outbox_oldest_unsequenced_age_seconds": (
        "Age of the oldest unsequenced outbox event (now minus occurred_at); 0 if none."
    ),
    "mhpss_webhook_deliveries": "Webhook rows by kind and delivery state.",
    "mhpss_ingest_freshness_seconds": (
        "Seconds since reporting's cursor on a producer's feed last advanced "
        "(now minus feed_cursor.updated_at)."
    ),
    "mhpss_feed_cursor_position": (
        "Position up to which a producer's feed is applied with no gap."
    ),
}


@dataclass(frozen=True)
class Sample:
    name: str
    labels: Mapping[str, str]
    value: float


Probe = Callable[["Runtime"], Awaitable[list[Sample]]]


@dataclass(eq=False)  # registries key collectors by identity
class OperationsCollector(Collector):
    """Yields the samples the last ``refresh`` gathered; ``/metrics`` calls
    ``refresh`` just before rendering the registry."""

    probes: Mapping[str, Probe] = field(default_factory=dict)
    timeout: float = PROBE_TIMEOUT_SECONDS
    _samples: list[Sample] = field(default_factory=list)
    _up: dict[str, bool] = field(default_factory=dict)

    async def refresh(self, runtime: Runtime) -> None:
        names = list(self.probes)
        results = await asyncio.gather(*(self._run(name, runtime) for name in names))
        self._samples = [s for result in results if result for s in result]
        pairs = zip(names, results, strict=True)
        self._up = {name: result is not None for name, result in pairs}

    async def _run(self, name: str, runtime: Runtime) -> list[Sample] | None:
        try:
            return await asyncio.wait_for(self.probes[name](runtime), self.timeout)
        except Exception as exc:
            log.warning("metrics_source_failed", source=name, error=repr(exc))
            return None

    def collect(self) -> Iterator[Metric]:
        families: dict[str, GaugeMetricFamily] = {}
        for sample in self._samples:
            family = families.get(sample.name)
            if family is None:
                family = families[sample.name] = GaugeMetricFamily(
                    sample.name,
                    HELP.get(sample.name, sample.name),
                    labels=list(sample.labels),
                )
            family.add_metric(list(sample.labels.values()), sample.value)
        yield from families.values()
        up = GaugeMetricFamily(
            "mhpss_scrape_source_up",
            "1 if the source's scrape-time query answered in time, else 0.",
            labels=["source"],
        )
        for name, ok in self._up.items():
            up.add_metric([name], 1.0 if ok else 0.0)
        yield up


def _age(then: datetime | None) -> float:
    return max(0.0, (utcnow() - then).total_seconds()) if then else 0.0


async def _limit_statement(session: AsyncSession) -> None:
    """Let PostgreSQL itself give up on a slow query too."""
    if session.get_bind().dialect.name == "postgresql":
        timeout_ms = int(PROBE_TIMEOUT_SECONDS * 1000)
        await session.execute(text(f"SET LOCAL statement_timeout = {timeout_ms}"))


def queue_probe(queue_names: Sequence[str]) -> Probe:
    """Depth and oldest job age of arq queues (this service's own, and the
    ones it feeds). arq keeps a sorted set per queue scored by the enqueue (or
    deferred run) time in ms. Without Redis (in-process jobs) nothing is
    reported."""

    async def probe(runtime: Runtime) -> list[Sample]:
        queue = runtime.queue
        if not isinstance(queue, ArqQueue):
            return []
        samples: list[Sample] = []
        now_ms = time.time() * 1000
        for name in queue_names:
            depth = await queue.pool.zcard(name)
            oldest = await queue.pool.zrange(name, 0, 0, withscores=True)
            age = max(0.0, (now_ms - oldest[0][1]) / 1000) if oldest else 0.0
            labels = {"queue": name}
            samples.append(Sample("mhpss_queue_depth", labels, float(depth)))
            samples.append(Sample("mhpss_queue_oldest_job_age_seconds", labels, age))
        return samples

    return probe


def outbox_probe(model: type[Any]) -> Probe:
    """Outbox lag: events committed but not yet sequenced (so neither on the
    feed nor sent to reporting)."""

    async def probe(runtime: Runtime) -> list[Sample]:
        async with AsyncSession(runtime.engine) as session, session.begin():
            await _limit_statement(session)
            row = (
                await session.execute(
                    select(func.count(), func.min(col(model.occurred_at))).where(
                        col(model.position).is_(None)
                    )
                )
            ).one()
        return [
            Sample("mhpss_outbox_unsequenced_events", {}, float(row[0])),
            Sample("mhpss_outbox_oldest_unsequenced_age_seconds", {}, _age(row[1])),
        ]

    return probe


def webhook_probe(
    models: Sequence[type[Any]], states: Sequence[str] = ("pending", "dead_letter")
) -> Probe:
    """Webhook rows per kind (table name) and delivery state; the states
    listed are always reported, as 0 when there are none."""

    async def probe(runtime: Runtime) -> list[Sample]:
        samples: list[Sample] = []
        async with AsyncSession(runtime.engine) as session, session.begin():
            await _limit_statement(session)
            for model in models:
                counts = dict.fromkeys(states, 0)
                rows = await session.execute(
                    select(col(model.delivery), func.count()).group_by(
                        col(model.delivery)
                    )
                )
                for state, count in rows.all():
                    counts[str(state)] = count
                kind = str(model.__tablename__)
                samples.extend(
                    Sample(
                        "mhpss_webhook_deliveries",
                        {"kind": kind, "state": state},
                        float(count),
                    )
                    for state, count in counts.items()
                )
        return samples

    return probe


def feed_cursor_probe(model: type[Any]) -> Probe:
    """Per feed source: the applied position and the seconds since it last
    advanced."""

    async def probe(runtime: Runtime) -> list[Sample]:
        async with AsyncSession(runtime.engine) as session, session.begin():
            await _limit_statement(session)
            rows = (
                await session.execute(
                    select(
                        col(model.source), col(model.position), col(model.updated_at)
                    )
                )
            ).all()
        samples: list[Sample] = []
        for source, position, updated_at in rows:
            labels = {"source": str(source)}
            samples.append(Sample("mhpss_feed_cursor_position", labels, position))
            samples.append(
                Sample("mhpss_ingest_freshness_seconds", labels, _age(updated_at))
            )
        return samples

    return probe
