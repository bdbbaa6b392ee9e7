"""Reporting on PostgreSQL: the columnar query engine next to plain SQL over
the same facts, and event ingestion, measured in one process (no HTTP).

    .venv/bin/python -m bench.run_reporting --services 1000000 --people 150000

Loads a fresh database straight into the fact tables with COPY (this measures
queries, not ingestion), times the programme overview and single indicators
against the GROUP BYs they correspond to, checks that the engine's numbers
equal PostgreSQL's, times ``ingest()`` into the big database (then the
incremental cache refresh) and into a second fresh one, and prints a table.
JSON and cProfile output go to bench/out/.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import csv
import gc
import io
import json
import math
import os
import platform
import pstats
import random
import re
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
from numpy.typing import NDArray
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.run_beneficiary import (
    ADMIN_URL,
    code_state,
    load_average,
    percentile,
    recreate_database,
)
from services.reporting.access.service import Caller
from services.reporting.catalogue.catalogue import Indicator, indicators
from services.reporting.engine.ages import AgeBands
from services.reporting.engine.evaluator import Scope
from services.reporting.engine.store import FactStore
from services.reporting.indicators.service import IndicatorValues, answer
from services.reporting.ingest.jobs import ingest
from services.reporting.migrations.runner import MIGRATIONS
from services.reporting.overview.service import SECTIONS, Overview, overview
from services.reporting.settings import ReportingSettings
from services.reporting.suppression import ALL
from shared.app import Runtime, start_runtime
from shared.contracts.enums import (
    DeliveredThrough,
    DisabilityStatus,
    DisplacementStatus,
    MaritalStatus,
    Modality,
    RegistrationChannel,
    Sex,
)
from shared.contracts.events import (
    BeneficiaryFacts,
    EventEnvelope,
    ServiceRecordFacts,
)
from shared.db import make_engine
from shared.i18n import IN_ENGLISH
from shared.observability import configure_logging
from shared.taxonomy.activities import activities
from shared.taxonomy.iasc import IascLayer

REPO = Path(__file__).resolve().parent.parent
OUT_DIR = REPO / "bench" / "out"
REFERENCE = REPO / "services" / "beneficiary" / "reference_data"
DATA_START, DATA_END = date(2020, 1, 1), date(2022, 6, 30)
QUERY_START, QUERY_END = date(2020, 10, 1), date(2021, 12, 31)
EPOCH = date(1970, 1, 1)
NAMESPACE = uuid.UUID("5f0c8a52-4d0e-4a4b-9a57-1f1d3c2b7e10")
TARGET_OVERVIEW_MS = 150.0
TARGET_INDICATOR_MS = 50.0
TARGET_EVENTS_PER_S = 5000.0
COPY_CHUNK = 100_000
STAFF = 400
ORGANISATION_SHARES = [0.34, 0.24, 0.18, 0.14, 0.10]
RISK_LEVELS = ["low", "medium", "high", "imminent"]
INDICATOR_QUERIES = [
    ("people_reached", ["sex", "iasc_layer"]),
    ("services_delivered", ["governorate", "age_group"]),
]
FACT_TABLES = [
    "beneficiary_fact",
    "service_fact",
    "referral_fact",
    "case_fact",
    "assessment_fact",
    "trainee_fact",
    "attendance_fact",
    "result_fact",
    "competency_fact",
    "practice_session_fact",
    "supervision_fact",
]

Key = tuple[str, ...]
Values = tuple[float | None, ...]
IntArray = NDArray[np.int64]


# --------------------------------------------------------------------------
# The world: organisations, Iraq's governorates and sites, activities


@dataclass(frozen=True)
class World:
    """Fixed reference data, the same in the loader and the benchmark."""

    organisations: list[uuid.UUID]
    governorates: list[tuple[uuid.UUID, str, str]]  # id, pcode, name
    sites: list[tuple[uuid.UUID, str, uuid.UUID]]  # id, name, governorate
    activities: list[tuple[str, str, str]]  # code, IASC layer, kind


def world() -> World:
    with (REFERENCE / "iraq_admin1.csv").open(encoding="utf-8") as f:
        governorates = [
            (
                uuid.uuid5(NAMESPACE, f"gov:{row['ADM1_PCODE']}"),
                row["ADM1_PCODE"],
                row["ADM1_EN"],
            )
            for row in csv.DictReader(f)
        ]
    by_pcode = {pcode: gid for gid, pcode, _ in governorates}
    with (REFERENCE / "iraq_sites.csv").open() as f:
        sites = [
            (
                uuid.uuid5(NAMESPACE, f"site:{row['site']}"),
                row["site"],
                by_pcode[row["governorate_pcode"]],
            )
            for row in csv.DictReader(f)
        ]
    return World(
        organisations=[uuid.uuid5(NAMESPACE, f"org:{i}") for i in range(5)],
        governorates=governorates,
        sites=sites,
        activities=[
            (a.code, a.iasc_layer.value, a.kind.value) for a in activities().values()
        ],
    )


def database_url(database: str) -> str:
    url = make_url(ADMIN_URL).set(database=database)
    return url.render_as_string(hide_password=False)


async def connect(database: str) -> Any:
    url = make_url(ADMIN_URL)
    return await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database=database
    )


def day_of(day: date) -> int:
    return (day - EPOCH).days


def dates(days: NDArray[Any]) -> list[date]:
    return list(days.astype("datetime64[D]").tolist())


def lookup(values: Sequence[Any]) -> NDArray[Any]:
    """Values as an object array with None last, so index -1 reads None."""
    table = np.empty(len(values) + 1, dtype=object)
    table[: len(values)] = list(values)
    table[len(values)] = None
    return table


def choose(rng: np.random.Generator, shares: Sequence[float], n: int) -> IntArray:
    p = np.asarray(shares, dtype=np.float64)
    return rng.choice(len(p), n, p=p / p.sum()).astype(np.int64)


def none_below_zero(values: IntArray) -> list[Any]:
    out = values.astype(object)
    out[values < 0] = None
    return list(out.tolist())


# --------------------------------------------------------------------------
# Loading: COPY straight into the fact tables


@dataclass
class People:
    """Registered people as columns (row i has key i + 1)."""

    organisation: IntArray
    site: IntArray
    registered: IntArray  # day numbers
    site_weight: NDArray[np.float64]
    birth: IntArray  # years


async def copy(conn: Any, table: str, columns: dict[str, list[Any]]) -> int:
    names = list(columns)
    records = list(zip(*columns.values(), strict=True))
    await conn.copy_records_to_table(table, records=records, columns=names)
    return len(records)


async def copy_dimensions(conn: Any, w: World) -> None:
    await copy(
        conn,
        "organisation_dim",
        {
            "id": w.organisations,
            "name": [f"Bench organisation {i + 1}" for i in range(5)],
        },
    )
    await copy(
        conn,
        "location_dim",
        {
            "id": [g for g, _, _ in w.governorates] + [s for s, _, _ in w.sites],
            "name": [n for _, _, n in w.governorates] + [n for _, n, _ in w.sites],
            "pcode": [p for _, p, _ in w.governorates] + [None] * len(w.sites),
            "level": ["governorate"] * len(w.governorates) + ["site"] * len(w.sites),
            "parent_id": [None] * len(w.governorates) + [g for _, _, g in w.sites],
            "names": ["{}"] * (len(w.governorates) + len(w.sites)),
        },
    )


async def copy_people(conn: Any, rng: np.random.Generator, w: World, n: int) -> People:
    span = day_of(DATA_END) - day_of(DATA_START) + 1
    organisation = choose(rng, ORGANISATION_SHARES, n)
    site_weight = rng.gamma(1.5, size=len(w.sites))
    site_weight /= site_weight.sum()
    site = choose(rng, list(site_weight), n)
    registered = day_of(DATA_START) + (span * rng.random(n) ** 1.3).astype(np.int64)
    year = registered.astype("datetime64[D]").astype("datetime64[Y]").astype(int)
    years = np.arange(1940, 2025)
    weight = np.exp(-(2024 - years) / 35.0)
    birth = np.minimum(years[choose(rng, list(weight), n)], year + 1970)
    marital = choose(rng, [0.38, 0.45, 0.04, 0.03, 0.07, 0.03], n)
    marital[marital == 5] = -1
    displacement = choose(rng, [0.45, 0.2, 0.28, 0.04, 0.01, 0.02], n)
    displacement[displacement == 5] = -1
    await copy(
        conn,
        "beneficiary_fact",
        {
            "key": list(range(1, n + 1)),
            "position": list(range(1, n + 1)),
            "seq": [1] * n,
            "alive": [True] * n,
            "beneficiary_id": [uuid.uuid4() for _ in range(n)],
            "organisation_id": lookup(w.organisations)[organisation].tolist(),
            "site_id": lookup([s for s, _, _ in w.sites])[site].tolist(),
            "sex": lookup([s.value for s in Sex])[
                choose(rng, [0.56, 0.435, 0.005], n)
            ].tolist(),
            "birth_year": birth.tolist(),
            "marital_status": lookup([m.value for m in MaritalStatus])[
                marital
            ].tolist(),
            "disability": lookup(["yes", "no", "not_disclosed"])[
                choose(rng, [0.12, 0.85, 0.03], n)
            ].tolist(),
            "displacement_status": lookup([d.value for d in DisplacementStatus])[
                displacement
            ].tolist(),
            "registration_date": dates(registered),
            "registration_channel": lookup([c.value for c in RegistrationChannel])[
                choose(rng, [0.4, 0.25, 0.2, 0.1, 0.05], n)
            ].tolist(),
            "erased": [False] * n,
        },
    )
    return People(organisation, site, registered, site_weight, birth)


async def copy_services(
    conn: Any,
    rng: np.random.Generator,
    w: World,
    people: People,
    n: int,
    anonymous_share: float,
    first_position: int,
) -> dict[str, int]:
    """Service lines, keyed in date order as they would arrive: registered
    people's services after their registration, and anonymous services of
    one to six demographic lines, each line ``people`` > 1."""
    span = day_of(DATA_END) - day_of(DATA_START) + 1
    n_anon = round(n * anonymous_share)
    n_reg = n - n_anon
    codes = [a[0] for a in w.activities]
    registered_mix = {"specialized": 8, "focused_non_specialized": 45}
    registered_mix |= {"community_family": 35, "basic_services": 12}
    reg_weights = [
        registered_mix[layer] / sum(1 for a in w.activities if a[1] == layer)
        for _, layer, _ in w.activities
    ]
    anon_weights = [1.0 if kind != "individual" else 0.0 for _, _, kind in w.activities]

    weight = rng.gamma(0.7, size=len(people.registered))
    person = choose(rng, list(weight), n_reg)
    start = people.registered[person]
    reg_day = start + (rng.random(n_reg) * (day_of(DATA_END) - start + 1)).astype(
        np.int64
    )
    reg_site = people.site[person].copy()
    moved = rng.random(n_reg) < 0.1
    reg_site[moved] = choose(rng, list(people.site_weight), int(moved.sum()))
    reg_site[rng.random(n_reg) < 0.01] = -1

    lines = rng.integers(1, 7, n_anon + 1)
    ends = np.cumsum(lines)
    records = int(np.searchsorted(ends, n_anon)) + 1 if n_anon else 0
    lines = lines[:records]
    if records:
        lines[-1] -= int(ends[records - 1]) - n_anon
    record_of = np.repeat(np.arange(records), lines)
    first = np.concatenate([[0], np.cumsum(lines)[:-1]]).astype(np.int64)
    line_no = np.arange(n_anon) - first[record_of]

    def per_record(values: NDArray[Any]) -> NDArray[Any]:
        return values[record_of]

    lead = np.concatenate(
        [
            people.organisation[person],
            per_record(choose(rng, ORGANISATION_SHARES, records)),
        ]
    )
    partner = rng.random(n) < 0.3
    organisation = np.where(partner, (lead + rng.integers(1, 5, n)) % 5, lead)
    record_ids = np.empty(n, dtype=object)
    record_ids[:n_reg] = [uuid.uuid4() for _ in range(n_reg)]
    anon_ids = np.empty(records, dtype=object)
    anon_ids[:] = [uuid.uuid4() for _ in range(records)]
    record_ids[n_reg:] = anon_ids[record_of]
    staff = organisation + 5 * rng.integers(0, STAFF // 5, n)
    staff[rng.random(n) < 0.04] = -1
    duration = np.array([30, 45, 60, 90, 120])[choose(rng, [2, 3, 3, 1, 1], n)]
    duration[rng.random(n) < 0.1] = -1
    duration[n_reg:] = -1
    columns: dict[str, NDArray[Any]] = {
        "anonymous": np.concatenate([np.zeros(n_reg, bool), np.ones(n_anon, bool)]),
        "beneficiary_key": np.concatenate([person + 1, np.full(n_anon, -1)]),
        "lead": lead,
        "organisation": organisation,
        "partner": partner,
        "activity": np.concatenate(
            [
                choose(rng, reg_weights, n_reg),
                per_record(choose(rng, anon_weights, records)),
            ]
        ),
        "day": np.concatenate(
            [
                reg_day,
                per_record(day_of(DATA_START) + rng.integers(0, span, records)),
            ]
        ),
        "site": np.concatenate(
            [reg_site, per_record(choose(rng, list(people.site_weight), records))]
        ),
        "modality": choose(rng, [0.82, 0.14, 0.03, 0.01], n),
        "staff": staff,
        "duration": duration,
        "people": np.concatenate(
            [np.ones(n_reg, np.int64), rng.integers(2, 41, n_anon)]
        ),
        "sex": np.concatenate(
            [np.full(n_reg, -1), choose(rng, [0.5, 0.45, 0.05], n_anon)]
        ),
        "age_group": np.concatenate(
            [np.full(n_reg, -1), choose(rng, [0.4, 0.55, 0.05], n_anon)]
        ),
        "age_at_service": np.full(n, -1),  # registered lines' below
        "disability": np.concatenate(
            [np.full(n_reg, -1), choose(rng, [0.1, 0.85, 0.05], n_anon)]
        ),
        "alive": np.concatenate(
            [rng.random(n_reg) >= 0.01, per_record(rng.random(records) >= 0.01)]
        ),
        "record_id": record_ids,
        "line": np.concatenate([np.zeros(n_reg, np.int64), line_no]),
    }
    served = columns["day"][:n_reg].astype("datetime64[D]").astype("datetime64[Y]")
    columns["age_at_service"][:n_reg] = np.maximum(
        served.astype(np.int64)
        + 1970
        - people.birth[person]
        - rng.integers(0, 2, n_reg)
        - (rng.random(n_reg) < 0.02) * 5,  # a few from a since-corrected birth year
        -1,
    )
    order = np.argsort(columns["day"], kind="stable")
    columns = {name: values[order] for name, values in columns.items()}

    organisations = lookup(w.organisations)
    layers = lookup([a[1] for a in w.activities])
    activity_codes = lookup(codes)
    sites = lookup([s for s, _, _ in w.sites])
    modalities = lookup([m.value for m in Modality])
    staff_codes = lookup([f"STF-{i:04d}" for i in range(STAFF)])
    through = lookup([d.value for d in DeliveredThrough])
    sexes = lookup(["female", "male"])
    age_groups = lookup(["under_18", "adult", "unknown"])
    disabilities = lookup(["yes", "no", "not_disclosed"])
    for low in range(0, n, COPY_CHUNK):
        c = {name: values[low : low + COPY_CHUNK] for name, values in columns.items()}
        m = len(c["day"])
        keys = np.arange(low + 1, low + m + 1)
        await copy(
            conn,
            "service_fact",
            {
                "key": keys.tolist(),
                "position": (keys + first_position - 1).tolist(),
                "seq": [1] * m,
                "alive": c["alive"].tolist(),
                "record_id": c["record_id"].tolist(),
                "line": c["line"].tolist(),
                "anonymous": c["anonymous"].tolist(),
                "beneficiary_key": none_below_zero(c["beneficiary_key"]),
                "organisation_id": organisations[c["organisation"]].tolist(),
                "lead_organisation_id": organisations[c["lead"]].tolist(),
                "delivered_through": through[c["partner"].astype(np.int64)].tolist(),
                "activity_code": activity_codes[c["activity"]].tolist(),
                "iasc_layer": layers[c["activity"]].tolist(),
                "service_date": dates(c["day"]),
                "site_id": sites[c["site"]].tolist(),
                "modality": modalities[c["modality"]].tolist(),
                "staff_id": staff_codes[c["staff"]].tolist(),
                "duration_minutes": none_below_zero(c["duration"]),
                "people": c["people"].tolist(),
                "sex": sexes[c["sex"]].tolist(),
                "age_group": age_groups[c["age_group"]].tolist(),
                "disability": disabilities[c["disability"]].tolist(),
                "age_at_service": none_below_zero(c["age_at_service"]),
            },
        )
    return {
        "service_lines": n,
        "registered_lines": n_reg,
        "anonymous_lines": n_anon,
        "anonymous_services": records,
        "voided_lines": int((~columns["alive"]).sum()),
        "people_with_services": len(np.unique(person)),
    }


async def copy_rows(conn: Any, table: str, rows: list[dict[str, Any]]) -> int:
    return await copy(conn, table, {k: [row[k] for row in rows] for k in rows[0]})


async def copy_case_facts(
    conn: Any, r: random.Random, w: World, people: People, first_position: int
) -> dict[str, int]:
    """Referrals, cases and their PHQ-9/SRQ-20 assessments (baseline, then
    follow-ups about a month apart), enough for the overview's case tables."""
    last = day_of(DATA_END)
    position = first_position - 1

    def fact(key: int, row: int) -> dict[str, Any]:
        nonlocal position
        position += 1
        return {
            "key": key,
            "position": position,
            "seq": 1,
            "alive": True,
            "beneficiary_key": row + 1,
            "organisation_id": w.organisations[people.organisation[row]],
        }

    def day(number: int) -> date:
        return EPOCH + timedelta(days=number)

    areas = ["specialised_mental_health", "health", "protection", "legal"]
    areas += ["livelihoods", "education", "shelter", "gbv_services", "other"]
    referrals = []
    for i in range(max(100, len(people.registered) // 8)):
        row = r.randrange(len(people.registered))
        sent = r.randint(int(people.registered[row]), last)
        referrals.append(
            {
                **fact(i + 1, row),
                "referral_id": uuid.uuid4(),
                "site_id": w.sites[people.site[row]][0],
                "kind": r.choice(["internal", "external"]),
                "area": r.choices(areas, [25, 20, 15, 8, 12, 6, 5, 5, 4])[0],
                "status": r.choice(
                    ["sent", "accepted", "declined", "completed", "no_response"]
                ),
                "sent_on": day(sent),
                "status_on": day(min(last, sent + r.randint(0, 30))),
            }
        )
    cases: list[dict[str, Any]] = []
    assessments: list[dict[str, Any]] = []
    for i in range(max(50, len(people.registered) // 15)):
        row = r.randrange(len(people.registered))
        opened = r.randint(int(people.registered[row]), last)
        closed = opened + r.randint(30, 150) if r.random() < 0.4 else None
        closed = None if closed is None or closed > last else closed
        case = {
            **fact(i + 1, row),
            "case_id": uuid.uuid4(),
            "site_id": w.sites[people.site[row]][0],
            "status": "closed" if closed else r.choice(["open", "active", "on_hold"]),
            "risk_level": r.choices(
                ["low", "medium", "high", "imminent"], [50, 30, 15, 2]
            )[0],
            "iasc_layer_needed": r.choice(["focused_non_specialized", "specialized"]),
            "opened_on": day(opened),
            "closed_on": None if closed is None else day(closed),
        }
        cases.append(case)
        instrument, high = ("phq9", 27) if r.random() < 0.6 else ("srq20", 20)
        score = r.randint(high // 3, high)
        visits = [(opened, "baseline", score)]
        for j in range(r.randint(0, 3)):
            seen = opened + 30 * (j + 1) + r.randint(0, 10)
            if seen > last:
                break
            score = max(0, score - r.randint(-2, 6))
            visits.append((seen, "follow_up", score))
        if closed is not None and len(visits) > 1:
            visits[-1] = (visits[-1][0], "closure", visits[-1][2])
        for seen, timepoint, score in visits:
            assessments.append(
                {
                    **fact(len(assessments) + 1, row),
                    "assessment_id": uuid.uuid4(),
                    "case_id": case["case_id"],
                    "instrument": instrument,
                    "timepoint": timepoint,
                    "administered_on": day(seen),
                    "scores": json.dumps({"total": score}),
                    "risk_flagged": r.random() < 0.05,
                }
            )
    return {
        "referral_fact": await copy_rows(conn, "referral_fact", referrals),
        "case_fact": await copy_rows(conn, "case_fact", cases),
        "assessment_fact": await copy_rows(conn, "assessment_fact", assessments),
        "last_position": position,
    }


async def copy_training_facts(conn: Any, r: random.Random, w: World) -> dict[str, int]:
    """Trainees (the first ``STAFF`` are the service records' staff codes),
    cohorts with attendance and results, competency assessments, practice
    sessions and supervision, from the training service's feed."""
    first, last = day_of(DATA_START), day_of(DATA_END)
    position = 0

    def fact() -> dict[str, Any]:
        nonlocal position
        position += 1
        return {"position": position, "seq": 1, "alive": True}

    def day(d: int) -> date:
        return EPOCH + timedelta(days=d)

    audiences = ["ngo", "cso", "government", "community_volunteer"]
    audiences += ["medical_student", "media"]
    trainees = []
    for i in range(600):
        trainees.append(
            {
                **fact(),
                "key": i + 1,
                "trainee_id": uuid.uuid4(),
                "organisation_id": w.organisations[i % 5],
                "audience": "own_staff" if i < STAFF else r.choice(audiences),
                "sex": r.choice(["female", "male"]),
                "staff_id": f"STF-{i:04d}" if i < STAFF else None,
            }
        )
    attendance: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for _ in range(40):
        start = r.randint(first, last - 30)
        level = r.choices(["foundational", "tot", "refresher"], [60, 15, 25])[0]
        organisation = r.choice(w.organisations)
        cohort_id = uuid.uuid4()
        sessions = [(uuid.uuid4(), start + d) for d in range(5)]
        members = r.sample(trainees, 15)
        for session_id, held in sessions:
            for t in members:
                attendance.append(
                    {
                        **fact(),
                        "key": len(attendance) + 1,
                        "session_id": session_id,
                        "trainee_id": t["trainee_id"],
                        "cohort_id": cohort_id,
                        "organisation_id": organisation,
                        "held_on": day(held),
                        "hours": r.choice([4.0, 6.0]),
                        "present": r.random() < 0.92,
                    }
                )
        for t in members:
            completed = r.random() < 0.85
            results.append(
                {
                    **fact(),
                    "key": len(results) + 1,
                    "cohort_id": cohort_id,
                    "trainee_id": t["trainee_id"],
                    "organisation_id": organisation,
                    "course_level": level,
                    "decided_on": day(min(last, start + 14)),
                    "completed": completed,
                    "certified": completed and r.random() < 0.8,
                    "competency_level": r.choice([None, 1, 2, 3, 4]),
                }
            )
    competency = [
        {
            **fact(),
            "key": i + 1,
            "assessment_id": uuid.uuid4(),
            "trainee_id": r.choice(trainees)["trainee_id"],
            "organisation_id": r.choice(w.organisations),
            "assessed_on": day(r.randint(first, last)),
            "overall_level": r.randint(1, 4),
            "harmful": r.random() < 0.02,
        }
        for i in range(800)
    ]
    groups = [(uuid.uuid4(), r.choice(w.organisations)) for _ in range(150)]
    practice = []
    for i in range(3000):
        group_id, organisation = r.choice(groups)
        recorded = r.random() < 0.4
        practice.append(
            {
                **fact(),
                "key": i + 1,
                "session_id": uuid.uuid4(),
                "group_id": group_id,
                "organisation_id": organisation,
                "held_on": day(r.randint(first, last)),
                "phase": r.choice(["pre_group", "initial", "middle", "termination"]),
                "clients_attended": r.randint(4, 10),
                "recorded": recorded,
                "adherence_score": (
                    round(r.uniform(0.5, 1.0), 3)
                    if recorded and r.random() < 0.7
                    else None
                ),
            }
        )
    supervision = [
        {
            **fact(),
            "key": i + 1,
            "supervision_id": uuid.uuid4(),
            "organisation_id": r.choice(w.organisations),
            "held_on": day(r.randint(first, last)),
            "duration_minutes": r.randint(60, 150),
            "supervisee_ids": json.dumps(
                [str(t["trainee_id"]) for t in r.sample(trainees, r.randint(1, 6))]
            ),
            # one in four coaching or mentoring: not counted as supervision
            "purpose": ("supervision", "supervision", "coaching", "mentoring")[i % 4],
        }
        for i in range(1500)
    ]
    return {
        "trainee_fact": await copy_rows(conn, "trainee_fact", trainees),
        "attendance_fact": await copy_rows(conn, "attendance_fact", attendance),
        "result_fact": await copy_rows(conn, "result_fact", results),
        "competency_fact": await copy_rows(conn, "competency_fact", competency),
        "practice_session_fact": await copy_rows(
            conn, "practice_session_fact", practice
        ),
        "supervision_fact": await copy_rows(conn, "supervision_fact", supervision),
        "last_position": position,
    }


async def load_database(
    database: str, people: int, services: int, anonymous_share: float, seed: int
) -> dict[str, Any]:
    """A fresh, migrated database with the facts COPYed in, every row at
    ``seq`` 1, key sequences moved past the loaded keys, then VACUUM ANALYZE."""
    started = time.perf_counter()
    pg_version = await recreate_database(database)
    engine = make_engine(database_url(database))
    try:
        await MIGRATIONS.upgrade(engine)
    finally:
        await engine.dispose()
    conn = await connect(database)
    try:
        rng = np.random.default_rng(seed)
        w = world()
        await copy_dimensions(conn, w)
        crowd = await copy_people(conn, rng, w, people)
        shape = await copy_services(
            conn, rng, w, crowd, services, anonymous_share, people + 1
        )
        cases = await copy_case_facts(
            conn, random.Random(seed), w, crowd, people + services + 1
        )
        training = await copy_training_facts(conn, random.Random(seed + 1), w)
        await conn.execute("UPDATE ingest_counter SET seq = 1 WHERE id = 1")
        await conn.executemany(
            "INSERT INTO feed_cursor (source, position, updated_at) "
            "VALUES ($1, $2, now())",
            [
                ("beneficiary", cases.pop("last_position")),
                ("training", training.pop("last_position")),
            ],
        )
        for table in FACT_TABLES:
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'key'), "
                f"(SELECT max(key) FROM {table}))"
            )
        copied = time.perf_counter() - started
        for table in [*FACT_TABLES, "location_dim", "organisation_dim"]:
            await conn.execute(f"VACUUM ANALYZE {table}")
        sizes = {
            table: int(await conn.fetchval(f"SELECT pg_total_relation_size('{table}')"))
            for table in FACT_TABLES
        }
    finally:
        await conn.close()
    return {
        "postgresql": pg_version,
        "load_s": round(copied, 1),
        "load_and_vacuum_s": round(time.perf_counter() - started, 1),
        "people": people,
        **shape,
        **cases,
        **training,
        "table_mib": {t: round(s / 2**20, 1) for t, s in sizes.items()},
    }


def load_in_child(
    database: str, people: int, services: int, anonymous_share: float, seed: int
) -> dict[str, Any]:
    """Runs in a separate process so the generator's garbage does not count
    in the benchmark's RSS."""
    return asyncio.run(load_database(database, people, services, anonymous_share, seed))


# --------------------------------------------------------------------------
# The same figures in SQL


PERSON_DIMS = {"sex", "age_group", "marital_status", "disability"}
PERSON_DIMS |= {"displacement_status"}


def between(column: str, start: date, end: date) -> str:
    return f"{column} BETWEEN '{start.isoformat()}' AND '{end.isoformat()}'"


def quoted(values: Sequence[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def assemble(
    dims: Sequence[str],
    inner: Sequence[str],
    source: str,
    where: Sequence[str],
    aggregates: Sequence[str],
    cube: bool,
) -> str:
    """SELECT dims and aggregates; ``cube`` adds every margin and the total
    ('*' where a dim is summed over), as an indicator answer holds them."""
    names = [f"d{i}" for i in range(len(dims))]
    columns = [f"{e} AS {n}" for e, n in zip(dims, names, strict=True)]
    sub = f"SELECT {', '.join([*columns, *inner])} FROM {source}"
    if where:
        sub += f" WHERE {' AND '.join(where)}"
    if not dims:
        return f"SELECT {', '.join(aggregates)} FROM ({sub}) q"
    if cube:
        heads = [
            f"CASE WHEN GROUPING({n}) = 1 THEN '{ALL}' ELSE {n} END" for n in names
        ]
        group = f"CUBE({', '.join(names)})"
    else:
        heads, group = names, ", ".join(names)
    return f"SELECT {', '.join([*heads, *aggregates])} FROM ({sub}) q GROUP BY {group}"


def age_case(bands: AgeBands, anonymous: bool) -> str:
    """The engine's age group: the age the service carries when it agrees
    with the birth year, else the service's year minus the birth year;
    anonymous lines map their own group."""
    by_year = "EXTRACT(YEAR FROM s.service_date)::int - b.birth_year"
    age = (
        "CASE WHEN s.beneficiary_key IS NOT NULL AND s.age_at_service >= 0 "
        "AND (b.birth_year IS NULL OR b.birth_year <= 0 "
        f"OR {by_year} - s.age_at_service IN (0, 1)) THEN s.age_at_service "
        f"WHEN b.birth_year > 0 THEN {by_year} END"
    )
    whens = []
    for (low, high), label in zip(bands.bounds, bands.labels, strict=True):
        test = f">= {low}" if high is None else f"BETWEEN {low} AND {high}"
        whens.append(f"WHEN ({age}) {test} THEN '{label}'")
    registered = f"CASE {' '.join(whens)} ELSE 'unknown' END"
    if not anonymous:
        return registered
    own = [
        f"WHEN '{group}' THEN '{bands.labels[band]}'"
        for group in ("under_18", "adult", "0_17", "18_plus")
        if (band := bands.of_anonymous(group)) >= 0
    ]
    mapped = (
        f"CASE s.age_group {' '.join(own)} ELSE 'unknown' END" if own else "'unknown'"
    )
    return f"CASE WHEN s.anonymous THEN {mapped} ELSE {registered} END"


def service_dim(name: str, people: bool, bands: AgeBands) -> str:
    if name == "age_group" and people:
        return "f.age_group"  # at the person's first service (services_sql)
    if name == "age_group":
        return age_case(bands, anonymous=True)
    if name in ("sex", "disability") and not people:
        return (
            f"CASE WHEN s.anonymous THEN COALESCE(s.{name}, 'unknown') "
            f"ELSE COALESCE(b.{name}, 'unknown') END"
        )
    if name in PERSON_DIMS:
        return f"COALESCE(b.{name}, 'unknown')"
    return {
        "governorate": "COALESCE(l.parent_id::text, 'unknown')",
        "site": "COALESCE(s.site_id::text, 'unknown')",
        "organisation": "s.organisation_id::text",
        "lead_organisation": "s.lead_organisation_id::text",
        "delivered_through": "s.delivered_through",
        "iasc_layer": "s.iasc_layer",
        "activity": "s.activity_code",
        "modality": "s.modality",
    }[name]


SERVICE_FILTERS = {"activity": "s.activity_code", "iasc_layer": "s.iasc_layer"}


def services_sql(
    measure: str,
    by: Sequence[str],
    filters: dict[str, list[str]],
    bands: AgeBands,
    cube: bool,
) -> str:
    """people (distinct beneficiary keys), services or anonymous_people
    (sums of ``people``) over live service lines of the period."""
    people = measure == "people"
    source = "service_fact s"
    if PERSON_DIMS & set(by):
        join = "JOIN" if people else "LEFT JOIN"
        source += f" {join} beneficiary_fact b ON b.key = s.beneficiary_key"
    if "governorate" in by:
        source += " LEFT JOIN location_dim l ON l.id = s.site_id"
    where = ["s.alive", between("s.service_date", QUERY_START, QUERY_END)]
    if people:
        where.append("s.beneficiary_key IS NOT NULL")
    if measure == "anonymous_people":
        where.append("s.anonymous")
    for name, wanted in filters.items():
        where.append(f"{SERVICE_FILTERS[name]} IN ({quoted(wanted)})")
    if people and "age_group" in by:  # each person at their first service
        source += (
            " JOIN (SELECT DISTINCT ON (s.beneficiary_key) s.beneficiary_key AS "
            f"who, {age_case(bands, anonymous=False)} AS age_group FROM "
            "service_fact s LEFT JOIN beneficiary_fact b ON b.key = "
            f"s.beneficiary_key WHERE {' AND '.join(where)} ORDER BY "
            "s.beneficiary_key, s.service_date, s.key) f ON f.who = s.beneficiary_key"
        )
    dims = [service_dim(name, people, bands) for name in by]
    if people:
        return assemble(
            dims, ["s.beneficiary_key AS k"], source, where, ["count(DISTINCT k)"], cube
        )
    return assemble(
        dims, ["s.people AS n"], source, where, ["COALESCE(sum(n), 0)"], cube
    )


def qualified_sql(filters: dict[str, list[str]]) -> str:
    where = ["s.alive", between("s.service_date", QUERY_START, QUERY_END)]
    for name, wanted in filters.items():
        where.append(f"{SERVICE_FILTERS[name]} IN ({quoted(wanted)})")
    return (
        "WITH qualified AS (SELECT t.organisation_id, t.staff_id, "
        "min(q.day) AS since FROM trainee_fact t JOIN ("
        "SELECT trainee_id, organisation_id, decided_on AS day FROM result_fact "
        "WHERE certified AND decided_on IS NOT NULL UNION ALL "
        "SELECT trainee_id, organisation_id, assessed_on FROM competency_fact "
        "WHERE overall_level >= 3) q ON q.trainee_id = t.trainee_id "
        "AND q.organisation_id = t.organisation_id "
        "WHERE t.staff_id IS NOT NULL GROUP BY t.organisation_id, t.staff_id) "
        "SELECT COALESCE(sum(s.people) FILTER "
        "(WHERE least(q.since, l.since) <= s.service_date), 0), "
        "COALESCE(sum(s.people) FILTER (WHERE s.staff_id IS NOT NULL), 0) "
        "FROM service_fact s LEFT JOIN qualified q ON q.staff_id = s.staff_id "
        "AND q.organisation_id = s.organisation_id "
        "LEFT JOIN qualified l ON l.staff_id = s.staff_id "
        "AND l.organisation_id = s.lead_organisation_id "
        f"WHERE {' AND '.join(where)}"
    )


def improvement_sql(rules: list[dict[str, Any]]) -> str:
    """Cases whose latest follow-up in the period improved on the baseline
    by a rule's threshold, over cases with a baseline and such a follow-up;
    an instrument matches whatever its version (``code@version``)."""
    instruments = quoted([r["instrument"] for r in rules])
    gains = " ".join(
        f"WHEN '{r['instrument']}' THEN "
        + (
            f"b.value - l.value >= {float(r['threshold'])}"
            if r.get("better", "lower") == "lower"
            else f"l.value - b.value >= {float(r['threshold'])}"
        )
        for r in rules
    )
    scores = " ".join(f"WHEN '{r['instrument']}' THEN '{r['score']}'" for r in rules)
    return (
        "WITH v AS (SELECT case_id, split_part(instrument, '@', 1) AS instrument, "
        "timepoint, administered_on AS day, scores FROM assessment_fact "
        f"WHERE administered_on <= '{QUERY_END}'), "
        "a AS (SELECT case_id, instrument, timepoint, day, "
        f"(scores ->> (CASE instrument {scores} END))::float AS value "
        f"FROM v WHERE instrument IN ({instruments})), "
        "base AS (SELECT DISTINCT ON (case_id, instrument) case_id, instrument, "
        "day, value FROM a WHERE timepoint = 'baseline' AND value IS NOT NULL "
        "ORDER BY case_id, instrument, day), "
        "latest AS (SELECT DISTINCT ON (case_id, instrument) case_id, instrument, "
        "day, value FROM a WHERE timepoint <> 'baseline' AND value IS NOT NULL "
        f"AND day >= '{QUERY_START}' ORDER BY case_id, instrument, day DESC), "
        f"cases AS (SELECT l.case_id, bool_or(CASE l.instrument {gains} END) AS up "
        "FROM latest l JOIN base b USING (case_id, instrument) "
        "WHERE b.day <= l.day GROUP BY l.case_id) "
        "SELECT count(*) FILTER (WHERE up), count(*) FROM cases"
    )


def indicator_sql(
    indicator: Indicator, by: Sequence[str], bands: AgeBands, cube: bool
) -> tuple[str, str]:
    """The SQL over the raw facts that answers what the indicator answers,
    and whether it gives a count or a (numerator, denominator) pair."""
    measure, filters = indicator.measure, dict(indicator.filters)
    months = (
        (QUERY_END.year - QUERY_START.year) * 12
        + QUERY_END.month
        - QUERY_START.month
        + 1
    )

    def only(allowed: set[str]) -> None:
        if not set(by) <= allowed:
            raise ValueError(f"{indicator.id}: no SQL for by={list(by)}")

    if measure in ("people", "services", "anonymous_people"):
        return services_sql(measure, by, filters, bands, cube), "count"
    if measure == "new_beneficiaries":
        only(set())
        where = ["b.position > 0", "NOT b.erased"]
        where.append(between("b.registration_date", QUERY_START, QUERY_END))
        return assemble(
            [], ["1 AS one"], "beneficiary_fact b", where, ["count(*)"], cube
        ), "count"
    if measure == "referrals":
        only({"kind", "area", "status"})
        return assemble(
            [f"r.{name}" for name in by],
            ["1 AS one"],
            "referral_fact r",
            [between("r.sent_on", QUERY_START, QUERY_END)],
            ["count(*)"],
            cube,
        ), "count"
    if measure == "improved_share":
        only(set())
        return improvement_sql(indicator.parameters["improvement"]), "ratio"
    if measure == "people_trained":
        only({"audience", "sex"})
        return assemble(
            [f"COALESCE(t.{name}, 'unknown')" for name in by],
            ["a.trainee_id AS k"],
            "attendance_fact a LEFT JOIN trainee_fact t ON t.trainee_id = a.trainee_id",
            ["a.present", between("a.held_on", QUERY_START, QUERY_END)],
            ["count(DISTINCT k)"],
            cube,
        ), "count"
    if measure == "people_certified":
        only({"course_level"})
        where = ["r.certified", between("r.decided_on", QUERY_START, QUERY_END)]
        for name, wanted in filters.items():
            where.append(f"r.{name} IN ({quoted(wanted)})")
        return assemble(
            [f"COALESCE(r.{name}, 'unknown')" for name in by],
            ["r.trainee_id AS k"],
            "result_fact r",
            where,
            ["count(DISTINCT k)"],
            cube,
        ), "count"
    practice = (
        "practice_session_fact p",
        [between("p.held_on", QUERY_START, QUERY_END)],
    )
    if measure == "practice_sessions":
        only(set())
        return assemble([], ["1 AS one"], *practice, ["count(*)"], cube), "count"
    if measure == "mean_fidelity":
        only(set())
        return assemble(
            [],
            ["p.adherence_score AS x"],
            *practice,
            ["COALESCE(sum(x), 0)", "count(x)"],
            cube,
        ), "ratio"
    held = between("held_on", QUERY_START, QUERY_END) + " AND purpose = 'supervision'"
    if measure == "supervision_hours":
        only(set())
        return (
            f"SELECT COALESCE(sum(duration_minutes), 0) / 60.0 "
            f"FROM supervision_fact WHERE {held}"
        ), "count"
    if measure == "supervision_hours_per_provider_month":
        only(set())
        return (
            "SELECT (SELECT COALESCE(sum(duration_minutes / 60.0 * "
            f"json_array_length(supervisee_ids)), 0) FROM supervision_fact "
            f"WHERE {held}), (SELECT count(DISTINCT x) * {months} "
            "FROM supervision_fact, json_array_elements_text(supervisee_ids) x "
            f"WHERE {held})"
        ), "ratio"
    if measure == "qualified_services_share":
        only(set())
        return qualified_sql(filters), "ratio"
    raise ValueError(f"{indicator.id}: no SQL for measure {measure!r}")


# --------------------------------------------------------------------------
# Exactness: the engine's cells, margins and total against SQL's


def engine_values(
    values: IndicatorValues, kind: str, cells_only: bool
) -> dict[Key, Values]:
    by = values.disaggregations
    found = [*values.cells] if cells_only and by else []
    if not found:
        found = [*values.cells, *values.margins, values.total]
    out: dict[Key, Values] = {}
    for cell in found:
        key = tuple(cell.dims[d] for d in by)
        if kind == "count":
            out[key] = (cell.value,)
        else:
            out[key] = (cell.numerator, cell.denominator)
    return out


def sql_values(rows: list[Any], dims: int) -> dict[Key, Values]:
    return {
        tuple(row[:dims]): tuple(None if v is None else float(v) for v in row[dims:])
        for row in rows
    }


def differences(engine: dict[Key, Values], sql: dict[Key, Values]) -> list[str]:
    found = []
    for key in sorted(set(engine) | set(sql)):
        a, b = engine.get(key), sql.get(key)
        same = (
            a is not None
            and b is not None
            and all(
                (x is None and y is None)
                or (
                    x is not None
                    and y is not None
                    and math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9)
                )
                for x, y in zip(a, b, strict=True)
            )
        )
        if not same:
            found.append(f"{key}: engine {a} sql {b}")
    return found


# --------------------------------------------------------------------------
# Timing


def stats(seconds: list[float]) -> dict[str, Any]:
    p50, p95 = percentile(seconds, 0.50), percentile(seconds, 0.95)
    return {
        "runs": len(seconds),
        "p50_ms": None if p50 is None else round(p50 * 1000, 1),
        "p95_ms": None if p95 is None else round(p95 * 1000, 1),
        "min_ms": round(min(seconds) * 1000, 1),
        "max_ms": round(max(seconds) * 1000, 1),
    }


Runs = tuple[list[float], list[float]]


async def repeat(action: Callable[[], Awaitable[Any]], runs: int, warmup: int) -> Runs:
    """Wall and CPU seconds of this process per run, after ``warmup`` runs.
    Others share the machine's 2 cores; CPU time is what the engine itself
    costs whatever they do (for SQL it is only the client's)."""
    for _ in range(warmup):
        await action()
    wall, cpu = [], []
    for _ in range(runs):
        started, used = time.perf_counter(), time.process_time()
        await action()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - used)
    return wall, cpu


def timed(runs: Runs) -> dict[str, Any]:
    cpu = percentile(runs[1], 0.50)
    return {
        **stats(runs[0]),
        "cpu_p50_ms": None if cpu is None else round(cpu * 1000, 1),
    }


def memory() -> dict[str, float]:
    """This process's VmRSS and VmHWM (peak) in MiB."""
    status = Path("/proc/self/status").read_text()
    out = {}
    for name in ("VmRSS", "VmHWM"):
        match = re.search(rf"^{name}:\s+(\d+) kB", status, re.MULTILINE)
        out[name] = round(int(match.group(1)) / 1024, 1) if match else 0.0
    return out


def profile_text(profile: cProfile.Profile, path: Path) -> list[dict[str, Any]]:
    """Write the profile (binary and top functions as text); return the
    top functions by own time."""
    profile.dump_stats(str(path.with_suffix(".prof")))
    text = io.StringIO()
    report = pstats.Stats(profile, stream=text)
    report.sort_stats("tottime").print_stats(30)
    report.sort_stats("cumulative").print_stats(40)
    path.with_suffix(".txt").write_text(text.getvalue())
    raw: Any = report.stats  # type: ignore[attr-defined]
    rows = sorted(raw.items(), key=lambda item: item[1][2], reverse=True)[:15]
    return [
        {
            "function": f"{Path(file).name}:{line}({name})",
            "calls": calls,
            "tottime_ms": round(tottime * 1000, 1),
            "cumtime_ms": round(cumtime * 1000, 1),
        }
        for (file, line, name), (_, calls, tottime, cumtime, _) in rows
    ]


# --------------------------------------------------------------------------
# Events for ingestion


@dataclass
class Person:
    beneficiary_id: uuid.UUID
    organisation_id: uuid.UUID
    site_id: uuid.UUID | None
    sex: str
    birth_year: int | None
    marital_status: str | None
    disability: str
    displacement_status: str | None
    registration_date: date
    registration_channel: str


def new_person(r: random.Random, w: World, earliest: date) -> Person:
    span = (DATA_END - earliest).days
    return Person(
        beneficiary_id=uuid.uuid4(),
        organisation_id=r.choices(w.organisations, ORGANISATION_SHARES)[0],
        site_id=r.choice(w.sites)[0],
        sex=r.choices(["female", "male", "other"], [56, 43.5, 0.5])[0],
        birth_year=r.randint(1940, 2020),
        marital_status=r.choice([m.value for m in MaritalStatus]),
        disability=r.choices(["yes", "no", "not_disclosed"], [12, 85, 3])[0],
        displacement_status=r.choice([d.value for d in DisplacementStatus]),
        registration_date=earliest + timedelta(days=r.randint(0, span)),
        registration_channel=r.choice([c.value for c in RegistrationChannel]),
    )


def envelope(
    position: int, kind: str, organisation: uuid.UUID, entity: uuid.UUID, facts: Any
) -> EventEnvelope:
    return EventEnvelope(
        id=uuid.uuid4(),
        position=position,
        type=kind,
        source="beneficiary",
        organisation_id=organisation,
        entity_id=entity,
        occurred_at=datetime.now(UTC),
        data=facts.model_dump(mode="json"),
    )


def person_event(position: int, p: Person, kind: str) -> EventEnvelope:
    facts = BeneficiaryFacts(
        beneficiary_id=p.beneficiary_id,
        organisation_id=p.organisation_id,
        site_id=p.site_id,
        sex=Sex(p.sex),
        birth_year=p.birth_year,
        marital_status=None
        if p.marital_status is None
        else MaritalStatus(p.marital_status),
        disability=DisabilityStatus(p.disability),
        displacement_status=(
            None
            if p.displacement_status is None
            else DisplacementStatus(p.displacement_status)
        ),
        nationality="IRQ",
        registration_date=p.registration_date,
        registration_channel=RegistrationChannel(p.registration_channel),
        version=1 if kind.endswith("registered") else 2,
    )
    return envelope(position, kind, p.organisation_id, p.beneficiary_id, facts)


def service_event(
    position: int, r: random.Random, w: World, p: Person
) -> EventEnvelope:
    code, layer, _ = r.choice(w.activities)
    partner = r.random() < 0.3
    organisation = (
        r.choice([o for o in w.organisations if o != p.organisation_id])
        if partner
        else p.organisation_id
    )
    served = p.registration_date + timedelta(
        days=r.randint(0, (DATA_END - p.registration_date).days)
    )
    index = w.organisations.index(organisation)
    facts = ServiceRecordFacts(
        service_record_id=uuid.uuid4(),
        beneficiary_id=p.beneficiary_id,
        organisation_id=organisation,
        lead_organisation_id=p.organisation_id,
        delivered_through=DeliveredThrough.partner
        if partner
        else DeliveredThrough.direct,
        activity_code=code,
        iasc_layer=IascLayer(layer),
        service_date=served,
        site_id=p.site_id,
        modality=Modality.in_person,
        staff_id=f"STF-{index + 5 * r.randrange(STAFF // 5):04d}",
        duration_minutes=r.choice([30, 45, 60, 90]),
        group_activity_id=None,
        age_at_service=None if p.birth_year is None else served.year - p.birth_year,
        voided=False,
        version=1,
    )
    return envelope(
        position,
        "service_record.recorded",
        organisation,
        facts.service_record_id,
        facts,
    )


def event_batches(
    r: random.Random,
    w: World,
    count: int,
    batch: int,
    first_position: int,
    existing: list[Person],
    updates_per_batch: int,
) -> list[list[EventEnvelope]]:
    """Batches of ``batch`` events at consecutive positions, as a feed page
    or a publish job carries them: a fifth registrations (some of them updates
    of ``existing`` people), the rest services of people registered so far
    (half of them existing people's, when there are any)."""
    batches: list[list[EventEnvelope]] = []
    position = first_position
    fresh: list[Person] = []
    earliest = DATA_START if not existing else date(2021, 6, 1)
    for low in range(0, count, batch):
        size = min(batch, count - low)
        events: list[EventEnvelope] = []
        people = max(1, size // 5)
        for i in range(people):
            if existing and i < updates_per_batch:
                p = r.choice(existing)
                p.displacement_status = r.choice([d.value for d in DisplacementStatus])
                events.append(person_event(position, p, "beneficiary.updated"))
            else:
                p = new_person(r, w, earliest)
                fresh.append(p)
                events.append(person_event(position, p, "beneficiary.registered"))
            position += 1
        for _ in range(size - people):
            pool = existing if existing and r.random() < 0.5 else fresh
            events.append(service_event(position, r, w, r.choice(pool)))
            position += 1
        batches.append(events)
    return batches


async def existing_people(conn: Any, n: int) -> list[Person]:
    rows = await conn.fetch(
        "SELECT beneficiary_id, organisation_id, site_id, sex, birth_year, "
        "marital_status, disability, displacement_status, registration_date, "
        "registration_channel FROM beneficiary_fact ORDER BY random() LIMIT $1",
        n,
    )
    return [Person(**dict(row)) for row in rows]


class StatementTimes:
    """Time spent in each kind of SQL statement (verb, table and the first
    column it filters on), summed over an ingestion: where a batch waits on
    PostgreSQL. The rest of a batch's time is Python (validation, folding,
    SQL compilation)."""

    LABEL = re.compile(
        r"^\s*(?:WITH\s.*?\)\s*)?(INSERT INTO|UPDATE|DELETE FROM|SELECT(?: DISTINCT)?)"
        r"\s(?:.*?\sFROM\s)?\s*(\w+)(?:.*?\sWHERE\s+\(?([\w.]+))?",
        re.S,
    )

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine.sync_engine
        self.seconds: dict[str, float] = {}
        self.started: list[float] = []

    def label(self, statement: str) -> str:
        found = self.LABEL.match(statement)
        if found is None:
            return statement.split(None, 1)[0]
        verb, table, column = found.groups()
        if verb == "INSERT INTO":
            conflict = "DO UPDATE" in statement, "DO NOTHING" in statement
            return f"{verb} {table}" + {(True, False): " (upsert)"}.get(
                conflict, " (ignore)" if conflict[1] else ""
            )
        return f"{verb} {table}" + (f" WHERE {column}" if column else "")

    def before(self, *_: Any) -> None:
        self.started.append(time.perf_counter())

    def after(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        took = time.perf_counter() - self.started.pop()
        name = self.label(statement)
        self.seconds[name] = self.seconds.get(name, 0.0) + took

    def __enter__(self) -> StatementTimes:
        event.listen(self.engine, "before_cursor_execute", self.before)
        event.listen(self.engine, "after_cursor_execute", self.after)
        return self

    def __exit__(self, *_: Any) -> None:
        event.remove(self.engine, "before_cursor_execute", self.before)
        event.remove(self.engine, "after_cursor_execute", self.after)

    def per_batch_ms(self, batches: int) -> dict[str, float]:
        ordered = sorted(self.seconds.items(), key=lambda item: -item[1])
        return {name: round(s * 1000 / batches, 1) for name, s in ordered}


async def backend_cpu(database: str) -> dict[int, float]:
    """CPU seconds used so far by each PostgreSQL backend connected to the
    database, from /proc (the server runs on this machine): with the
    process's own CPU time, the work a batch costs whatever else runs."""
    conn = await connect(database)
    try:
        pids = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 "
            "AND pid <> pg_backend_pid()",
            database,
        )
    finally:
        await conn.close()
    return cpu_seconds([pid for (pid,) in pids])


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    used = {}
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # utime, stime: 14th, 15th
        used[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return used


async def ingest_batches(
    runtime: Runtime, batches: list[list[EventEnvelope]]
) -> dict[str, Any]:
    seconds = []
    folded = 0
    database = str(runtime.engine.url.database)
    server_before = await backend_cpu(database)
    client_before = time.process_time()
    with StatementTimes(runtime.engine) as statements:
        for events in batches:
            started = time.perf_counter()
            folded += await ingest(runtime, "beneficiary", events)
            seconds.append(time.perf_counter() - started)
    client_cpu = time.process_time() - client_before
    server_cpu = sum(
        used - server_before.get(pid, 0.0)
        for pid, used in (await backend_cpu(database)).items()
    )
    total = sum(len(b) for b in batches)
    if folded != total:
        raise SystemExit(f"ingest folded {folded} of {total} events (rejected?)")
    sql_ms = statements.per_batch_ms(len(batches))
    return {
        "events": total,
        "batch_size": len(batches[0]),
        "seconds": round(sum(seconds), 2),
        "events_per_s": round(total / sum(seconds), 1),
        "batch": stats(seconds),
        "cpu_ms_per_batch": {
            "python": round(client_cpu * 1000 / len(batches), 1),
            "postgresql": round(server_cpu * 1000 / len(batches), 1),
        },
        "statements_ms_per_batch": sql_ms,
        "outside_sql_ms_per_batch": round(
            sum(seconds) * 1000 / len(batches) - sum(sql_ms.values()), 1
        ),
    }


# --------------------------------------------------------------------------
# Run


@dataclass
class Bench:
    """What the query measurements share: one store, two callers, and a
    plain asyncpg connection for the SQL side."""

    store: FactStore
    settings: ReportingSettings
    bands: AgeBands
    conn: Any
    full: Caller
    suppressed: Caller

    async def indicator(self, indicator_id: str, by: Sequence[str]) -> IndicatorValues:
        return await answer(
            self.store,
            self.settings,
            self.full,
            indicators()[indicator_id],
            start=QUERY_START,
            end=QUERY_END,
            by=by,
            bands=self.bands,
        )

    async def overview(self, caller: Caller) -> Overview:
        return await overview(
            self.store,
            self.settings,
            caller,
            QUERY_START,
            QUERY_END,
            self.bands,
            IN_ENGLISH,
        )

    async def sql(self, statements: Sequence[str]) -> None:
        for statement in statements:
            await self.conn.fetch(statement)

    def indicator_sql(self, indicator_id: str, by: Sequence[str], cube: bool) -> str:
        return indicator_sql(indicators()[indicator_id], by, self.bands, cube)[0]


async def check_indicators(bench: Bench) -> dict[str, int]:
    """The two indicators against SQL, cells (plain GROUP BY) and cells with
    margins and total (CUBE); exits on any difference. Returns how many
    values were compared for each."""
    compared = {}
    for indicator_id, by in INDICATOR_QUERIES:
        values = await bench.indicator(indicator_id, by)
        for cube in (False, True):
            sql = bench.indicator_sql(indicator_id, by, cube)
            found = differences(
                engine_values(values, "count", cells_only=not cube),
                sql_values(await bench.conn.fetch(sql), len(by)),
            )
            if found:
                raise SystemExit(
                    f"NOT EXACT: {indicator_id} by {by} (cube={cube}) differs from "
                    f"SQL in {len(found)} values:\n  " + "\n  ".join(found[:20])
                )
        compared[f"{indicator_id} by {','.join(by)}"] = len(
            engine_values(values, "count", cells_only=False)
        )
    return compared


def with_sql(bench: Bench) -> list[tuple[str, Sequence[str]]]:
    """The overview's tables the bench has SQL for (those added since the
    group sessions have none yet)."""
    found: list[tuple[str, Sequence[str]]] = []
    for _, indicator_id, by in SECTIONS:
        try:
            bench.indicator_sql(indicator_id, by, False)
        except ValueError:
            continue
        found.append((indicator_id, by))
    return found


async def check_overview(bench: Bench) -> dict[str, list[str]]:
    """Every overview table against its SQL (cells, margins, total); the
    titles of those that differ, with the first differences."""
    found = {}
    published = await bench.overview(bench.full)
    for table, (_, indicator_id, by) in zip(published.tables, SECTIONS, strict=True):
        if (indicator_id, by) not in with_sql(bench):
            continue
        title = table.title
        sql, kind = indicator_sql(indicators()[indicator_id], by, bench.bands, True)
        different = differences(
            engine_values(table.values, kind, cells_only=False),
            sql_values(await bench.conn.fetch(sql), len(by)),
        )
        if different:
            found[title] = different[:10]
    return found


async def time_queries(bench: Bench, args: argparse.Namespace) -> dict[str, Any]:
    """(a) and (b) the overview per caller, (c) and (d) single indicators
    and their SQL, (e) the overview's SQL, all on the same data. The SQL with
    margins (CUBE) is an extra, run ``--section-runs`` times: an overview of
    it takes seconds."""
    runs, warmup = args.runs, args.warmup
    plain = [bench.indicator_sql(i, by, False) for i, by in with_sql(bench)]
    cube = [bench.indicator_sql(i, by, True) for i, by in with_sql(bench)]
    timings: dict[str, Any] = {
        "overview_record_level": timed(
            await repeat(partial(bench.overview, bench.full), runs, warmup)
        ),
        "overview_suppressed": timed(
            await repeat(partial(bench.overview, bench.suppressed), runs, warmup)
        ),
        "overview_sql_plain": timed(
            await repeat(partial(bench.sql, plain), runs, warmup)
        ),
        "overview_sql_cube": timed(
            await repeat(partial(bench.sql, cube), args.section_runs, 1)
        ),
    }
    for indicator_id, by in INDICATOR_QUERIES:
        sql = bench.indicator_sql(indicator_id, by, False)
        sql_cube = bench.indicator_sql(indicator_id, by, True)
        timings[f"{indicator_id} by {','.join(by)}"] = {
            "engine": timed(
                await repeat(partial(bench.indicator, indicator_id, by), runs, warmup)
            ),
            "sql_plain": timed(await repeat(partial(bench.sql, [sql]), runs, warmup)),
            "sql_cube": timed(
                await repeat(partial(bench.sql, [sql_cube]), args.section_runs, 1)
            ),
            "sql_plain_text": sql,
        }
    return timings


async def time_sections(bench: Bench, runs: int) -> list[dict[str, Any]]:
    """Each overview table alone, engine and SQL, to see where time goes."""
    out = []
    for (_, indicator_id, by), plain, cube in zip(
        [(None, i, by) for i, by in with_sql(bench)],
        [bench.indicator_sql(i, by, False) for i, by in with_sql(bench)],
        [bench.indicator_sql(i, by, True) for i, by in with_sql(bench)],
        strict=True,
    ):
        engine = await repeat(partial(bench.indicator, indicator_id, by), runs, 1)
        out.append(
            {
                "title": IN_ENGLISH.text(".".join(["table", indicator_id, *by])),
                "indicator": indicator_id,
                "by": by,
                "engine_p50_ms": timed(engine)["p50_ms"],
                "engine_cpu_p50_ms": timed(engine)["cpu_p50_ms"],
                "sql_plain_p50_ms": timed(
                    await repeat(partial(bench.sql, [plain]), runs, 1)
                )["p50_ms"],
                "sql_cube_p50_ms": timed(
                    await repeat(partial(bench.sql, [cube]), runs, 1)
                )["p50_ms"],
            }
        )
    return out


async def profile_engine(bench: Bench, run_dir: Path) -> dict[str, Any]:
    """cProfile of one overview per caller and of a second cold refresh."""
    profiles = {}
    for name, caller in (
        ("overview", bench.full),
        ("overview_suppressed", bench.suppressed),
    ):
        profile = cProfile.Profile()
        profile.enable()
        await bench.overview(caller)
        profile.disable()
        profiles[name] = profile_text(profile, run_dir / f"profile-{name}")
    cold = FactStore(bench.store.engine)
    profile = cProfile.Profile()
    profile.enable()
    await cold.refresh()
    profile.disable()
    del cold
    gc.collect()
    profiles["cold_refresh"] = profile_text(profile, run_dir / "profile-cold_refresh")
    return profiles


async def ingest_loaded(
    settings: ReportingSettings, conn: Any, args: argparse.Namespace, w: World
) -> dict[str, Any]:
    """Ingest more events into the big database: new people, updates of
    existing people, services of both."""
    runtime = await start_runtime(settings)
    try:
        cursor = await conn.fetchval(
            "SELECT position FROM feed_cursor WHERE source = 'beneficiary'"
        )
        batches = event_batches(
            random.Random(args.seed + 2),
            w,
            args.incremental_events,
            args.ingest_batch,
            int(cursor) + 1,
            await existing_people(conn, 2000),
            updates_per_batch=args.ingest_batch // 20,
        )
        result = await ingest_batches(runtime, batches)
    finally:
        await runtime.close()
    result["rows_changed"] = {
        table: int(await conn.fetchval(f"SELECT count(*) FROM {table} WHERE seq > 1"))
        for table in ("beneficiary_fact", "service_fact")
    }
    return result


async def measure_incremental(
    bench: Bench, args: argparse.Namespace, w: World
) -> dict[str, Any]:
    """Ingestion into the big database, then the store's refresh that picks
    up only the changed rows; the engine must still equal SQL after it."""
    result = await ingest_loaded(bench.settings, bench.conn, args, w)
    started = time.perf_counter()
    await bench.store.refresh()
    result["refresh_s"] = round(time.perf_counter() - started, 3)
    started = time.perf_counter()
    await bench.overview(bench.full)
    result["next_overview_ms"] = round((time.perf_counter() - started) * 1000, 1)
    result["exact_after"] = await check_indicators(bench)
    result["rss_after_mib"] = memory()["VmRSS"]
    return result


async def measure_ingest(
    args: argparse.Namespace, settings: ReportingSettings, w: World
) -> dict[str, Any]:
    """``ingest()`` into a fresh database, batch after batch, as the queue
    job and the feed pull call it."""
    database = f"{args.database}_ingest"
    await recreate_database(database)
    runtime = await start_runtime(
        settings.model_copy(update={"database_url": database_url(database)})
    )
    try:
        await MIGRATIONS.upgrade(runtime.engine)
        batches = event_batches(
            random.Random(args.seed + 3),
            w,
            args.ingest_events,
            args.ingest_batch,
            1,
            [],
            updates_per_batch=0,
        )
        result = await ingest_batches(runtime, batches)
    finally:
        await runtime.close()
    conn = await connect(database)
    try:
        result["rows"] = {
            table: int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
            for table in ("beneficiary_fact", "service_fact")
        }
    finally:
        await conn.close()
    return result


class Phases:
    """Says what the run is doing and keeps how long each phase took."""

    def __init__(self) -> None:
        self.marks: list[tuple[str, float]] = []

    def start(self, name: str, detail: str = "") -> None:
        self.marks.append((name, time.perf_counter()))
        sys.stderr.write(f"{datetime.now(UTC):%H:%M:%S} {name} {detail}\n")

    def seconds(self) -> dict[str, float]:
        ends = [at for _, at in self.marks[1:]] + [time.perf_counter()]
        return {
            name: round(end - at, 1)
            for (name, at), end in zip(self.marks, ends, strict=True)
        }


async def run(args: argparse.Namespace, run_dir: Path) -> dict[str, Any]:
    code_before, load_before = code_state(), load_average()
    phases = Phases()
    phases.start("load", f"{args.services:,} service lines, {args.people:,} people")
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        loaded = pool.submit(
            load_in_child,
            args.database,
            args.people,
            args.services,
            args.anonymous_share,
            args.seed,
        ).result()
    settings = ReportingSettings(
        database_url=database_url(args.database),
        redis_url=None,
        data_dir=run_dir / "data",
        auto_migrate=False,
        beneficiary_url=None,
        training_url=None,
    )
    w = world()
    report: dict[str, Any] = {"data": loaded}
    if args.only == "ingestion":
        phases.start("incremental", f"{args.incremental_events:,} events")
        conn = await connect(args.database)
        try:
            report["incremental"] = await ingest_loaded(settings, conn, args, w)
        finally:
            await conn.close()
    else:
        report.update(await measure_queries(args, run_dir, settings, w, phases))
    phases.start("ingest", f"{args.ingest_events:,} events, fresh database")
    report["ingest"] = await measure_ingest(args, settings, w)
    report["phase_seconds"] = phases.seconds()
    return {
        "benchmark": "reporting",
        "started_at": args.started_at,
        "command": " ".join([".venv/bin/python -m bench.run_reporting", *sys.argv[1:]]),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "postgresql": loaded["postgresql"],
            "kernel": platform.release(),
        },
        "config": {k: v for k, v in vars(args).items() if k != "started_at"},
        "period": [QUERY_START.isoformat(), QUERY_END.isoformat()],
        "code": code_before,
        "code_changed_during_run": code_state() != code_before,
        "load_average_before": load_before,
        "load_average_after": load_average(),
        **report,
    }


async def measure_queries(
    args: argparse.Namespace,
    run_dir: Path,
    settings: ReportingSettings,
    w: World,
    phases: Phases,
) -> dict[str, Any]:
    """Everything on the loaded database but the fresh one's ingestion: cold
    refresh, exactness, timings, profiles, then ingestion and refresh."""
    callers = [
        Caller(
            organisation_id=w.organisations[0],
            scope=Scope(),
            record_level=record_level,
            indicators=None,
            subject="bench",
        )
        for record_level in (True, False)
    ]
    engine = make_engine(settings.resolved_database_url)
    bench = Bench(
        FactStore(engine),
        settings,
        AgeBands.parse(settings.age_bands),
        await connect(args.database),
        *callers,
    )
    report: dict[str, Any] = {}
    try:
        report["postgresql_settings"] = {
            name: await bench.conn.fetchval(f"SHOW {name}")
            for name in ("shared_buffers", "work_mem")
            + ("max_parallel_workers_per_gather", "jit")
        }
        gc.collect()
        before = memory()
        phases.start("cold_refresh")
        started = time.perf_counter()
        await bench.store.refresh()
        cold = time.perf_counter() - started
        after = memory()
        report["cold_refresh"] = {
            "seconds": round(cold, 2),
            "rss_before_mib": before["VmRSS"],
            "rss_after_mib": after["VmRSS"],
            "peak_rss_mib": after["VmHWM"],
        }
        phases.start("check", f"(cold refresh {cold:.1f} s, RSS {after['VmRSS']} MiB)")
        report["exact"] = await check_indicators(bench)
        report["overview_differences"] = await check_overview(bench)
        phases.start(
            "timing",
            f"(tables differing from SQL: {list(report['overview_differences'])})",
        )
        report["timings"] = await time_queries(bench, args)
        phases.start("timing_tables")
        report["sections"] = await time_sections(bench, args.section_runs)
        phases.start("profiling")
        report["profiles"] = await profile_engine(bench, run_dir)
        phases.start("incremental", f"{args.incremental_events:,} events")
        report["incremental"] = await measure_incremental(bench, args, w)
    finally:
        await bench.conn.close()
        await engine.dispose()
    return report


def verdict(value: float | None, target: float, below: bool = True) -> str:
    if value is None:
        return "?"
    return "yes" if (value < target if below else value >= target) else "**no**"


def table(report: dict[str, Any]) -> str:
    """The results as Markdown (also pasted into RESULTS.md)."""
    t = report["timings"]
    lines = [
        "| measurement | p50 ms | p95 ms | CPU p50 ms | SQL p50 ms, plain "
        "(with margins) | SQL p50 ÷ engine p50 | target | met |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def query(
        name: str, e: dict[str, Any], p: dict[str, Any], c: dict[str, Any]
    ) -> None:
        target = TARGET_OVERVIEW_MS if "overview" in name else TARGET_INDICATOR_MS
        lines.append(
            f"| {name} | {e['p50_ms']} | {e['p95_ms']} | {e['cpu_p50_ms']} | "
            f"{p['p50_ms']} ({c['p50_ms']}) | {p['p50_ms'] / e['p50_ms']:.1f} "
            f"({c['p50_ms'] / e['p50_ms']:.1f}) | < {target:g} | "
            f"{verdict(e['p50_ms'], target)} |"
        )

    sql = t["overview_sql_plain"], t["overview_sql_cube"]
    query("overview, record-level caller", t["overview_record_level"], *sql)
    query("overview, suppressed caller", t["overview_suppressed"], *sql)
    for indicator_id, by in INDICATOR_QUERIES:
        found = t[f"{indicator_id} by {','.join(by)}"]
        query(
            f"`{indicator_id}` by {', '.join(by)}",
            found["engine"],
            found["sql_plain"],
            found["sql_cube"],
        )
    cold, inc = report["cold_refresh"], report["incremental"]
    lines.append(f"| cold `refresh()` | {cold['seconds'] * 1000:.0f} | | | | | | |")
    lines.append(
        f"| `refresh()` after {inc['events']:,} more events "
        f"| {inc['refresh_s'] * 1000:.0f} | | | | | | |"
    )
    lines.extend(ingest_lines(report))
    lines.append("")
    lines.append(
        f"RSS after the cold refresh: {cold['rss_after_mib']} MiB "
        f"(before: {cold['rss_before_mib']} MiB, peak {cold['peak_rss_mib']} MiB)."
    )
    return "\n".join(lines) + "\n"


def ingest_lines(report: dict[str, Any]) -> list[str]:
    lines = []
    for name, key in (("fresh database", "ingest"), ("loaded database", "incremental")):
        ing = report[key]
        lines.append(
            f"| ingest, {name}: **{ing['events_per_s']:,.0f} events/s** (batch of "
            f"{ing['batch_size']:,}) | {ing['batch']['p50_ms']} | "
            f"{ing['batch']['p95_ms']} | | | | ≥ {TARGET_EVENTS_PER_S:,.0f}/s | "
            f"{verdict(ing['events_per_s'], TARGET_EVENTS_PER_S, below=False)} |"
        )
    return lines


def ingest_table(report: dict[str, Any]) -> str:
    """Ingestion alone (``--only ingestion``), and where each batch waits."""
    lines = [
        "| measurement | p50 ms | p95 ms | | | | target | met |",
        "|---|---|---|---|---|---|---|---|",
        *ingest_lines(report),
        "",
        "| statement | fresh, ms per batch | loaded, ms per batch |",
        "|---|---|---|",
    ]
    fresh, loaded = report["ingest"], report["incremental"]
    names = list(loaded["statements_ms_per_batch"])
    names += [n for n in fresh["statements_ms_per_batch"] if n not in names]
    for name in names:
        lines.append(
            f"| `{name}` | {fresh['statements_ms_per_batch'].get(name, '')} | "
            f"{loaded['statements_ms_per_batch'].get(name, '')} |"
        )
    lines.append(
        f"| outside SQL (validation, folding, compiling) | "
        f"{fresh['outside_sql_ms_per_batch']} | {loaded['outside_sql_ms_per_batch']} |"
    )
    for side in ("python", "postgresql"):
        lines.append(
            f"| CPU ms per batch, {side} | {fresh['cpu_ms_per_batch'][side]} | "
            f"{loaded['cpu_ms_per_batch'][side]} |"
        )
    return "\n".join(lines) + "\n"


def section_table(report: dict[str, Any]) -> str:
    lines = [
        "| overview table | engine p50 ms | engine CPU p50 ms | SQL p50 ms, plain "
        "(with margins) |",
        "|---|---|---|---|",
    ]
    for s in sorted(report["sections"], key=lambda s: -s["engine_p50_ms"]):
        lines.append(
            f"| {s['title']} | {s['engine_p50_ms']} | {s['engine_cpu_p50_ms']} | "
            f"{s['sql_plain_p50_ms']} ({s['sql_cube_p50_ms']}) |"
        )
    return "\n".join(lines) + "\n"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run_reporting", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--services", type=int, default=1_000_000, help="lines")
    parser.add_argument("--people", type=int, default=150_000)
    parser.add_argument(
        "--anonymous-share", type=float, default=0.05, help="of service lines"
    )
    parser.add_argument("--runs", type=int, default=30, help="timed runs each")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs first")
    parser.add_argument(
        "--section-runs", type=int, default=5, help="runs per overview table"
    )
    parser.add_argument("--ingest-events", type=int, default=100_000)
    parser.add_argument("--incremental-events", type=int, default=10_000)
    parser.add_argument("--ingest-batch", type=int, default=1000)
    parser.add_argument("--database", default="mhpss_bench_reporting")
    parser.add_argument("--seed", type=int, default=20201001)
    parser.add_argument(
        "--only",
        choices=["ingestion"],
        help="load, then measure ingestion only (no refresh, checks or queries)",
    )
    args = parser.parse_args()
    args.started_at = datetime.now(UTC).isoformat(timespec="seconds")
    return args


def main() -> None:
    args = parse_args()
    configure_logging("WARNING")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run_dir = OUT_DIR / f"reporting-{stamp}"
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    report = asyncio.run(run(args, run_dir))
    report["wall_s"] = round(time.perf_counter() - started, 1)
    (run_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    if args.only == "ingestion":
        sys.stdout.write(ingest_table(report))
    else:
        sys.stdout.write(table(report))
        sys.stdout.write("\n" + section_table(report))
    if report.get("overview_differences"):
        sys.stdout.write(
            "\nOverview tables that differ from SQL: "
            + ", ".join(report["overview_differences"])
            + "\n"
        )
    phases = ", ".join(f"{k} {v} s" for k, v in report["phase_seconds"].items())
    sys.stdout.write(
        f"\nJSON: {(run_dir / 'report.json').relative_to(REPO)} "
        f"(wall {report['wall_s']} s: {phases})\n"
    )


if __name__ == "__main__":
    main()
