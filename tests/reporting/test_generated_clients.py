"""The published contract generates clients that work: openapi-python-client
turns each docs/openapi/*.json into a package, every operation included; the
packages are imported and drive a realistic session against the running
apps, as a field app and an integrator would (issue 16).

The generator is a development tool (`openapi-python-client`, in the dev
extra and the lock); without it the test fails and says how to get it."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.openapi import APPS, SNAPSHOTS
from services.reporting.exports.jobs import run_export
from shared.auth import Role
from tests.beneficiary.api import beneficiary_body
from tests.callers import Caller
from tests.training.api import token, trainee


def _generator() -> str | None:
    beside_python = Path(sys.executable).parent / "openapi-python-client"
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("openapi-python-client")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One client package per service, ``<service>_client``, importable."""
    generator = _generator()
    if generator is None:
        pytest.fail("openapi-python-client is not installed: make install (dev extra)")
    out = tmp_path_factory.mktemp("clients")
    for service in APPS:
        done = subprocess.run(
            [
                generator,
                "generate",
                "--path",
                str(SNAPSHOTS / f"{service}.json"),
                "--meta",
                "none",
                "--output-path",
                str(out / f"{service}_client"),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Unable to parse" not in done.stdout, done.stdout
    sys.path.insert(0, str(out))
    yield out
    sys.path.remove(str(out))
    for name in [m for m in sys.modules if m.split(".")[0].endswith("_client")]:
        del sys.modules[name]


def operation(package: str, name: str) -> Any:
    """A generated operation module, ``<service>_client.api.<tag>.<name>``."""
    api = Path(importlib.import_module(f"{package}.api").__path__[0])
    [found] = api.glob(f"*/{name}.py")
    return importlib.import_module(f"{package}.api.{found.parent.name}.{name}")


def model(package: str, name: str) -> Any:
    return getattr(importlib.import_module(f"{package}.models"), name)


def client(package: str, app: FastAPI, bearer: str) -> Any:
    authenticated = importlib.import_module(f"{package}.client").AuthenticatedClient
    return authenticated(
        base_url="http://test",
        token=bearer,
        httpx_args={"transport": httpx.ASGITransport(app=app)},
    )


def test_every_operation_becomes_a_method(generated: Path) -> None:
    for service in APPS:
        spec = json.loads((SNAPSHOTS / f"{service}.json").read_text())
        ids = [
            op["operationId"]
            for methods in spec["paths"].values()
            for op in methods.values()
        ]
        made = {p.stem for p in (generated / f"{service}_client/api").glob("*/*.py")}
        assert set(ids) <= made, set(ids) - made


async def test_a_field_and_reporting_session_through_the_generated_clients(
    generated: Path,
    beneficiary_app: FastAPI,
    training_app: FastAPI,
    reporting_app: FastAPI,
    alice: Caller,
    issue: Any,
    catch_up: Callable[[], Awaitable[int]],
) -> None:
    beneficiary = client("beneficiary_client", beneficiary_app, alice.token)
    body = model("beneficiary_client", "BeneficiaryCreate")
    register = operation("beneficiary_client", "register_beneficiary")
    people = []
    for _ in range(3):
        r = await register.asyncio_detailed(
            client=beneficiary,
            body=body.from_dict(beneficiary_body()),
            idempotency_key=str(uuid.uuid4()),
        )
        assert r.status_code == 201, r.content
        people.append(r.parsed)
    assert people[0].version == 1

    service = model("beneficiary_client", "ServiceRecordCreate").from_dict(
        {
            "beneficiary_id": str(people[0].id),
            "activity_code": "individual_counselling",
            "service_date": "2026-02-01",
            "duration_minutes": 50,
        }
    )
    r = await operation("beneficiary_client", "record_service").asyncio_detailed(
        client=beneficiary, body=service
    )
    assert r.status_code == 201, r.content

    listing = operation("beneficiary_client", "list_beneficiaries")
    seen, cursor = [], None
    while True:
        kwargs: dict[str, Any] = {"cursor": cursor} if cursor else {}
        page = await listing.asyncio(client=beneficiary, limit=2, **kwargs)
        seen += [person.id for person in page.items]
        if not page.has_more:
            break
        cursor = page.next_cursor
    assert sorted(seen) == sorted(person.id for person in people)

    update = operation("beneficiary_client", "update_beneficiary")
    online = await update.asyncio_detailed(
        people[1].id,
        client=beneficiary,
        body=model("beneficiary_client", "BeneficiaryUpdate").from_dict(
            {"marital_status": "divorced"}
        ),
        if_match='"1"',
    )
    assert online.status_code == 200, online.content
    data = beneficiary_body(phone="0770 555 6666")
    del data["consents"]
    offline = {"id": str(people[1].id), "base_version": 1, "data": data}
    batch = model("beneficiary_client", "SyncBatch").from_dict(
        {"device_id": "tablet-1", "beneficiaries": [offline]}
    )
    r = await operation("beneficiary_client", "sync_batch").asyncio_detailed(
        client=beneficiary, body=batch
    )
    assert r.status_code == 200, r.content
    [result] = r.parsed.results
    assert result.status == "conflict"

    await catch_up()
    manager = issue(alice.org, Role.programme_manager)
    reporting = client("reporting_client", reporting_app, manager.token)
    values = await operation("reporting_client", "indicator_values").asyncio(
        "people_reached",
        client=reporting,
        start=date(2026, 1, 1),
        end=date(2026, 12, 31),
    )
    assert values.total.value == 1
    export = await operation("reporting_client", "request_export").asyncio(
        client=reporting,
        body=model("reporting_client", "ExportRequest").from_dict(
            {"indicator": "people_reached", "start": "2026-01-01", "end": "2026-12-31"}
        ),
    )
    await run_export({"runtime": reporting_app.state.runtime}, str(export.id))
    file = await operation("reporting_client", "download_export").asyncio(
        export.id, client=reporting
    )
    rows = file.payload.read().decode().splitlines()
    assert rows[1].startswith("people_reached,2026-01-01,2026-12-31,1,"), rows

    trainer = token(training_app.state.settings, uuid.UUID(alice.org.id), Role.trainer)
    bearer = trainer["Authorization"].removeprefix("Bearer ")
    training = client("training_client", training_app, bearer)
    created = await operation("training_client", "register_trainee").asyncio(
        client=training,
        body=model("training_client", "TraineeCreate").from_dict(trainee()),
    )
    trainees = await operation("training_client", "list_trainees").asyncio(
        client=training
    )
    assert [t.id for t in trainees.items] == [created.id]
