"""A cold load from PostgreSQL (no snapshot): categorical values sent as
hashes answer as codes did, a column whose hashes collide is coded by a
join instead, and each frame is sized once, to its table's last key."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from services.reporting.engine import store as store_module
from services.reporting.engine.store import Column, FactStore, Frame
from services.reporting.facts.models import ServiceFact
from shared.auth import Role
from tests.callers import Caller
from tests.reporting.helpers import both_sexes_served, overview, started_store


async def test_colliding_hashes_are_coded_by_a_join_with_the_same_answers(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await both_sexes_served(alice, catch_up)
    reader = issue(orgs["a"], Role.me_officer)
    hashed = await started_store(reporting_app)
    answer = await overview(reporting_client, reader)
    sexes = hashed.frames["services"].vocab["sex"].values
    assert set(sexes) == {"female", "male"}

    # every value of every column hashes alike (none stays none): each
    # column of two values or more is read again, coded by a join
    def alike(value: str, function: str | None) -> str:
        return f"(length({value}::text) * 0 + 1)::int4"

    monkeypatch.setattr(store_module, "_hashed", alike)
    joined = await started_store(reporting_app)
    assert await overview(reporting_client, reader) == answer
    for name, frame in hashed.frames.items():
        for column in frame.columns:
            if column.kind == "cat":
                other = joined.frames[name]
                assert other.vocab[column.name].values == (
                    frame.vocab[column.name].values
                )
                assert (other.col(column.name) == frame.col(column.name)).all()


async def test_a_cold_load_sizes_each_frame_to_its_last_key(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    """No room doubled for rows that may never come: a 10M-line frame
    grown by doubling held up to twice its rows' memory."""
    await both_sexes_served(alice, catch_up)
    store = await started_store(reporting_app)
    await overview(reporting_client, issue(orgs["a"], Role.me_officer))
    services = store.frames["services"]
    assert services.size > 1
    assert len(services.present) == services.size  # the last key + 1
    assert len(services.col("sex")) == services.size


def test_a_frame_grows_by_an_eighth() -> None:
    frame = Frame(ServiceFact.__table__, [Column("people", "int")])  # type: ignore[attr-defined]
    frame.put(np.array([0]), {"people": np.array([1], np.int32)})
    assert len(frame.present) == 1024
    frame.put(np.array([8_000]), {"people": np.array([2], np.int32)})
    assert len(frame.present) == 8_001 + 8_001 // 8  # the rows, an eighth more
    assert frame.col("people")[[0, 8_000]].tolist() == [1, 2]
    assert (frame.col("people")[1:8_000] == -1).all()


async def test_a_first_load_tried_again_takes_no_code_from_the_failed_one(
    alice: Caller,
    reporting_app: FastAPI,
    catch_up: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A first load that failed halfway left codes and hashes in its frames;
    tried again, a row it does not read again (changed since, so loaded
    later) must not be taken for an unknown value."""
    await both_sexes_served(alice, catch_up)
    store = FactStore(reporting_app.state.runtime.engine)
    recode = store_module._recode
    calls = []

    def failing_once(*args: Any) -> bool:
        calls.append(1)
        if len(calls) == 3:  # two columns coded, the rest still hashes
            raise RuntimeError("the load stops halfway")
        return recode(*args)

    monkeypatch.setattr(store_module, "_recode", failing_once)
    with pytest.raises(RuntimeError):
        await store.refresh()
    async with reporting_app.state.runtime.engine.begin() as conn:
        changed = (  # changed after the head: not read this time
            await conn.execute(
                text(
                    "UPDATE service_fact SET seq = seq + 1000"
                    " WHERE key = (SELECT min(key) FROM service_fact) RETURNING key"
                )
            )
        ).scalar_one()
    await store.refresh()
    assert store.seq > 0
    services = store.frames["services"]
    for column in services.columns:
        if column.kind == "cat":
            codes = services.col(column.name)
            assert codes[changed] == -1
            assert (codes < len(services.vocab[column.name].values)).all()
