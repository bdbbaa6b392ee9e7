"""The embedded default as a newcomer runs it: one process, SQLite files,
in-process jobs, demo data, and the API answering under one base URL."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from starlette.routing import Mount

from services import demo
from services.stack import create_stack, stack_url
from shared.auth import LocalSigningKey, Role
from shared.db import utcnow
from shared.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
CONFIGURATION = (
    "_URL",
    "_TOKEN",
    "DATA_DIR",
    "PRODUCTION",
    "PII_KEYS",
    "PII_ACTIVE_KEY",
    "BLIND_INDEX_KEY",
    "BLIND_INDEX_KEYS",
    "BLIND_INDEX_ACTIVE",
)
"""Variables of the test's own environment the stack must not see."""
START_TIMEOUT = 300.0
"""Seconds until the stack answers /healthz: its first start loads the demo
programme through the API (a minute on an idle laptop)."""
INGEST_TIMEOUT = 120.0


@dataclass
class Stack:
    base: str
    data_dir: Path
    demo: dict[str, dict[str, str]]
    waited: list[tuple[int, bool]]
    """Each /healthz answer before the first 200: its status and whether
    the demo tokens were written already."""

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.demo['tokens'][role]}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stack_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(CONFIGURATION)}
    return {**env, "DATA_DIR": str(data_dir), **extra}


@contextlib.contextmanager
def running_stack(data_dir: Path, log_path: Path) -> Iterator[Stack]:
    """The stack as ``make run`` starts it, on a port other than 8000."""
    port = free_port()
    log = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "services.stack", "--port", str(port)],
        cwd=ROOT,
        env=stack_env(data_dir),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        waited: list[tuple[int, bool]] = []
        while time.monotonic() < deadline:
            try:
                status = httpx.get(f"{base}/healthz", timeout=1).status_code
                if status == 200:
                    break
                waited.append((status, (data_dir / "demo-tokens.json").exists()))
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        else:
            raise AssertionError(log_path.read_text()[-3000:])
        demo = json.loads((data_dir / "demo-tokens.json").read_text())
        yield Stack(base, data_dir, demo, waited)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One stack for the module."""
    tmp_path = tmp_path_factory.mktemp("stack")
    with running_stack(tmp_path / "data", tmp_path / "stack.log") as running:
        yield running


def test_healthz_answers_once_the_demo_is_loaded(stack: Stack) -> None:
    """The README waits for /healthz: on a first start it answers 503 while
    the demo loads (the stack serves: its services call each other), and 200
    only once the tokens the README reads next are written."""
    assert stack.waited, "a first start is seen loading"
    assert set(stack.waited) == {(503, False)}


def test_stack_starts_with_demo_data_on_sqlite(stack: Stack) -> None:
    base = stack.base
    for service in ("beneficiary", "training", "reporting"):
        ready = httpx.get(f"{base}/{service}/readyz", timeout=5)
        assert ready.status_code == 200, ready.text
        assert httpx.get(f"{base}/{service}/docs", timeout=5).status_code == 200
    assert (stack.data_dir / "beneficiary.db").exists()
    worker = stack.headers("case_worker")
    listed = httpx.get(f"{base}/beneficiary/v1/beneficiaries", headers=worker)
    assert listed.status_code == 200
    people = listed.json()["items"]
    assert len(people) == 50, "a first page of the demo's people"
    assert listed.json()["next_cursor"]
    names = [
        httpx.get(
            f"{base}/beneficiary/v1/beneficiaries/{p['id']}", headers=worker
        ).json()["full_name"]
        for p in people[:5]
    ]
    governorates = httpx.get(
        f"{base}/beneficiary/v1/locations",
        params={"level": "governorate"},
        headers=worker,
    ).json()["items"]
    assert {g["pcode"] for g in governorates} >= {"IQG08", "IQG09", "IQG15"}
    settings = ServiceSettings(data_dir=stack.data_dir)
    machine = LocalSigningKey.load_or_create(stack.data_dir).issue(
        subject="reporting-service",
        organisation_id=stack.demo["organisations"]["lead"],  # type: ignore[arg-type]
        roles=[Role.service],
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
    )
    reader = {"Authorization": f"Bearer {machine}"}
    feed = httpx.get(f"{base}/beneficiary/v1/events", headers=reader).json()
    assert feed["items"], "the demo writes reach the change feed"
    assert not [n for n in names if n in json.dumps(feed)], "no names in the feed"
    unauthenticated = httpx.get(f"{base}/beneficiary/v1/beneficiaries")
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["content-type"] == "application/problem+json"


def test_embedded_files_are_for_their_owner_only(stack: Stack) -> None:
    """Data folder 0700 and every file in it 0600: SQLite databases with their
    -wal and -shm files, keys, demo tokens and exports."""
    me = stack.headers("me_officer")
    asked = httpx.post(
        f"{stack.base}/reporting/v1/exports",
        json={
            "indicator": "people_reached",
            "start": "2020-01-01",
            "end": "2030-12-31",
        },
        headers=me,
    )
    assert asked.status_code in (201, 202), asked.text
    export = f"{stack.base}/reporting/v1/exports/{asked.json()['id']}"
    deadline = time.monotonic() + 30
    while httpx.get(export, headers=me).json()["status"] != "ready":
        assert time.monotonic() < deadline, httpx.get(export, headers=me).text
        time.sleep(0.3)
    names = {
        p.relative_to(stack.data_dir).as_posix() for p in stack.data_dir.rglob("*")
    }
    assert {"beneficiary.db-wal", "beneficiary.db-shm", "exports"} <= names
    assert stat.S_IMODE(stack.data_dir.stat().st_mode) == 0o700
    for path in stack.data_dir.rglob("*"):
        wanted = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == wanted, path


def test_demo_tokens_are_short_lived_and_of_one_organisation(stack: Stack) -> None:
    """No token in the file outlives half a day or reads more than its own
    organisation (the stack's machine tokens stay in memory)."""
    organisations = set(stack.demo["organisations"].values())
    assert stack.demo["tokens"], "the file has demo tokens"
    for role, token in stack.demo["tokens"].items():
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["exp"] - claims["iat"] <= timedelta(hours=12).total_seconds()
        assert Role.service not in claims["roles"], role
        assert claims["org"] in organisations, role


def copy_data(source: Path, target: Path) -> None:
    """A running stack's data folder, as a start after it would find it:
    each SQLite database through SQLite's online backup (consistent while
    the stack writes), the other files copied with their modes."""
    databases = ("*.db", "*.db-wal", "*.db-shm")
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(*databases))
    for database in source.glob("*.db"):
        copy = target / database.name
        with (
            contextlib.closing(sqlite3.connect(database)) as read,
            contextlib.closing(sqlite3.connect(copy)) as write,
        ):
            read.backup(write)
        copy.chmod(0o600)


def test_demo_tokens_are_new_at_each_start(stack: Stack, tmp_path: Path) -> None:
    """A start on the data of an earlier start (the module's stack, whose
    folder is copied rather than made by a start of this test's own: a first
    start loads the whole demo) signs new tokens for the same organisations."""
    data_dir = tmp_path / "data"
    copy_data(stack.data_dir, data_dir)
    first = stack
    with running_stack(data_dir, tmp_path / "second.log") as second:
        assert second.demo["organisations"] == first.demo["organisations"]
        for role, token in second.demo["tokens"].items():
            assert token != first.demo["tokens"][role], role
        worker = second.headers("case_worker")
        listed = httpx.get(
            f"{second.base}/beneficiary/v1/beneficiaries", headers=worker
        )
        assert listed.status_code == 200


def test_subject_access_reaches_training_on_the_stacks_own_port(stack: Stack) -> None:
    """On a port other than 8000, the beneficiary service still asks this
    stack's training service (not whatever listens on 8000)."""
    supervisor = stack.headers("supervisor")
    people = httpx.get(
        f"{stack.base}/beneficiary/v1/beneficiaries", headers=supervisor
    ).json()["items"]
    response = httpx.get(
        f"{stack.base}/beneficiary/v1/beneficiaries/{people[0]['id']}/subject-access",
        headers={**supervisor, "X-Access-Reason": "the person asked for a copy"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["training"]["included"] is True


def test_every_internal_url_follows_the_stack_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every setting naming another service points at the stack's own base
    URL, so nothing (a signed token with a person's id included) goes to
    another process on the default port."""
    for name in list(os.environ):
        if name.endswith(CONFIGURATION):
            monkeypatch.delenv(name)
    base = "http://127.0.0.1:8317"
    app = create_stack(base_url=base, load_demo=False)
    checked = 0
    for route in app.routes:
        if not isinstance(route, Mount):
            continue
        assert isinstance(route.app, FastAPI)
        for name, value in route.app.state.settings:
            if isinstance(value, str) and value.startswith(("http://", "https://")):
                assert value.startswith(f"{base}/"), (route.path, name, value)
                checked += 1
    assert checked == 4  # training at beneficiary, the others' two ways


def test_a_wildcard_host_is_reached_at_loopback() -> None:
    assert stack_url("0.0.0.0", 8300) == "http://127.0.0.1:8300"
    assert stack_url("::", 8300) == "http://[::1]:8300"
    assert stack_url("10.0.0.5", 8300) == "http://10.0.0.5:8300"


def run_stack(
    data_dir: Path, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.stack", *args],
        cwd=ROOT,
        env=stack_env(data_dir, **env),
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_a_taken_port_stops_the_stack_before_anything_is_written(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = run_stack(data_dir, "--port", port)
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert port in result.stderr
    assert not data_dir.exists()


@pytest.mark.parametrize(
    ("given", "refused"),
    [
        ({}, "AUTH_JWKS_URL"),
        ({"AUTH_JWKS_URL": "https://idp.example/jwks"}, "PII_KEYS"),
    ],
)
def test_production_refuses_generated_keys_before_anything_is_written(
    tmp_path: Path, given: dict[str, str], refused: str
) -> None:
    data_dir = tmp_path / "data"
    result = run_stack(data_dir, "--port", str(free_port()), PRODUCTION="true", **given)
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert refused in result.stderr
    assert not data_dir.exists()


def overview_of_the_year(stack: Stack) -> dict[str, Any]:
    """The me_officer's overview of the dashboard's default period (the last
    year) once reporting has folded the whole demo: it answers the same twice
    in a row with every figure there."""
    end = utcnow().date()
    start = end - timedelta(days=364)
    deadline = time.monotonic() + INGEST_TIMEOUT
    previous: dict[str, Any] | None = None
    while True:
        found: dict[str, Any] = httpx.get(
            f"{stack.base}/reporting/v1/overview",
            params={"start": str(start), "end": str(end)},
            headers=stack.headers("me_officer"),
            timeout=30,
        ).json()
        folded = all(
            overview_table(found, *table)["total"]["value"]
            for table in (("people_reached",), ("people_trained", "audience"))
        )
        if folded and found == previous:
            return found
        assert time.monotonic() < deadline, json.dumps(found)[:2000]
        previous = found
        time.sleep(2)


def overview_table(overview: dict[str, Any], indicator: str, *by: str) -> Any:
    return next(
        t["values"]
        for t in overview["tables"]
        if t["values"]["indicator"] == indicator
        and t["values"]["disaggregations"] == list(by)
    )


def test_the_demo_is_a_programme_every_section_shows(stack: Stack) -> None:
    """Issue 16: a few hundred people across several sites in two
    governorates and a partner, groups, cases, training with certification,
    so every table of the overview (each section of the dashboard) has a
    figure for the last year."""
    overview = overview_of_the_year(stack)
    empty = [
        (t["section"], t["values"]["indicator"], t["values"]["disaggregations"])
        for t in overview["tables"]
        if not t["values"]["total"]["value"] or t["values"]["total"]["suppressed"]
    ]
    assert empty == []
    sections = {t["section"] for t in overview["tables"]}
    assert sections >= {"totals", "iasc", "demographics", "delivery", "activities"}
    assert sections >= {"locations", "cases", "capacity", "quality"}
    assert sections >= {"materials", "feedback"}
    assert 300 <= overview_table(overview, "people_reached")["total"]["value"] <= 400
    assert overview["sites_active"] >= 5

    def keys(indicator: str, by: str) -> set[str]:
        cells = overview_table(overview, indicator, by)["cells"]
        return {c["dims"][by] for c in cells if c["value"]}

    places = overview_table(overview, "people_reached", "governorate")["labels"]
    named = {
        places["governorate"][key] for key in keys("people_reached", "governorate")
    }
    assert named == {"Duhok", "Ninewa"}
    assert keys("services_delivered", "delivered_through") == {"direct", "partner"}
    assert len(keys("people_reached", "displacement_status")) >= 4
    assert len(keys("services_delivered", "iasc_layer")) == 4
    assert keys("people_certified", "course_level") == {"foundational", "tot"}
    assert len(keys("referrals_made", "area")) >= 5
    handed = overview_table(overview, "materials_distributed", "item", "language")
    assert {c["dims"]["language"] for c in handed["cells"] if c["value"]} == {
        "ar",
        "ckb",
        "kmr",
        "unknown",  # school bags and kits
    }
    assert keys("feedback_responses", "form") == {
        "participant_satisfaction",
        "trainee_satisfaction",
    }


async def test_loading_the_demo_again_creates_nothing(stack: Stack) -> None:
    """Every demo write has a client id or a natural key: the whole load sent
    again to a stack that has it (as after an interrupted first start) answers
    with what is there and adds no person, service, group, case or trainee."""
    settings = ServiceSettings(data_dir=stack.data_dir)
    organisations = stack.demo["organisations"]
    tokens = demo.demo_tokens(settings, organisations)
    lists = {
        "/beneficiary/v1/beneficiaries": "supervisor",
        "/beneficiary/v1/service-records": "supervisor",
        "/beneficiary/v1/group-activities": "supervisor",
        "/beneficiary/v1/material-distributions": "supervisor",
        "/beneficiary/v1/referrals": "supervisor",
        "/beneficiary/v1/cases": "supervisor",
        "/training/v1/trainees": "trainer",
        "/training/v1/cohorts": "trainer",
        "/training/v1/supervision-sessions": "supervisor",
    }
    async with httpx.AsyncClient(base_url=stack.base, timeout=60) as client:

        async def counts() -> dict[str, int]:
            found = {}
            for path, role in lists.items():
                found[path], cursor = 0, None
                while True:
                    page = await client.get(
                        path,
                        params={"limit": 500, **({"cursor": cursor} if cursor else {})},
                        headers={"Authorization": f"Bearer {tokens[role]}"},
                    )
                    assert page.status_code == 200, page.text
                    found[path] += len(page.json()["items"])
                    cursor = page.json()["next_cursor"]
                    if not cursor:
                        break
            return found

        before = await counts()
        lead = await client.get(
            f"/beneficiary/v1/organisations/{organisations['lead']}",
            headers={"Authorization": f"Bearer {tokens['admin']}"},
        )
        first_day = date.fromisoformat(lead.json()["created_at"][:10])
        await demo.Loader(client, tokens, today=first_day).load()
        assert await counts() == before
    assert before["/beneficiary/v1/beneficiaries"] > 200
    assert before["/training/v1/cohorts"] == 2
