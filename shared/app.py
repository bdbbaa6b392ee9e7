"""What every service app has: runtime (engine, keys, queue, HTTP client,
token verifier), problem+json errors, the request guard, the client address
from trusted proxies only, health and metrics."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

import httpx
import structlog
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.routing import Match, Route
from starlette.types import Scope
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from shared.auth import LocalSigningKey, TokenVerifier
from shared.crypto import KeyRing, keyring_from
from shared.db import CloseSession, autocommit, ensure_database, make_engine, ping
from shared.deprecation import API_VERSION, DEPRECATION_HEADERS, DeprecationHeaders
from shared.errors import (
    Unavailable,
    UnknownParameters,
    document_problems,
    install_problem_handlers,
)
from shared.files import private_dir
from shared.http import make_client
from shared.observability import Metrics, RequestGuard, app_path, configure_logging
from shared.ops_metrics import OperationsCollector, Probe
from shared.queue import ArqQueue, InlineQueue, Job, JobQueue
from shared.settings import ServiceSettings, comma_list
from shared.tracing import start_tracing_from_env, trace_engine

log = structlog.get_logger(__name__)

Migrator = Callable[[AsyncEngine], Awaitable[None]]
DOCS_ASSETS = "/docs-assets"
"""Swagger UI and ReDoc are served from here (fastapi-offline's copies), so
the docs pages work in a field office with no internet."""
CORS_REQUEST_HEADERS = [
    "Authorization",
    "Content-Type",
    "If-Match",
    "Idempotency-Key",
    "X-Access-Reason",
    "X-API-Key",
    "X-Request-ID",
]
CORS_RESPONSE_HEADERS = [
    "ETag",
    "Location",
    "Retry-After",
    "Idempotent-Replayed",
    "X-Feed-Cursor",
    "X-Request-ID",
    "API-Version",
    *DEPRECATION_HEADERS,
]
"""What a web app on an allowed origin may send and read (CORS_ORIGINS)."""
DOCS_ASSET_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js")


@dataclass
class Runtime:
    """Everything a request handler or a job needs, built once per process."""

    settings: ServiceSettings
    engine: AsyncEngine
    keyring: KeyRing
    http: httpx.AsyncClient
    queue: JobQueue
    verifier: TokenVerifier
    reads: AsyncEngine = field(init=False)
    """``engine`` for reads of one statement (``shared.db.autocommit``)."""

    def __post_init__(self) -> None:
        self.reads = autocommit(self.engine)

    async def close(self) -> None:
        await self.queue.close()
        await self.http.aclose()
        await self.engine.dispose()


async def start_runtime(
    settings: ServiceSettings,
    *,
    jobs: Sequence[Job] = (),
    migrate: Migrator | None = None,
    queue: JobQueue | None = None,
) -> Runtime:
    """Build the runtime; with no Redis configured, jobs run in-process."""
    private_dir(settings.data_dir)
    start_tracing_from_env()
    engine = make_engine(settings.resolved_database_url)
    trace_engine(engine, settings.service_name)
    if settings.auto_migrate:
        await ensure_database(engine.url)
        if migrate is not None:
            await migrate(engine)
    keyring = keyring_from(settings)
    http = make_client(service=settings.service_name)
    if settings.auth_jwks_url:
        verifier = TokenVerifier(
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
            jwks_url=settings.auth_jwks_url,
            http=http,
        )
    else:
        local = LocalSigningKey.load_or_create(settings.data_dir)
        verifier = TokenVerifier(
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
            static_key=local.private_key.public_key(),
        )
    ctx: dict[str, Any] = {}
    if queue is None:
        if settings.redis_url:
            queue = await ArqQueue.connect(settings.redis_url, settings.service_name)
        else:
            inline = InlineQueue(ctx, settings.service_name)
            inline.register([job.function for job in jobs])
            queue = inline
    runtime = Runtime(settings, engine, keyring, http, queue, verifier)
    ctx["runtime"] = runtime
    if isinstance(queue, InlineQueue):
        for job in jobs:
            if job.schedule is not None and job.schedule.inline:
                queue.run_periodically(job.function, job.schedule.period_seconds)
    freeze_startup_objects()
    return runtime


_frozen = False
YOUNG_COLLECTION_EVERY = 20_000
"""Allocations between two young collections (Python's default: 700). A
bulk write's rows live until the batch is written, so each collection walked
them again for nothing: an import of 10,000 rows spent 0.81 s of 6.4 s of CPU
in collections, 0.33 s of 5.9 s with this (bench/RESULTS.md, 2026-12-05)."""


def freeze_startup_objects() -> None:
    """Once per process, after the first start: collect, then move every
    object alive (modules, models, schemas, several hundred thousand) out of
    the collector's reach. A full collection otherwise walks them all: with a
    sync batch's rows alive it took 0.23 s of every 0.54 s of CPU over five
    500-record batches (bench/RESULTS.md, 2026-12-05). Young objects are
    then collected less often (``YOUNG_COLLECTION_EVERY``)."""
    global _frozen
    if _frozen:
        return
    _frozen = True
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, *gc.get_threshold()[1:])


class Health(BaseModel):
    """Whether the service and what it depends on answer."""

    status: str
    checks: dict[str, str] = {}


def health_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", response_model=Health)
    async def healthz() -> Health:
        """Liveness: the process answers."""
        return Health(status="ok")

    @router.get("/readyz", response_model=Health)
    async def readyz(request: Request) -> Health:
        """Readiness: the database (and Redis, if used) answer."""
        runtime: Runtime = request.app.state.runtime
        checks: dict[str, str] = {}
        try:
            await ping(runtime.engine)
            checks["database"] = "ok"
        except Exception as exc:
            log.warning("readiness_database_failed", error=repr(exc))
            raise Unavailable("The database is not reachable.") from None
        if isinstance(runtime.queue, ArqQueue):
            try:
                await runtime.queue.pool.ping()
                checks["redis"] = "ok"
            except Exception as exc:
                log.warning("readiness_redis_failed", error=repr(exc))
                raise Unavailable("Redis is not reachable.") from None
        return Health(status="ok", checks=checks)

    @router.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        registry = request.app.state.metrics.registry
        runtime: Runtime | None = getattr(request.app.state, "runtime", None)
        if runtime is not None:
            await request.app.state.operations.refresh(runtime)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    jobs: Sequence[Job] = (),
    migrate: Migrator | None = None,
    queue: JobQueue | None = None,
    probes: Mapping[str, Probe] | None = None,
) -> FastAPI:
    """Assemble a service app; nothing is connected until the lifespan runs.
    ``probes`` are the operational gauges read when ``/metrics`` is scraped."""
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await start_runtime(
            settings,
            jobs=jobs,
            migrate=migrate,
            queue=queue,
        )
        app.state.runtime = runtime
        app.state.engine = runtime.engine
        app.state.queue = runtime.queue
        app.state.token_verifier = runtime.verifier
        log.info("service_started", service=settings.service_name)
        try:
            yield
        finally:
            await runtime.close()

    app = FastAPIOffline(
        title=title,
        description=description,
        version=API_VERSION,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        dependencies=[Depends(refuse_unknown_query)],
        static_url=DOCS_ASSETS,
        favicon_url="data:,",  # no request for an icon nobody ships
    )
    app.state.settings = settings
    app.state.metrics = Metrics(settings.service_name)
    app.state.operations = OperationsCollector(dict(probes or {}))
    app.state.metrics.registry.register(app.state.operations)
    install_problem_handlers(app)
    document_problems(app)
    app.add_middleware(CloseSession)
    app.add_middleware(DeprecationHeaders)
    app.add_middleware(
        RequestGuard,
        metrics=app.state.metrics,
        max_body_bytes=settings.max_body_bytes,
        cacheable_paths=frozenset(
            path
            for path in (
                app.openapi_url,
                "/docs",
                "/redoc",
                app.swagger_ui_oauth2_redirect_url,
                *(f"{DOCS_ASSETS}/{name}" for name in DOCS_ASSET_FILES),
            )
            if path
        ),
    )
    app.add_middleware(
        ProxyHeadersMiddleware,
        trusted_hosts=comma_list(settings.trusted_proxies),
    )
    if settings.cors_origins:  # outermost: a preflight never reaches the guard
        app.add_middleware(
            CORSMiddleware,
            allow_origins=comma_list(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_RESPONSE_HEADERS,
            max_age=600,
        )
    for router in (health_router(), *routers):
        skip_other_paths(router)
        app.include_router(router)
    return app


def _head(path: str) -> str:
    """A path's first two segments (``/v1/service-records``): what a
    router's routes share, and a request's path is compared on."""
    return "/".join(path.split("/", 3)[:3])


def skip_other_paths(router: APIRouter) -> None:
    """Let the app pass over ``router`` at once for a path none of its
    routes can match (their first two segments, all literal, differ).

    FastAPI tries the app's routers, and each router's routes, one after
    another, with several calls per route; a write to the tenth router's
    route tried a hundred routes first, a tenth of a small request's
    Python. A router with a parameter, a mount or a router of its own in
    those segments is left as it is, and so is one already passed over
    (the routers are module-level: each app built wraps them once only)."""
    if getattr(router, "_skips_other_paths", False):
        return
    heads = set()
    for route in router.routes:
        head = _head(getattr(route, "path", "{"))
        if not isinstance(route, (APIRoute, Route)) or "{" in head:
            return
        heads.add(head)
    matches = router.matches

    def prefiltered(scope: Scope) -> tuple[Match, Scope]:
        if _head(app_path(scope)) not in heads:
            return Match.NONE, {}
        return matches(scope)

    router.matches = prefiltered  # type: ignore[method-assign]
    router._skips_other_paths = True  # type: ignore[attr-defined]


def operation_id(route: APIRoute) -> str:
    """The route function's name (``list_beneficiaries``), not FastAPI's
    ``list_beneficiaries_v1_beneficiaries_get``: it becomes a generated
    client's method name. Unique per service (tests/shared/test_openapi.py)."""
    return route.name


F = TypeVar("F", bound=Callable[..., Any])


def checks_own_query(endpoint: F) -> F:
    """Mark a route that reads query parameters the OpenAPI cannot name and
    checks them itself: an indicator's filters (named after its
    disaggregations, unknown ones refused) or a page's own (the dashboard's
    script reads them)."""
    endpoint.__checks_own_query__ = True  # type: ignore[attr-defined]
    return endpoint


def query_names(dependant: Dependant) -> frozenset[str]:
    """The query parameters a route reads, its dependencies' included."""
    names = {param.alias for param in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= query_names(dependency)
    return frozenset(names)


def _known_query(route: APIRoute) -> frozenset[str]:
    """``query_names`` once per route (kept on the route: routes are not
    hashable), not on every request."""
    known: frozenset[str] | None = getattr(route, "_known_query", None)
    if known is None:
        known = query_names(route.dependant)
        route._known_query = known  # type: ignore[attr-defined]
    return known


async def refuse_unknown_query(request: Request) -> None:
    """Every route refuses query parameters it does not read (400, naming
    them), on all three services alike."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or getattr(
        route.endpoint, "__checks_own_query__", False
    ):
        return
    known = _known_query(route)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise UnknownParameters(unknown, sorted(known))


async def get_runtime(request: Request) -> Runtime:
    """Async although it awaits nothing: FastAPI runs a plain ``def``
    dependency in a worker thread, a hand-off on every request."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
