"""Review of issue 17's passes (wt-rev): a statement that fails while
tracing is on still gives a finished span, marked as an error. The seventh
pass moved the engine's hooks into ``_EngineHooks`` and ``failed`` lost its
``span.end()``: SQLAlchemy calls ``handle_error`` instead of
``after_cursor_execute`` for a failing statement, so its span was never
ended, never exported (a 409 race's IntegrityError, a timeout: the very
statements one opens a trace for)."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import StatusCode
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shared import tracing
from shared.db import make_engine
from tests.databases import recreate_database


async def test_rev_a_failing_statement_still_ends_its_span() -> None:
    tracing.stop_tracing()
    engine = make_engine(await recreate_database("mhpss_test_trace_failed"))
    tracing.trace_engine(engine, "beneficiary")
    exporter = InMemorySpanExporter()
    tracing.start_tracing(exporter, batch=False)
    try:
        async with engine.connect() as conn:
            with pytest.raises(DBAPIError):
                await conn.execute(text("SELECT 1 / 0"))
    finally:
        tracing.stop_tracing()
        await engine.dispose()
    failed = [
        s
        for s in exporter.get_finished_spans()
        if s.status.status_code == StatusCode.ERROR
    ]
    assert len(failed) == 1, exporter.get_finished_spans()
    assert failed[0].name == "SELECT"
    assert failed[0].attributes is not None
    assert failed[0].attributes["error.type"]
