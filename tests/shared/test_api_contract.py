"""What client generators and web apps meet in every service, the same in
all three: people's operation ids, unique model names, security schemes on
every operation, files declared as files, docs that load with no internet,
CORS only for configured origins, unknown query parameters refused."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from services.beneficiary.settings import BeneficiarySettings
from services.openapi import APPS, SNAPSHOTS, document
from shared.app import CORS_REQUEST_HEADERS, DOCS_ASSET_FILES, DOCS_ASSETS

SERVICES = {
    "beneficiary": "/v1/beneficiaries",
    "training": "/v1/trainees",
    "reporting": "/v1/indicators",
}
"""Each service (its app in ``services.openapi.APPS``) and a list route."""
PUBLIC = {"/healthz", "/readyz"}


def build(service: str, data_dir: Path, **overrides: Any) -> FastAPI:
    """The app as deployed, not started: documents and the request guard
    need no database."""
    factory, settings_class = APPS[service]
    return factory(settings_class(data_dir=data_dir, **overrides))


@functools.cache
def _document(service: str) -> str:
    return document(service)


def spec_of(service: str) -> dict[str, Any]:
    """The service's OpenAPI document as committed (``document``: the app as
    deployed, not started), a copy of its own for each test. Built once per
    service per run: the beneficiary document takes over a second of CPU,
    and eight tests read each."""
    spec: dict[str, Any] = json.loads(_document(service))
    return spec


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
    ]


@pytest.fixture
async def unstarted(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    app = build(request.param, tmp_path)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


@pytest.mark.parametrize("service", SERVICES)
def test_operation_ids_are_the_route_names_and_unique(service: str) -> None:
    spec = spec_of(service)
    ids = [op["operationId"] for _, _, op in operations(spec)]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", i) for i in ids), ids
    assert not [i for i in ids if re.search(r"_v1_|_(get|post|put|patch)$", i)]


@pytest.mark.parametrize("service", SERVICES)
def test_model_names_are_unique_without_module_paths(service: str) -> None:
    spec = spec_of(service)
    assert not [n for n in spec["components"]["schemas"] if "__" in n]


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_but_health_names_its_security(service: str) -> None:
    spec = spec_of(service)
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": schemes["bearer"]["description"],
    }
    for method, path, operation in operations(spec):
        if path in PUBLIC:
            assert "security" not in operation
            continue
        accepted = {name for entry in operation["security"] for name in entry}
        if service == "reporting" and not path.startswith("/v1/api-keys"):
            assert accepted == {"bearer", "api_key"}, (method, path)
        else:  # keys are managed by people, with a token
            assert accepted == {"bearer"}, (method, path)
    if service == "reporting":
        assert schemes["api_key"]["in"] == "header"
        assert schemes["api_key"]["name"] == "X-API-Key"


def test_downloads_are_declared_as_files() -> None:
    spec = spec_of("reporting")
    for path in ("/v1/exports/{export_id}/file", "/v1/feeds/{indicator_id}"):
        content = spec["paths"][path]["get"]["responses"]["200"]["content"]
        assert {"text/csv", "application/adx+xml"} <= content.keys()
        assert content["text/csv"]["schema"] == {"type": "string", "format": "binary"}


@pytest.mark.parametrize("unstarted", SERVICES, indirect=True)
async def test_the_docs_pages_load_their_assets_from_the_service(
    unstarted: httpx.AsyncClient,
) -> None:
    for page, assets in (
        ("/docs", ("swagger-ui-bundle.js", "swagger-ui.css")),
        ("/redoc", ("redoc.standalone.js",)),
    ):
        html = (await unstarted.get(page)).text
        assert "cdn." not in html
        assert "googleapis" not in html
        for asset in assets:
            assert f"{DOCS_ASSETS}/{asset}" in html
    for asset in DOCS_ASSET_FILES:
        served = await unstarted.get(f"{DOCS_ASSETS}/{asset}")
        assert served.status_code == 200
        assert len(served.content) > 100_000  # the real bundle, not a stub
        assert served.headers.get("cache-control") != "no-store"  # public code


@pytest.mark.parametrize("unstarted", SERVICES, indirect=True)
async def test_unknown_query_parameters_are_refused_by_name(
    unstarted: httpx.AsyncClient, request: pytest.FixtureRequest
) -> None:
    path = SERVICES[request.node.callspec.params["unstarted"]]
    r = await unstarted.get(path, params={"limt": "5", "sort": "name"})
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["type"].endswith("/unknown-query-parameters")
    assert [e["loc"] for e in problem["errors"]] == [
        ["query", "limt"],
        ["query", "sort"],
    ]
    assert "limt" in problem["detail"]


@pytest.mark.parametrize("unstarted", SERVICES, indirect=True)
async def test_no_cross_origin_call_by_default(unstarted: httpx.AsyncClient) -> None:
    r = await unstarted.options(
        "/healthz",
        headers={
            "Origin": "https://app.example.org",
            "Access-Control-Request-Method": "GET",
        },
    )
    assert "access-control-allow-origin" not in r.headers


@pytest.mark.parametrize("service", SERVICES)
async def test_configured_origins_may_call_with_the_api_headers(
    service: str, tmp_path: Path
) -> None:
    app = build(service, tmp_path, cors_origins="https://app.example.org")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        allowed = await c.options(
            SERVICES[service],
            headers={
                "Origin": "https://app.example.org",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, if-match, "
                "idempotency-key, x-access-reason",
            },
        )
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == (
            "https://app.example.org"
        )
        sent = allowed.headers["access-control-allow-headers"].lower()
        for header in CORS_REQUEST_HEADERS:
            assert header.lower() in sent
        other = await c.options(
            SERVICES[service],
            headers={
                "Origin": "https://evil.example.com",
                "Access-Control-Request-Method": "POST",
            },
        )
        assert "access-control-allow-origin" not in other.headers
        simple = await c.get("/healthz", headers={"Origin": "https://app.example.org"})
        assert "etag" in simple.headers["access-control-expose-headers"].lower()


@pytest.mark.parametrize("origins", ["*", "https://app.example.org/path", "app.org"])
def test_anything_but_an_origin_is_refused_at_start(origins: str) -> None:
    with pytest.raises(ValueError, match="CORS_ORIGINS"):
        BeneficiarySettings(cors_origins=origins)


@pytest.mark.parametrize("service", SERVICES)
def test_the_published_openapi_changes_only_on_purpose(service: str) -> None:
    committed = (SNAPSHOTS / f"{service}.json").read_text()
    assert _document(service) == committed, (
        f"the {service} API changed: if on purpose, run `make openapi` and "
        "commit docs/openapi/ (the diff is the change clients will see)"
    )


def _json_schema(operation: dict[str, Any]) -> dict[str, Any]:
    content = operation["responses"].get("200", {}).get("content", {})
    schema: dict[str, Any] = content.get("application/json", {}).get("schema", {})
    return schema


@pytest.mark.parametrize("service", SERVICES)
def test_every_list_is_a_page_with_a_cursor_and_a_limit(service: str) -> None:
    spec = spec_of(service)
    schemas = spec["components"]["schemas"]
    arrays, pages = set(), 0
    for method, path, operation in operations(spec):
        schema = _json_schema(operation)
        if method != "get":
            continue
        if schema.get("type") == "array":
            arrays.add(path)
        name = schema.get("$ref", "").rsplit("/", 1)[-1]
        if not name.startswith("Page_"):
            continue
        pages += 1
        page = schemas[name]
        assert set(page["properties"]) == {"items", "next_cursor", "has_more"}
        assert set(page["required"]) == {"items", "has_more"}
        params = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
        assert {"cursor", "limit"} <= params, path
    assert not arrays, f"lists answered as bare arrays: {sorted(arrays)}"
    assert pages >= 2


def _models_with_examples(package: str) -> list[type[BaseModel]]:
    """Every model of a service's modules that shows examples."""
    found, stack = [], list(BaseModel.__subclasses__())
    while stack:
        model = stack.pop()
        stack.extend(model.__subclasses__())
        extra = model.model_config.get("json_schema_extra")
        inherited = any(
            getattr(base, "model_config", {}).get("json_schema_extra") is extra
            for base in model.__mro__[1:]
        )
        mine = model.__module__.startswith(package) and not inherited
        if mine and isinstance(extra, dict):
            found.append(model)
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_request_examples_are_valid_bodies(service: str) -> None:
    """An example a client copies from the docs is accepted as it stands, and
    the docs publish it as written (less its nulls, which FastAPI leaves out
    of every document)."""
    spec = spec_of(service)  # the app imports every module
    schemas = spec["components"]["schemas"]
    models = _models_with_examples(f"services.{service}.")
    for model in models:
        extra = model.model_config.get("json_schema_extra")
        assert isinstance(extra, dict)
        examples = extra["examples"]
        assert isinstance(examples, list)
        for example in examples:
            model.model_validate(example)  # raises, naming the model, if stale
        if model.__name__ in schemas:  # not a model used only inside the code
            published = schemas[model.__name__]["examples"]
            assert published == [_without_nulls(e) for e in examples], model
    assert len(models) >= 2


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


MAIN_RESPONSES = {
    "beneficiary": {
        "BeneficiaryRead",
        "BeneficiarySummary",
        "ServiceRecordRead",
        "GroupActivityRead",
        "CaseRead",
        "AssessmentRead",
        "SyncResponse",
        "EnrolmentRead",
        "ReferralRead",
        "ImportRead",
        "ProjectRead",
    },
    "training": {"TraineeRead", "CourseRead", "CohortRead", "TraineeResult"},
    "reporting": {"IndicatorValues", "ExportStatus", "ProjectProgress"},
}
"""The answers a screen or an integrator starts from; each shows an example."""


def _schema_of(content: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = content.get("schema", {})
    ref = schema.get("$ref")
    found: dict[str, Any] = (
        spec["components"]["schemas"][ref.split("/")[-1]] if ref else schema
    )
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_and_model_says_what_it_is(service: str) -> None:
    """A generated client turns descriptions into its documentation; a
    method or a type without one leaves its user guessing."""
    spec = spec_of(service)
    silent = [
        op["operationId"] for _, _, op in operations(spec) if not op.get("description")
    ]
    assert not silent, f"operations without a description: {silent}"
    undescribed = [
        name
        for name, schema in spec["components"]["schemas"].items()
        if not schema.get("description")
    ]
    assert not undescribed, f"models without a description: {undescribed}"


@pytest.mark.parametrize("service", SERVICES)
def test_every_request_body_and_main_answer_shows_an_example(service: str) -> None:
    """Swagger UI's "Try it out" and a client's docs start from the example;
    without one they show a schema's noise. The examples are checked as valid
    bodies by ``test_request_examples_are_valid_bodies``."""
    spec = spec_of(service)
    bare = [
        op["operationId"]
        for _, _, op in operations(spec)
        for media, content in op.get("requestBody", {}).get("content", {}).items()
        if media == "application/json"
        and not {"example", "examples"}
        & (content.keys() | _schema_of(content, spec).keys())
    ]
    assert not bare, f"request bodies without an example: {bare}"
    schemas = spec["components"]["schemas"]
    without = sorted(n for n in MAIN_RESPONSES[service] if "examples" not in schemas[n])
    assert not without, f"main answers without an example: {without}"


@pytest.mark.parametrize("unstarted", SERVICES, indirect=True)
async def test_every_answer_names_the_api_version(
    unstarted: httpx.AsyncClient,
) -> None:
    """A client logs which contract answered: success, problem and docs alike."""
    for path in ("/healthz", "/openapi.json", "/v1/no-such-route"):
        answer = await unstarted.get(path)
        assert answer.headers["api-version"] == "1", path
    spec = (await unstarted.get("/openapi.json")).json()
    assert spec["info"]["version"] == "1"
