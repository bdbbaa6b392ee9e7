"""Keys rotate under traffic with no failed request and no lost value.

Two services on PostgreSQL (and the beneficiary service on SQLite) hold
records sealed with PII key k1 and indexed with blind-index key b1. While a
client keeps registering, editing, searching and de-duplicating people and
trainees, the apps are given the new keys the way a rolling restart would
(first k2/b2 in the ring, then active) and ``rotate-keys`` runs, in process
and as the command. Afterwards every record reads back, nothing is left
under k1, people are still found, and all of that holds with k1 and b1 gone.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

import services.beneficiary.app
import services.training.app
from services.beneficiary.db import metadata as beneficiary_metadata
from services.beneficiary.encrypted import ENCRYPTED as BENEFICIARY_ENCRYPTED
from services.beneficiary.settings import BeneficiarySettings
from services.training.db import metadata as training_metadata
from services.training.encrypted import ENCRYPTED as TRAINING_ENCRYPTED
from services.training.settings import TrainingSettings
from shared.auth import LocalSigningKey, Role
from shared.crypto import KeyRing, key_id, new_key, normalise_name, normalise_phone
from shared.http import make_client
from shared.rotation import BlindIndexColumn, EncryptedColumn, Registered, rotate_keys
from tests.beneficiary.api import CONSENTS, beneficiary_body, give_consent, intake, phq9
from tests.callers import Caller, Org
from tests.databases import REDIS_URL, recreate_database
from tests.lifespan import running
from tests.training.api import trainee

KEYS = {kid: new_key() for kid in ("k1", "k2", "b1", "b2")}
ROOT = Path(__file__).resolve().parents[2]
ARABIC_NAMES = ["أحمد علي", "فاطمة حسن", "مُحَمَّد كريم", "زينب عبد الله"]


def ring(pii: list[str], blind: list[str]) -> KeyRing:
    """Keys by id; the last of each list is active."""
    return KeyRing.from_settings(
        json.dumps({k: KEYS[k] for k in pii}),
        pii[-1],
        None,
        Path("unused"),
        blind_index_keys=json.dumps({k: KEYS[k] for k in blind}),
        blind_index_active=blind[-1],
    )


OLD = ring(["k1"], ["b1"])
EXPANDED = ring(["k2", "k1"], ["b2", "b1"])  # both keys, old ones active
NEW = ring(["k1", "k2"], ["b1", "b2"])  # both keys, new ones active
ONLY_NEW = ring(["k2"], ["b2"])


def key_settings(keys: KeyRing) -> dict[str, Any]:
    encoded = {k: KEYS[k] for k in keys.keys}
    blind = {k: KEYS[k] for k in keys.blind_index_keys}
    return {
        "pii_keys": json.dumps(encoded),
        "pii_active_key": keys.active,
        "blind_index_keys": json.dumps(blind),
        "blind_index_active": keys.blind_index_active,
    }


@dataclass
class Stack:
    beneficiary: FastAPI
    training: FastAPI
    alice: Caller
    supervisor: Caller
    trainer: Caller
    training_url: str
    data_dir: Path

    def use(self, keys: KeyRing) -> None:
        """What a rolling restart with new key settings achieves."""
        self.beneficiary.state.runtime.keyring = keys
        self.training.state.runtime.keyring = keys


def caller(
    client: httpx.AsyncClient, data_dir: Path, org: Org, role: Role, subject: str
) -> Caller:
    token = LocalSigningKey.load_or_create(data_dir).issue(
        subject=subject,
        organisation_id=uuid.UUID(org.id),
        roles=[role],
        issuer="mhpss-local",
        audience="mhpss",
    )
    return Caller(client, token, org, subject)


async def new_org(client: httpx.AsyncClient, data_dir: Path) -> Org:
    platform = Org(str(uuid.UUID(int=0)), "platform")
    admin = caller(client, data_dir, platform, Role.platform_admin, "platform-admin")
    r = await admin.post("/v1/organisations", {"name": "Org R", "type": "cso"})
    assert r.status_code == 201, r.text
    return Org(r.json()["id"], "Org R")


@pytest.fixture(scope="module")
async def stack(data_dir: Path, redis: Redis) -> AsyncIterator[Stack]:
    beneficiary_settings = BeneficiarySettings(
        database_url=await recreate_database("mhpss_test_rotation_beneficiary"),
        redis_url=REDIS_URL,
        data_dir=data_dir,
        **key_settings(OLD),
    )
    training_url = await recreate_database("mhpss_test_rotation_training")
    training_settings = TrainingSettings(
        database_url=training_url,
        redis_url=REDIS_URL,
        data_dir=data_dir,
        beneficiary_url="http://beneficiary",
        **key_settings(OLD),
    )
    beneficiary = services.beneficiary.app.create_app(beneficiary_settings)
    training = services.training.app.create_app(training_settings)
    async with running(beneficiary), running(training):
        runtime = training.state.runtime
        await runtime.http.aclose()
        runtime.http = make_client(
            mounts={"http://beneficiary": httpx.ASGITransport(app=beneficiary)}
        )
        transport = httpx.ASGITransport(app=beneficiary)
        training_transport = httpx.ASGITransport(app=training)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://b") as client,
            httpx.AsyncClient(
                transport=training_transport, base_url="http://t"
            ) as training_client,
        ):
            org = await new_org(client, data_dir)
            yield Stack(
                beneficiary,
                training,
                caller(client, data_dir, org, Role.case_worker, "alice"),
                caller(client, data_dir, org, Role.supervisor, "sam"),
                caller(training_client, data_dir, org, Role.trainer, "tariq"),
                training_url,
                data_dir,
            )


@dataclass
class World:
    """What the API should return, kept up to date as the test writes."""

    people: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)
    trainees: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    requests: int = 0

    def check(self, what: str, response: httpx.Response, status: int) -> Any:
        self.requests += 1
        if response.status_code != status:
            self.failures.append(
                f"{what}: {response.status_code} {response.text[:300]}"
            )
            return None
        return response.json()


async def register(stack: Stack, world: World, **overrides: Any) -> dict[str, Any]:
    body = beneficiary_body(**overrides)
    read = world.check(
        "register", await stack.alice.post("/v1/beneficiaries", body), 201
    )
    if read is not None:
        world.people[read["id"]] = {
            "full_name": body["full_name"],
            "phone": body["phone"],
            "address": body.get("address"),
        }
    return read or {}


async def seed(stack: Stack, world: World) -> None:
    """People, care notes, a sync conflict, trainees and training notes, all
    sealed with k1 and indexed with b1."""
    alice, sam, tariq = stack.alice, stack.supervisor, stack.trainer
    for i in range(24):
        name = ARABIC_NAMES[i] if i < len(ARABIC_NAMES) else f"Seeded Person {i}"
        await register(
            stack,
            world,
            full_name=name,
            phone=f"+964 750 {i:03d} 1{i:03d}",
            address=f"Camp {i}, block {i % 5}",
        )
    person = next(iter(world.people))
    r = await alice.post("/v1/cases", intake(person, intake_notes="Intake: grief."))
    case = world.check("open case", r, 201)
    path = f"/v1/cases/{case['id']}"
    world.notes["case"] = case["id"]
    goals = ["sleep through the night", "return to work"]
    r = await alice.client.put(
        f"{path}/plan", json={"goals": goals}, headers=alice.headers()
    )
    world.check("plan", r, 200)
    world.check(
        "safety plan",
        await alice.post(f"{path}/safety-plans", {"warning_signs": ["withdrawal"]}),
        201,
    )
    world.check(
        "follow-up",
        await alice.post(
            f"{path}/follow-ups", {"on": "2026-02-01", "notes": "Slept better."}
        ),
        201,
    )
    r = await alice.post(f"{path}/assessments", assessment())
    world.check("assessment", r, 201)
    alerts = world.check("alerts", await alice.get("/v1/risk-alerts"), 200)["items"]
    world.check(
        "acknowledge",
        await sam.post(
            f"/v1/risk-alerts/{alerts[0]['id']}/acknowledge",
            {"action_taken": "Called her within the hour."},
        ),
        200,
    )
    world.notes["alert"] = alerts[0]["id"]
    world.check(
        "referral consent",
        await give_consent(
            alice, person, {"purpose": "referral", "granted": True, "form_version": "1"}
        ),
        201,
    )
    referral = world.check(
        "referral",
        await alice.post(
            "/v1/referrals",
            {
                "beneficiary_id": person,
                "kind": "internal",
                "area": "livelihoods",
                "receiving_party": "Livelihoods unit",
                "sent_on": "2026-02-01",
            },
        ),
        201,
    )
    world.check(
        "referral feedback",
        await alice.post(
            f"/v1/referrals/{referral['id']}/status",
            {"status": "accepted", "on": "2026-02-03", "feedback": "Enrolled."},
            headers={"If-Match": '"1"'},
        ),
        200,
    )
    world.notes["conflict"] = await sync_conflict(stack, world)
    headers = tariq.headers()
    for i in range(8):
        body = trainee(
            full_name=f"Trainee {i}",
            phone=f"+964 751 000 {i:04d}",
            email=f"t{i}@example.org",
        )
        read = world.check(
            "trainee",
            await tariq.client.post("/v1/trainees", json=body, headers=headers),
            201,
        )
        world.trainees[read["id"]] = body
    supervisor_headers = caller(
        tariq.client, stack.data_dir, tariq.org, Role.supervisor, "sue"
    ).headers()
    world.check(
        "supervision",
        await tariq.client.post(
            "/v1/supervision-sessions",
            json={
                "kind": "group",
                "mode": "virtual",
                "held_on": "2026-04-02",
                "duration_minutes": 90,
                "supervisee_trainee_ids": list(world.trainees)[:3],
                "cases_discussed": 2,
                "notes": "Discussed grief work.",
            },
            headers=supervisor_headers,
        ),
        201,
    )
    world.notes["supervision_headers"] = supervisor_headers
    world.notes["fidelity"] = await fidelity_review(stack, world)


def assessment() -> dict[str, Any]:
    return {
        "instrument": "phq9",
        "timepoint": "baseline",
        "administered_on": "2026-01-15",
        "responses": phq9(1, 1, 0, 0, 0, 0, 0, 0, 1),
    }


async def sync_conflict(stack: Stack, world: World) -> dict[str, Any]:
    """An offline edit that lost to an online one, kept for a supervisor."""
    alice = stack.alice
    person_id = str(uuid.uuid4())
    data = beneficiary_body(full_name="Offline Person", phone="0770 555 0000")
    data.pop("consents")
    batch = {"id": person_id, "data": data, "consents": CONSENTS}
    world.check("sync", await alice.post("/v1/sync", {"beneficiaries": [batch]}), 200)
    world.people[person_id] = {
        "full_name": "Offline Person",
        "phone": "0770 555 0000",
        "address": None,
    }
    world.check(
        "online edit",
        await alice.patch(
            f"/v1/beneficiaries/{person_id}",
            {"marital_status": "divorced"},
            headers={"If-Match": '"1"'},
        ),
        200,
    )
    offline = {
        **batch,
        "base_version": 1,
        "data": {**data, "phone": "0770 555 6666"},
    }
    offline.pop("consents")
    result = world.check(
        "conflict",
        await alice.post("/v1/sync", {"device_id": "tab", "beneficiaries": [offline]}),
        200,
    )
    assert result["results"][0]["status"] == "conflict", result
    return {"id": result["results"][0]["conflict_id"], "change": offline}


async def fidelity_review(stack: Stack, world: World) -> str:
    tariq = stack.trainer
    headers = tariq.headers()
    group = world.check(
        "practice group",
        await tariq.client.post(
            "/v1/practice-groups",
            json={
                "name": "Rotation group",
                "facilitator_trainee_ids": list(world.trainees)[:2],
                "client_ids": list(world.people)[:3],
                "started_on": "2026-04-01",
            },
            headers=headers,
        ),
        201,
    )
    path = f"/v1/practice-groups/{group['id']}/sessions"
    world.check(
        "practice session",
        await tariq.client.post(
            path,
            json={
                "number": 1,
                "phase": "initial",
                "held_on": "2026-04-08",
                "attended_client_ids": list(world.people)[:3],
                "recording_ref": "s3://rec/1.mp3",
                "recording_sha256": "a" * 64,
            },
            headers=headers,
        ),
        201,
    )
    items = [
        "session_structure",
        "symptom_review",
        "problem_area_link",
        "group_participation",
        "empathy_between_members",
        "collaborative_problem_solving",
        "homework",
        "therapeutic_communication",
        "time_management",
        "risk_check",
    ]
    review = world.check(
        "fidelity review",
        await tariq.client.post(
            f"{path}/1/fidelity-reviews",
            json={
                "reviewed_on": "2026-04-10",
                "ratings": dict.fromkeys(items, 2),
                "feedback": "Warm and well paced.",
            },
            headers=headers,
        ),
        201,
    )
    return str(review["id"])


async def traffic(stack: Stack, world: World, stop: asyncio.Event) -> int:
    """A field team at work: register, edit, search, register a duplicate,
    read, enrol trainees. Returns how many rounds it made."""
    alice, tariq = stack.alice, stack.trainer
    seeded = list(world.people)
    edited, untouched = seeded[1::2], seeded[::2]  # an edit re-indexes its row
    for round_ in itertools.count(1):
        if stop.is_set():
            return round_ - 1
        try:
            new = await register(
                stack,
                world,
                full_name=f"Walk-in {round_} {uuid.uuid4().hex[:4]}",
                phone=f"0771 {round_:06d}",
                address=f"Tent {round_}",
            )
            target = edited[round_ % len(edited)]
            other = untouched[round_ % len(untouched)]
            current = await read_person(stack, world, target)
            await read_person(stack, world, other)
            if current is not None:
                edit = {"address": f"Moved in round {round_}"}
                version = current["version"]
                r = await alice.patch(
                    f"/v1/beneficiaries/{target}",
                    edit,
                    headers={"If-Match": f'"{version}"'},
                )
                if world.check("edit", r, 200) is not None:
                    world.people[target].update(edit)
            for person in (target, other, new.get("id")):
                if person is not None:
                    await find(stack, world, person, during=True)
            if round_ % 3 == 0:
                original = untouched[(round_ * 5) % len(untouched)]
                twin = await register(
                    stack,
                    world,
                    full_name=world.people[original]["full_name"],
                    phone=world.people[original]["phone"],
                )
                if original not in twin.get("possible_duplicates", [original]):
                    world.failures.append(f"duplicate of {original} not flagged")
            body = trainee(
                full_name=f"Walk-in trainee {round_}", email=f"w{round_}@example.org"
            )
            read = world.check(
                "trainee",
                await tariq.client.post(
                    "/v1/trainees", json=body, headers=tariq.headers()
                ),
                201,
            )
            if read is not None:
                world.trainees[read["id"]] = body
        except Exception as exc:  # an app error surfaces here through ASGI
            world.failures.append(f"round {round_}: {exc!r}")
        await asyncio.sleep(0.005)
    raise AssertionError("unreachable")


async def read_person(stack: Stack, world: World, person: str) -> Any:
    """One record through the API, compared with what was written."""
    current = world.check(
        "read", await stack.alice.get(f"/v1/beneficiaries/{person}"), 200
    )
    if current is not None:
        for key, value in world.people[person].items():
            if current[key] != value:
                world.failures.append(f"{person} reads back a wrong {key}")
    return current


async def find(stack: Stack, world: World, person: str, *, during: bool) -> None:
    """Search by exact name and by phone; the person must be among the hits."""
    expected = world.people[person]
    for param in ("name", "phone"):
        value = expected["full_name" if param == "name" else param]
        if value is None:
            continue
        page = world.check(
            f"search {param}",
            await stack.alice.get("/v1/beneficiaries", params={param: value}),
            200,
        )
        if page is not None and person not in [p["id"] for p in page["items"]]:
            world.failures.append(
                f"{person} not found by {param} ({'during' if during else 'after'})"
            )


async def read_everything(stack: Stack, world: World) -> None:
    """Every record through the API (fidelity feedback, which no route
    returns, from the database), compared with what was written."""
    alice, sam, tariq = stack.alice, stack.supervisor, stack.trainer
    for person in world.people:
        await read_person(stack, world, person)
        await find(stack, world, person, during=False)
    path = f"/v1/cases/{world.notes['case']}"
    case = world.check("case", await alice.get(path), 200)
    plan = world.check("plan", await alice.get(f"{path}/plan"), 200)
    safety = world.check("safety", await alice.get(f"{path}/safety-plans"), 200)[
        "items"
    ]
    follow_ups = world.check("follow-ups", await alice.get(f"{path}/follow-ups"), 200)[
        "items"
    ]
    acknowledged = world.check(
        "alerts",
        await alice.get("/v1/risk-alerts", params={"status": "acknowledged"}),
        200,
    )["items"]
    referrals = world.check("referrals", await alice.get("/v1/referrals"), 200)
    referrals = referrals["items"]
    conflicts = world.check("conflicts", await sam.get("/v1/sync/conflicts"), 200)
    conflicts = conflicts["items"]
    assert case["intake_notes"] == "Intake: grief."
    assert plan["goals"] == ["sleep through the night", "return to work"]
    assert safety[0]["warning_signs"] == ["withdrawal"]
    assert follow_ups[0]["notes"] == "Slept better."
    assert acknowledged[0]["action_taken"] == "Called her within the hour."
    assert referrals[0]["feedback"] == "Enrolled."
    assert [c["client_version"]["phone"] for c in conflicts] == ["0770 555 6666"]
    for trainee_id, body in world.trainees.items():
        read = world.check(
            "trainee",
            await tariq.client.get(
                f"/v1/trainees/{trainee_id}", headers=tariq.headers()
            ),
            200,
        )
        if read is not None and any(
            read[k] != body[k] for k in ("full_name", "phone", "email")
        ):
            world.failures.append(f"trainee {trainee_id} reads back wrong")
    sessions = world.check(
        "supervision",
        await tariq.client.get(
            "/v1/supervision-sessions", headers=world.notes["supervision_headers"]
        ),
        200,
    )["items"]
    assert [s["notes"] for s in sessions] == ["Discussed grief work."]
    runtime = stack.training.state.runtime
    async with runtime.engine.connect() as connection:
        sealed = await connection.scalar(
            text("SELECT feedback_enc FROM fidelity_review")
        )
    review = world.notes["fidelity"]
    context = f"fidelity:{review}:feedback"
    assert runtime.keyring.decrypt(sealed, context) == "Warm and well paced."


async def resubmit_conflict(stack: Stack, world: World) -> None:
    """The same losing offline edit again: the stored one is found by its
    keyed digest, whichever key made it."""
    conflict = world.notes["conflict"]
    r = await stack.alice.post(
        "/v1/sync", {"device_id": "tab", "beneficiaries": [conflict["change"]]}
    )
    result = world.check("conflict again", r, 200)
    assert result["results"][0]["conflict_id"] == conflict["id"]


async def key_ids(engine: AsyncEngine, registry: list[Registered]) -> set[str]:
    """Every key id found in the registered encrypted columns."""
    found: set[str] = set()
    async with engine.connect() as connection:
        for column in registry:
            if isinstance(column, EncryptedColumn):
                table = column.model.__tablename__
                rows = await connection.execute(
                    text(f"SELECT {column.column} FROM {table}")
                )
                found.update(key_id(v) or "?" for (v,) in rows if v is not None)
    return found


async def run_command(
    service: str, env: dict[str, str], *args: str
) -> tuple[int | None, Any, str]:
    """``python -m services.<service> rotate-keys``, without blocking the
    event loop (the apps keep serving meanwhile)."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BENEFICIARY_", "TRAINING_", "REPORTING_"))
        and k not in {"DATABASE_URL", "PII_KEYS", "PII_ACTIVE_KEY", "BLIND_INDEX_KEY"}
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        f"services.{service}",
        "rotate-keys",
        *args,
        cwd=ROOT,
        env={**clean, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    output = stdout.decode()
    return (
        process.returncode,
        json.loads(output.splitlines()[-1]),
        output + stderr.decode(),
    )


def command_env(
    service: str, url: str, keys: KeyRing, data_dir: Path
) -> dict[str, str]:
    prefix = service.upper()
    env = {f"{prefix}_DATABASE_URL": url, f"{prefix}_DATA_DIR": str(data_dir)}
    for name, value in key_settings(keys).items():
        env[f"{prefix}_{name.upper()}"] = value
    return env


@pytest.mark.processes
async def test_keys_rotate_under_traffic_without_loss_or_failure(
    stack: Stack, data_dir: Path
) -> None:
    world = World()
    await seed(stack, world)
    assert world.failures == []
    beneficiary_engine = stack.beneficiary.state.runtime.engine
    training_engine = stack.training.state.runtime.engine
    assert await key_ids(beneficiary_engine, BENEFICIARY_ENCRYPTED) == {"k1"}

    stop = asyncio.Event()
    worker = asyncio.create_task(traffic(stack, world, stop))

    async def rounds_pass(count: int) -> None:
        start = world.requests
        for _ in range(3000):  # up to 30 s
            if world.requests >= start + count * 8 or worker.done():
                return
            await asyncio.sleep(0.01)

    try:
        await rounds_pass(2)
        stack.use(EXPANDED)  # every instance can read k2 before anyone writes it
        await rounds_pass(2)
        stack.use(NEW)
        await rounds_pass(3)
        assert {"k1", "k2"} <= await key_ids(beneficiary_engine, BENEFICIARY_ENCRYPTED)
        before = world.requests
        in_process = rotate_keys(
            beneficiary_engine, NEW, BENEFICIARY_ENCRYPTED, batch_size=5
        )
        command = run_command(
            "training",
            command_env("training", stack.training_url, NEW, data_dir),
        )
        first, (code, training_summary, output) = await asyncio.gather(
            in_process, command
        )
        during = world.requests - before
        await rounds_pass(2)
    finally:
        stop.set()
        rounds = await worker
    assert world.failures == []
    assert during > 0, "no traffic overlapped the rotation"
    assert rounds >= 5
    assert code == 0, output
    assert training_summary["columns"]["trainee.full_name_enc"]["rewritten"] >= 8
    for plaintext in ("Trainee 0", "t0@example.org", "Discussed grief"):
        assert plaintext not in output
    assert first.columns["beneficiary.full_name_enc"].rewritten >= 24
    assert first.columns["beneficiary.name_index"].rewritten >= 24
    assert first.columns["sync_conflict.payload_digest"].rewritten == 1

    finish = await rotate_keys(beneficiary_engine, NEW, BENEFICIARY_ENCRYPTED)
    training_finish = await rotate_keys(training_engine, NEW, TRAINING_ENCRYPTED)
    for summary in (finish, training_finish):
        assert summary.exit_code == 0, summary.as_json()
        assert summary.as_json()["old_keys_removable"] is True
    assert await key_ids(beneficiary_engine, BENEFICIARY_ENCRYPTED) == {"k2"}
    assert await key_ids(training_engine, TRAINING_ENCRYPTED) == {"k2"}
    await assert_indexes_under(beneficiary_engine, world, ONLY_NEW)
    code, check, output = await run_command(
        "beneficiary",
        command_env(
            "beneficiary",
            str(beneficiary_engine.url.render_as_string(hide_password=False)),
            NEW,
            data_dir,
        ),
        "--check",
    )
    assert (code, check["remaining"], check["check_only"]) == (0, 0, True), output

    await read_everything(stack, world)
    await resubmit_conflict(stack, world)
    stack.use(ONLY_NEW)  # k1 and b1 removed
    await read_everything(stack, world)
    await resubmit_conflict(stack, world)
    twin = await register(
        stack, world, full_name=ARABIC_NAMES[0], phone="+964 750 000 1000"
    )
    assert next(iter(world.people)) in twin["possible_duplicates"]
    again = await rotate_keys(beneficiary_engine, ONLY_NEW, BENEFICIARY_ENCRYPTED)
    assert again.exit_code == 0
    assert all(c.rewritten == 0 for c in again.columns.values())
    assert world.failures == []


async def assert_indexes_under(
    engine: AsyncEngine, world: World, keys: KeyRing
) -> None:
    """Every stored blind index is the one the active key makes."""
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                text("SELECT id, name_index, phone_index FROM beneficiary")
            )
        ).all()
    for person_id, name_index, phone_index in rows:
        expected = world.people[str(person_id)]
        assert name_index == keys.blind_index(
            "name", normalise_name(expected["full_name"])
        )
        assert phone_index == keys.blind_index(
            "phone", normalise_phone(expected["phone"])
        )


class EditFirst:
    """An engine that lets a request commit an edit just before the rotation
    opens its first write connection (its second connection: the first read
    the rows), so the rotation writes a row that changed since it read it."""

    def __init__(self, engine: AsyncEngine, edit: Callable[[], Awaitable[None]]):
        self.engine = engine
        self.dialect = engine.dialect
        self.edit = edit
        self.connections = 0

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        self.connections += 1
        if self.connections == 2:
            await self.edit()
        async with self.engine.connect() as connection:
            yield connection


async def test_an_edit_racing_the_rotation_wins(stack: Stack) -> None:
    world = World()
    stack.use(OLD)
    person = (await register(stack, world, full_name="Huda", phone="0773 111 222"))[
        "id"
    ]
    stack.use(NEW)

    async def edit() -> None:
        r = await stack.alice.patch(
            f"/v1/beneficiaries/{person}",
            {"phone": "0773 999 888"},
            headers={"If-Match": '"1"'},
        )
        world.check("edit", r, 200)
        world.people[person]["phone"] = "0773 999 888"

    engine = EditFirst(stack.beneficiary.state.runtime.engine, edit)
    summary = await rotate_keys(cast(AsyncEngine, engine), NEW, BENEFICIARY_ENCRYPTED)
    assert summary.races_lost == 1
    assert (summary.exit_code, summary.remaining) == (0, 0)
    stack.use(ONLY_NEW)
    await read_person(stack, world, person)
    await find(stack, world, person, during=False)
    assert world.failures == []


@pytest.mark.processes
async def test_rotation_on_sqlite_reports_what_it_cannot_read(
    tmp_path: Path, data_dir: Path, redis: Redis
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'beneficiary.db'}"
    settings = BeneficiarySettings(
        database_url=url, redis_url=REDIS_URL, data_dir=data_dir, **key_settings(OLD)
    )
    app = services.beneficiary.app.create_app(settings)
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://s") as c:
            org = await new_org(c, data_dir)
            alice = caller(c, data_dir, org, Role.case_worker, "alice")
            stack = Stack(app, app, alice, alice, alice, "", data_dir)
            world = World()
            for i in range(6):
                await register(
                    stack, world, full_name=f"Lina {i}", phone=f"0772 000 00{i}"
                )
            ids = list(world.people)
            app.state.runtime.keyring = NEW
            await register(stack, world, full_name="Lina 9", phone="0772 000 009")
            stray = KeyRing.from_settings(
                json.dumps({"k9": new_key()}), None, new_key(), tmp_path
            )
            engine: AsyncEngine = app.state.runtime.engine
            async with engine.begin() as connection:
                await connection.execute(
                    text("UPDATE beneficiary SET address_enc = :v WHERE id = :id"),
                    {
                        "v": stray.encrypt(
                            "Secret St", f"beneficiary:{ids[0]}:address"
                        ),
                        "id": uuid.UUID(ids[0]).hex,
                    },
                )
            env = command_env("beneficiary", url, NEW, data_dir)
            code, summary, output = await run_command("beneficiary", env)
            assert code == 1, output
            assert summary["failed_rows"] == 1
            assert summary["columns"]["beneficiary.address_enc"]["failed"] == 1
            assert summary["columns"]["beneficiary.full_name_enc"]["rewritten"] == 5
            assert "Secret St" not in output
            assert "Lina" not in output
            assert ids[0] in output  # the row to look at is named
            async with engine.begin() as connection:
                await connection.execute(
                    text("UPDATE beneficiary SET address_enc = NULL WHERE id = :id"),
                    {"id": uuid.UUID(ids[0]).hex},
                )
            code, summary, output = await run_command("beneficiary", env)
            assert (code, summary["remaining"], summary["failed_rows"]) == (0, 0, 0)
            assert summary["columns"]["beneficiary.full_name_enc"]["rewritten"] == 1
            app.state.runtime.keyring = ONLY_NEW
            world.people[ids[0]]["address"] = None
            for person, expected in world.people.items():
                read = (await alice.get(f"/v1/beneficiaries/{person}")).json()
                assert {k: read[k] for k in expected} == expected
                await find(stack, world, person, during=False)
            assert world.failures == []


def test_every_encrypted_column_is_registered() -> None:
    for metadata, registry in (
        (beneficiary_metadata, BENEFICIARY_ENCRYPTED),
        (training_metadata, TRAINING_ENCRYPTED),
    ):
        registered = {
            (c.model.__tablename__, c.column)
            for c in registry
            if isinstance(c, EncryptedColumn | BlindIndexColumn)
        }
        sealed = {
            (table.name, column.name)
            for table in metadata.tables.values()
            for column in table.columns
            if column.name.endswith(("_enc", "_index", "_digest"))
        }
        assert sealed <= registered, (
            f"register {sealed - registered} in the service's encrypted.py, "
            "or rotate-keys leaves them under old keys"
        )
