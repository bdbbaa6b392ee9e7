"""The queue fast path from producers to reporting.

After a producer's ``publish_outbox`` job has given feed positions to new
events, it enqueues, by name, on reporting's queue::

    ingest_events(ctx, source: str, events: list[dict])

``source`` is the producing service's name (``beneficiary``, ``training``);
each dict of ``events`` is ``EventEnvelope.model_dump(mode="json")``, in feed
order, at most ``INGEST_CHUNK`` of them. The job id is
``ingest:<source>:<first position>-<last position>``, so a repeated publish
does not queue a chunk twice. A chunk may overlap another (two sequencers ran
at once) and may be lost with Redis; reporting's ingestion is idempotent and
its pull of the change feed fills gaps.
"""

from typing import Final

REPORTING_QUEUE: Final = "reporting"
INGEST_JOB: Final = "ingest_events"
INGEST_CHUNK: Final = 1000


def ingest_job_id(source: str, first_position: int, last_position: int) -> str:
    """The id that makes one chunk one job, however often it is enqueued."""
    return f"ingest:{source}:{first_position}-{last_position}"
