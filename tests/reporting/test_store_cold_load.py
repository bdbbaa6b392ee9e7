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
from tests.beneficiary.api import make_beneficiary, record_service
from tests.callers import Caller
from tests.reporting.helpers import awareness_session

PERIOD = {"start": "2020-01-01", "end": "2030-12-31"}


async def _programme(alice: Caller, catch_up: Any) -> None:
    """People of both sexes served on two days, and an anonymous session."""
    for sex, day in (("female", "2026-02-01"), ("male", "2026-03-05")):
        person = await make_beneficiary(alice, sex=sex)
        await record_service(alice, person["id"], service_date=day)
        await record_service(alice, person["id"], service_date="2026-04-01")
    await awareness_session(alice)
    await catch_up()


async def _cold_overview(
    app: FastAPI, client: httpx.AsyncClient, reader: Caller
) -> tuple[FactStore, Any]:
    store = FactStore(app.state.runtime.engine)
    app.state.fact_store = store
    await store.refresh()
    r = await client.get("/v1/overview", params=PERIOD, headers=reader.headers())
    assert r.status_code == 200, r.text
    return store, r.json()


async def test_colliding_hashes_are_coded_by_a_join_with_the_same_answers(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await _programme(alice, catch_up)
    reader = issue(orgs["a"], Role.me_officer)
    hashed, answer = await _cold_overview(reporting_app, reporting_client, reader)
    sexes = hashed.frames["services"].vocab["sex"].values
    assert set(sexes) == {"female", "male"}

    # every value of every column hashes alike (none stays none): each
    # column of two values or more is read again, coded by a join
    def alike(value: str, function: str | None) -> str:
        return f"(length({value}::text) * 0 + 1)::int8"

    monkeypatch.setattr(store_module, "_hashed", alike)
    joined, again = await _cold_overview(reporting_app, reporting_client, reader)
    assert again == answer
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
    await _programme(alice, catch_up)
    reader = issue(orgs["a"], Role.me_officer)
    store, _ = await _cold_overview(reporting_app, reporting_client, reader)
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
    await _programme(alice, catch_up)
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
