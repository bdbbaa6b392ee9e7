"""JSON logs with request ids (and trace ids when tracing is on), Prometheus
metrics, and the request guard."""

from __future__ import annotations

import logging
import sys
import time
import uuid
from http import HTTPMethod
from typing import Any

import structlog
from opentelemetry.trace import Span
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import tracing
from shared.deprecation import API_VERSION
from shared.errors import (
    PayloadTooLarge,
    Problem,
    ProblemDetail,
    UnsupportedMediaType,
    render_problem,
)

REQUEST_ID_HEADER = "x-request-id"
log = structlog.get_logger("http")
BODY_METHODS = {"POST", "PUT", "PATCH"}
HTTP_METHODS = frozenset(HTTPMethod.__members__)
"""Methods counted under their own name in the metrics (the standard's)."""


def configure_logging(level: str = "INFO") -> None:
    """structlog renders every record, stdlib's included, as one JSON line."""
    shared_processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        tracing.add_trace_ids,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared_processors,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
            foreign_pre_chain=shared_processors,
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs every call's full URL at INFO, query string included; a
    # search by name or phone would put PII in the logs.
    logging.getLogger("httpx").setLevel(logging.WARNING)


class Metrics:
    """Per-app Prometheus registry, so apps sharing a process do not collide."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests by route template, method and status.",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by route template.",
            ["service", "method", "route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.service = service
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one request and its latency. Each (method, route, status)
        finds its two series once: ``labels()`` checks and joins the label
        values, under a lock, on every call. A method the API does not know
        (the client names it) is counted as ``_OTHER``: one series each
        would grow without bound."""
        if method not in HTTP_METHODS:
            method = "_OTHER"
        series = self._children.get((method, route, status))
        if series is None:
            series = self._children[(method, route, status)] = (
                self.latency.labels(self.service, method, route),
                self.requests.labels(self.service, method, route, str(status)),
            )
        series[0].observe(seconds)
        series[1].inc()


class RequestGuard:
    """Pure ASGI middleware: request id and log context, the request's span
    (tracing on), metrics, body size limit and JSON content type, before any
    route code runs; ``Cache-Control: no-store`` on every response but those
    at ``cacheable_paths`` (the API docs), since any other may carry
    personal data that no browser or proxy cache may keep."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        max_body_bytes: int,
        cacheable_paths: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.cacheable_paths = cacheable_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {
            k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]
        }
        request_id = headers.get(REQUEST_ID_HEADER) or uuid.uuid4().hex
        if len(request_id) > 128 or not request_id.isprintable():
            request_id = uuid.uuid4().hex
        callers_context = structlog.contextvars.get_contextvars()
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            request_id=request_id, service=self.metrics.service
        )
        scope.setdefault("state", {})["request_id"] = request_id
        try:
            with tracing.server_span(
                self.metrics.service,
                scope["method"],
                scope.get("scheme", "http"),
                headers,
            ) as span:
                await self._guarded(scope, receive, send, headers, request_id, span)
        finally:  # an in-process caller (ASGI transport) keeps its own context
            structlog.contextvars.clear_contextvars()
            structlog.contextvars.bind_contextvars(**callers_context)

    async def _guarded(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: dict[str, str],
        request_id: str,
        span: Span | None,
    ) -> None:
        started = time.perf_counter()
        status_holder = {"status": 500}
        id_bytes = request_id.encode()
        version = API_VERSION.encode()
        # now: routing into a mount (the docs assets) moves scope's root_path
        cacheable = app_path(scope) in self.cacheable_paths

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                sent = [
                    *message.get("headers", []),
                    (b"x-request-id", id_bytes),
                    (b"api-version", version),
                ]
                if not cacheable:
                    sent = [h for h in sent if h[0].lower() != b"cache-control"]
                    sent.append((b"cache-control", b"no-store"))
                message["headers"] = sent
            await send(message)

        problem = self._reject(scope["method"], headers)
        if problem is None and "content-length" not in headers:
            receive, problem = await self._buffered(receive)
        try:
            if problem is not None:
                await self._send_problem(problem, scope, send_with_id)
            else:
                await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            elapsed = time.perf_counter() - started
            self.metrics.observe(
                scope["method"], template, status_holder["status"], elapsed
            )
            if span is not None:
                tracing.finish_server_span(
                    span, scope["method"], template, status_holder["status"]
                )
            log.info(
                "request",
                method=scope["method"],
                route=template,
                status=status_holder["status"],
                duration_ms=round(elapsed * 1000, 1),
            )

    def _reject(self, method: str, headers: dict[str, str]) -> Problem | None:
        length = headers.get("content-length")
        if (
            length is not None
            and length.isdigit()
            and int(length) > self.max_body_bytes
        ):
            return PayloadTooLarge(
                f"The body is larger than {self.max_body_bytes} bytes."
            )
        has_body = (length is not None and length != "0") or (
            "transfer-encoding" in headers
        )
        if method in BODY_METHODS and has_body:
            media_type = headers.get("content-type", "").split(";")[0].strip().lower()
            if not (media_type == "application/json" or media_type.endswith("+json")):
                return UnsupportedMediaType("Send the body as application/json.")
        return None

    async def _buffered(self, receive: Receive) -> tuple[Receive, Problem | None]:
        """Read a body sent without Content-Length (chunked) up to the limit,
        so an oversized one is refused before any route code runs."""
        messages: list[Message] = []
        received = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            received += len(message.get("body", b""))
            if received > self.max_body_bytes:
                return receive, PayloadTooLarge(
                    f"The body is larger than {self.max_body_bytes} bytes."
                )
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        return replay, None

    @staticmethod
    async def _send_problem(problem: Problem, scope: Scope, send: Send) -> None:
        body: ProblemDetail = problem.to_body(scope.get("path"))
        response = render_problem(body, problem.headers)
        await response(scope, _no_receive, send)


def app_path(scope: Scope) -> str:
    """The request's path within the app, without the prefix it is mounted
    or served at (``root_path``)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}
