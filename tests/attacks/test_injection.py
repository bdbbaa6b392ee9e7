"""Hostile strings in every string field and string query parameter of the
three services, found in their OpenAPI: SQL and template injection, HTML,
NUL, a lone surrogate, a right-to-left override, invalid UTF-8 and 100,000
characters. Every answer is a 2xx or a 4xx problem+json (never a 5xx, never
HTML or plain text); an accepted value reads back verbatim through the API,
and the database keeps all its tables and rows.

Bodies are built from each operation's schema plus real ids (``hints``); a
benign control value goes first, and the operations that must accept it are
listed, so a body that stops being valid fails the test rather than turning
every attack into a harmless 422.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from shared.auth import Role
from shared.errors import PROBLEM_MEDIA_TYPE
from tests.attacks.openapi_bodies import (
    ITEM,
    Operation,
    Path,
    build,
    operations,
    read_at,
    string_fields,
    with_value,
)
from tests.beneficiary.api import (
    beneficiary_body,
    intake,
    make_beneficiary,
    record_service,
)
from tests.callers import Caller, Org
from tests.training.api import trainee as trainee_body

RAW_UTF8 = "\ue000invalid-utf8\ue000"
"""Stands for the field's value; its bytes become b"\\xff\\xfe" on the wire."""
PAYLOADS = {
    "sql_or": "' OR '1'='1",
    "sql_drop": "'); DROP TABLE beneficiary;--",
    "html": "<script>alert(1)</script><img src=x onerror=alert(2)>",
    "template": "{{7*7}}",
    "jndi": "${jndi:ldap://x}",
    "nul": "a\x00b",
    "lone_surrogate": "a\ud800b",
    "rtl_override": "abc\u202egnp.exe",
    "huge": "x" * 100_000,
    "invalid_utf8": RAW_UTF8,
}
NEVER_STORED = {"nul", "lone_surrogate", "invalid_utf8", "huge"}
"""What no field may accept: the store cannot hold it, or it is too long."""
ROLES = (
    Role.admin,
    Role.platform_admin,
    Role.programme_manager,
    Role.me_officer,
    Role.supervisor,
    Role.case_worker,
    Role.trainer,
)
MUST_ACCEPT = {
    "beneficiary": {
        "POST /v1/organisations",
        "POST /v1/locations",
        "POST /v1/beneficiaries",
        "GET /v1/beneficiaries",
        "PATCH /v1/beneficiaries/{beneficiary_id}",
        "POST /v1/service-records",
        "POST /v1/cases",
        "POST /v1/cases/{case_id}/follow-ups",
        "POST /v1/cases/{case_id}/safety-plans",
        "GET /v1/audit",
    },
    "training": {
        "POST /v1/courses",
        "POST /v1/trainees",
        "POST /v1/cohorts",
        "POST /v1/practice-groups",
    },
    "reporting": {"POST /v1/api-keys", "POST /v1/exports"},
}


def encode(body: Any) -> bytes:
    raw = json.dumps(body, ensure_ascii=True).encode()
    return raw.replace(
        json.dumps(RAW_UTF8, ensure_ascii=True)[1:-1].encode(), b"\xff\xfe"
    )


def contains(document: Any, value: str) -> bool:
    if isinstance(document, str):
        return document == value
    if isinstance(document, dict):
        return any(contains(v, value) for v in document.values())
    if isinstance(document, list):
        return any(contains(v, value) for v in document)
    return False


def has_key(document: Any, key: str) -> bool:
    if isinstance(document, dict):
        return key in document or any(has_key(v, key) for v in document.values())
    if isinstance(document, list):
        return any(has_key(v, key) for v in document)
    return False


class Attack:
    """Sends one operation's requests and records what went wrong."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        spec: dict[str, Any],
        headers: dict[str, str],
        hints: dict[str, Any],
    ) -> None:
        self.http = http
        self.spec = spec
        self.headers = headers
        self.hints = hints
        self.failures: list[str] = []
        self.accepted: set[str] = set()
        self.refused: dict[str, str] = {}
        self.readable = {
            path for path, methods in spec["paths"].items() if "get" in methods
        }

    def url(self, operation: Operation) -> str:
        path = operation.path
        for name, value in self.hints.items():
            path = path.replace("{" + name + "}", str(value))
        return path.replace("{", "").replace("}", "")

    async def send(
        self, operation: Operation, body: Any, params: dict[str, Any]
    ) -> httpx.Response:
        content = None if body is None else encode(body)
        query = httpx.QueryParams(params)
        url = self.url(operation)
        headers = {**self.headers, "Content-Type": "application/json"}
        if operation.method == "PATCH":
            current = await self.http.get(url, headers=self.headers)
            headers["If-Match"] = current.headers.get("etag", "*")
        if RAW_UTF8 in str(params):
            url += "?" + str(query).replace(
                str(httpx.QueryParams({"x": RAW_UTF8}))[2:], "%FF%FE"
            )
            query = httpx.QueryParams()
        return await self.http.request(
            operation.method,
            url,
            content=content,
            params=query,
            headers=headers,
        )

    def judge(self, label: str, response: httpx.Response) -> bool:
        """True when the value was accepted; a failure is recorded if the
        answer is neither a 2xx nor a 4xx problem+json."""
        media = response.headers.get("content-type", "").split(";")[0]
        if response.status_code >= 500 or (
            response.status_code >= 400 and media != PROBLEM_MEDIA_TYPE
        ):
            self.failures.append(
                f"{label}: {response.status_code} {media} {response.text[:300]}"
            )
        return response.is_success

    async def reads_back(
        self, operation: Operation, response: httpx.Response, path: Path, value: str
    ) -> bool:
        """False when the API shows the field (its name is a key of the
        resource it answers with, or of its GET) but not with this value."""
        document = response.json() if response.content else None
        if contains(document, value):
            return True
        key = str(path[-2] if path[-1] == ITEM and len(path) > 1 else path[-1])
        shown = has_key(document, key)
        if isinstance(document, dict) and "id" in document:
            for template in self.readable:
                if template.rsplit("/", 1)[0] == operation.path.rstrip("/"):
                    url = self.url(Operation("GET", template, None, ()))
                    url = url.rsplit("/", 1)[0] + f"/{document['id']}"
                    again = await self.http.get(url, headers=self.headers)
                    if again.is_success and contains(again.json(), value):
                        return True
                    shown = shown or has_key(again.json(), key)
        return not shown

    async def run(self, operation: Operation) -> None:
        targets: list[tuple[str, Path]] = [("body", p) for p in self.fields(operation)]
        targets += [("query", (name,)) for name in operation.query]
        for where, path in targets:
            name = path[-2] if path[-1] == ITEM and len(path) > 1 else path[-1]
            control = self.hints.get(str(name), "Benign text")
            if isinstance(control, list) and control:
                control = control[0]
            if not isinstance(control, str):
                control = "Benign text"
            for name, value in {"control": control, **PAYLOADS}.items():
                if where == "query" and name == "lone_surrogate":
                    continue  # a URL cannot carry one: invalid_utf8 covers it
                if where == "query" and name == "huge":
                    value = value[:20_000]  # httpx refuses URLs over 64 kB
                body, params = self.request(operation, where, path, value)
                label = f"{operation.label} {where}{list(path)} {name}"
                response = await self.send(operation, body, params)
                if not self.judge(label, response):
                    if name == "control":
                        self.refused.setdefault(operation.label, response.text[:300])
                    continue
                if name == "control":
                    self.accepted.add(operation.label)
                elif name in NEVER_STORED and where == "body":
                    self.failures.append(f"{label}: accepted ({response.status_code})")
                elif where == "body" and not await self.reads_back(
                    operation, response, path, value
                ):
                    self.failures.append(f"{label}: accepted but not read back")

    def fields(self, operation: Operation) -> list[Path]:
        if operation.body is None:
            return []
        return string_fields(self.spec, operation.body)

    def request(
        self, operation: Operation, where: str, path: Path, value: str
    ) -> tuple[Any, dict[str, Any]]:
        body = None
        if operation.body is not None:
            seed = self.hints.get(operation.label)
            if isinstance(seed, list):  # one body per request (each is used up)
                seed = seed.pop(0) if len(seed) > 1 else seed[0]
            body = seed or build(self.spec, operation.body, "", self.hints)
            if where == "body":
                body = with_value(
                    self.spec, operation.body, body, path, value, self.hints
                )
                assert read_at(body, path) == value
        params = {
            name: self.hints[name]
            for name in self.required_query(operation)
            if name in self.hints
        }
        if where == "query":
            params[str(path[0])] = value
        return body, params

    def required_query(self, operation: Operation) -> list[str]:
        op = self.spec["paths"][operation.path][operation.method.lower()]
        return [
            p["name"]
            for p in op.get("parameters", [])
            if p["in"] == "query" and p.get("required")
        ]


async def table_counts(app: FastAPI) -> dict[str, int]:
    async with app.state.engine.connect() as connection:
        names = (
            await connection.execute(
                text(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = 'public'"
                )
            )
        ).scalars()
        return {
            name: int(
                (
                    await connection.execute(text(f'SELECT count(*) FROM "{name}"'))
                ).scalar_one()
            )
            for name in list(names)
        }


async def beneficiary_hints(caller: Caller) -> dict[str, Any]:
    person = await make_beneficiary(caller)
    service = await record_service(caller, person["id"])
    case = await caller.post("/v1/cases", intake(person["id"]))
    assert case.status_code == 201, case.text
    sites = await caller.get("/v1/locations", params={"level": "site"})
    people = [await make_beneficiary(caller) for _ in range(30)]
    return {
        "POST /v1/beneficiaries": beneficiary_body(),
        "POST /v1/cases": [intake(p["id"]) for p in people],
        "beneficiary_id": person["id"],
        "record_id": service["id"],
        "case_id": case.json()["id"],
        "site_id": sites.json()["items"][0]["id"],
        "record_type": "service_record",
        "activity_code": "individual_counselling",
        "instrument": "phq9",
        "responses": {str(i): 0 for i in range(1, 10)},
        "presenting_problems": ["low_mood"],
        "planned_activities": ["individual_counselling"],
        "intervention": "pm_plus",
        "flag": "suicide_risk",
        "phone": "+964 771 000 1111",
        "nationality": "IRQ",
        "pcode": "IQTEST1",
        "level": "governorate",
        "consents": beneficiary_body()["consents"],
        "granted": True,
        "form_version": "2024-1",
        "registration_date": "2026-01-10",
        "date_of_birth": "1990-04-01",
        "opened_on": "2026-01-15",
        "sent_on": "2026-02-01",
        "on": "2026-02-01",
        "start": "2026-01-01",
        "end": "2026-12-31",
        "minutes": 5,
        "type": "cso",
    }


async def training_hints(http: httpx.AsyncClient, caller: Caller) -> dict[str, Any]:
    headers = caller.headers()
    course = await http.post(
        "/v1/courses",
        json={
            "title": "Foundational IPT-G",
            "approach": "ipt_g",
            "level": "foundational",
            "planned_hours": 60,
        },
        headers=headers,
    )
    assert course.status_code == 201, course.text
    person = await http.post("/v1/trainees", json=trainee_body(), headers=headers)
    assert person.status_code == 201, person.text
    client = await make_beneficiary(caller)
    return {
        "course_id": course.json()["id"],
        "facilitator_trainee_ids": [person.json()["id"]],
        "trainee_id": person.json()["id"],
        "client_ids": [client["id"]],
        "email": "someone@example.org",
        "phone": "+964 771 000 1111",
        "approach": "ipt_g",
        "competency_tool": "helping_skills_core@1.0",
        "tool": "helping_skills_core@1.0",
        "checklist": "ipt_g_fidelity@1.0",
        "recording_sha256": "0" * 64,
        "number": 1,
    }


@pytest.mark.long
@pytest.mark.parametrize("service", ["beneficiary", "training", "reporting"])
async def test_hostile_strings_are_refused_or_kept_verbatim(
    service: str,
    beneficiary_app: FastAPI,
    linked_training: FastAPI,
    reporting_app: FastAPI,
    issue: Any,
    orgs: dict[str, Org],
) -> None:
    target = {
        "beneficiary": beneficiary_app,
        "training": linked_training,
        "reporting": reporting_app,
    }[service]
    caller = issue(orgs["a"], *ROLES)
    hints: dict[str, Any] = {}
    if service == "beneficiary":
        hints = await beneficiary_hints(caller)
    elif service == "training":
        transport = httpx.ASGITransport(app=linked_training)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as t:
            hints = await training_hints(t, caller)
    else:
        hints = {
            "indicator": "cases_opened",
            "indicator_id": "cases_opened",
            "start": "2026-01-01",
            "end": "2026-12-31",
            "key_id": uuid.uuid4(),
        }
    before = await table_counts(target)
    spec = target.openapi()
    transport = httpx.ASGITransport(app=target, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        attack = Attack(http, spec, {"Authorization": f"Bearer {caller.token}"}, hints)
        for operation in operations(spec):
            await attack.run(operation)
    after = await table_counts(target)
    assert after.keys() == before.keys()
    assert all(after[name] >= before[name] for name in before), (before, after)
    missing = MUST_ACCEPT[service] - attack.accepted
    assert not missing, "\n".join(f"{m}: {attack.refused.get(m)}" for m in missing)
    assert not attack.failures, "\n".join(attack.failures)


async def test_a_nul_in_the_access_reason_is_invalid_not_a_500(
    beneficiary_app: FastAPI, issue: Any, orgs: dict[str, Org]
) -> None:
    """The one free-text header, kept in the audit log."""
    caller = issue(orgs["a"], Role.case_worker)
    person = await make_beneficiary(caller)
    r = await caller.get(
        f"/v1/beneficiaries/{person['id']}", headers={"X-Access-Reason": "follow\x00up"}
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["type"] == "text_nul"
