"""OpenTelemetry traces that follow a request across services and queue jobs.

Off unless ``OTEL_TRACES_EXPORTER`` names an exporter (``otlp`` or
``console``); everything else is the SDK's standard ``OTEL_*`` variables
(endpoint, headers, sampler, batching, resource). Off, no SDK object exists
and every hook below returns at its first line.

Each service in a process gets its own tracer provider (the embedded stack
runs three), all exporting through one span processor. Spans carry route
templates, methods, status codes, host names, job names and parameterised
SQL: never a URL's path or query, a header, a body or a bound value, so no
personal data and no person's id leaves in a trace.
"""

from __future__ import annotations

import atexit
import os
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary, ref

import httpx
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy import Engine, event
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

W3C = TraceContextTextMapPropagator()
"""Only W3C trace context crosses a hop (``traceparent``, ``tracestate``):
no baggage, which could carry anything."""
SQL_TEXT_LIMIT = 2000
_SPAN_KEY = "_tracing_span"


@dataclass
class _Tracing:
    processor: SpanProcessor | None = None
    tracers: dict[str, Tracer] = field(default_factory=dict)
    exit_hook: bool = False
    engines: WeakKeyDictionary[Engine, _EngineHooks] = field(
        default_factory=WeakKeyDictionary
    )
    """Every engine ``trace_engine`` was given, with its service's hooks:
    listening while tracing is on, not otherwise."""


_state = _Tracing()


def exporter_from_env(environ: Mapping[str, str] = os.environ) -> SpanExporter | None:
    """The exporter ``OTEL_TRACES_EXPORTER`` names, or None (tracing off) when
    it is unset or ``none``, or ``OTEL_SDK_DISABLED`` is true. A value we
    cannot honour stops the service rather than silently tracing nothing."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    name = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() or "none"
    if name == "none":
        return None
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter(
            out=sys.stderr, formatter=lambda span: span.to_json(indent=None) + "\n"
        )
    if name == "otlp":
        protocol = (
            environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
            or "http/protobuf"
        )
        if protocol != "http/protobuf":
            raise ValueError(
                f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: only http/protobuf "
                "is supported (port 4318 of a collector)"
            )
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter,
        )

        return OTLPSpanExporter()
    raise ValueError(f"OTEL_TRACES_EXPORTER={name!r}: use otlp, console or none")


def start_tracing_from_env() -> None:
    """Every app and worker calls this at start; once on, it stays on."""
    if _state.processor is not None:
        return
    exporter = exporter_from_env()
    if exporter is not None:
        start_tracing(exporter)


def start_tracing(exporter: SpanExporter, *, batch: bool = True) -> None:
    """Send every service's spans to ``exporter`` from now on. Batched as the
    ``OTEL_BSP_*`` variables say; tests pass an in-memory exporter unbatched."""
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    stop_tracing()
    _state.processor = (
        BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    )
    for hooks in list(_state.engines.values()):
        hooks.listen()
    if not _state.exit_hook:
        atexit.register(stop_tracing)
        _state.exit_hook = True


def stop_tracing() -> None:
    """Export what is pending and switch tracing off."""
    processor, _state.processor = _state.processor, None
    _state.tracers.clear()
    for hooks in list(_state.engines.values()):
        hooks.stop()
    if processor is not None:
        processor.shutdown()


def tracer(service: str) -> Tracer | None:
    """The tracer of ``service`` (its own ``service.name``), None when off."""
    processor = _state.processor
    if processor is None:
        return None
    found = _state.tracers.get(service)
    if found is None:
        provider = _provider(service, processor)
        found = _state.tracers[service] = provider.get_tracer("shared.tracing")
    return found


def _provider(service: str, processor: SpanProcessor) -> TracerProvider:
    """``service.name`` is ``OTEL_SERVICE_NAME`` (or the one in
    ``OTEL_RESOURCE_ATTRIBUTES``) when set, else the service's own name."""
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider

    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: service}))
    provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    provider.add_span_processor(processor)
    return provider


def inject(carrier: MutableMapping[str, str]) -> None:
    """Add the current span's ``traceparent`` to ``carrier`` (tracing on)."""
    if _state.processor is not None:
        W3C.inject(carrier)


def add_trace_ids(logger: Any, method_name: str, event_dict: Any) -> Any:
    """structlog processor: the current span's ids on every log line, so a
    line leads to its trace (tracing on)."""
    if _state.processor is None:
        return event_dict
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("trace_id", format(context.trace_id, "032x"))
        event_dict.setdefault("span_id", format(context.span_id, "016x"))
    return event_dict


@contextmanager
def _span(
    tracer_: Tracer,
    name: str,
    kind: SpanKind,
    attributes: dict[str, Any],
    carrier: Mapping[str, str] | None = None,
) -> Iterator[Span]:
    """A current span whose failure is recorded by exception type only: an
    exception's message or traceback can quote personal data."""
    context = W3C.extract(carrier) if carrier is not None else None
    with tracer_.start_as_current_span(
        name,
        context=context,
        kind=kind,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except BaseException as exc:
            span.set_attribute("error.type", type(exc).__qualname__)
            span.set_status(StatusCode.ERROR)
            raise


@contextmanager
def server_span(
    service: str, method: str, scheme: str, headers: Mapping[str, str]
) -> Iterator[Span | None]:
    """The span of one HTTP request, child of the caller's ``traceparent``;
    ``finish_server_span`` names it by its route template."""
    tracer_ = tracer(service)
    if tracer_ is None:
        yield None
        return
    attributes = {"http.request.method": method, "url.scheme": scheme}
    with _span(tracer_, method, SpanKind.SERVER, attributes, headers) as span:
        yield span


def finish_server_span(span: Span, method: str, route: str, status: int) -> None:
    span.update_name(f"{method} {route}")
    span.set_attribute("http.route", route)
    record_status(span, status, error_from=500)


@contextmanager
def job_span(service: str, function: str, origin: Mapping[str, str]) -> Iterator[None]:
    """The span of one job run, child of the span that enqueued it (the
    ``traceparent`` in ``origin``); a root span for cron and periodic runs."""
    tracer_ = tracer(service)
    if tracer_ is None:
        yield
        return
    attributes = {
        "messaging.system": "arq",
        "messaging.operation.type": "process",
        "messaging.destination.name": service,
    }
    with _span(tracer_, function, SpanKind.CONSUMER, attributes, origin):
        yield


@contextmanager
def client_span(service: str | None, request: httpx.Request) -> Iterator[Span | None]:
    """A client span for a call made by ``service`` (none without it), and
    the ``traceparent`` header that makes the callee's span its child. The
    span has the host, method and status, not the path or the query (ids,
    cursors, search terms)."""
    tracer_ = tracer(service) if service else None
    if tracer_ is None:
        inject(request.headers)
        yield None
        return
    url = request.url
    attributes = {
        "http.request.method": request.method,
        "server.address": url.host,
        "server.port": url.port or (443 if url.scheme == "https" else 80),
        "url.scheme": url.scheme,
    }
    with _span(tracer_, request.method, SpanKind.CLIENT, attributes) as span:
        W3C.inject(request.headers)
        yield span


def record_status(span: Span, status: int, *, error_from: int) -> None:
    span.set_attribute("http.response.status_code", status)
    if status >= error_from:
        span.set_attribute("error.type", str(status))
        span.set_status(StatusCode.ERROR)


def trace_engine(engine: AsyncEngine, service: str) -> None:
    """A span per SQL statement, with its parameterised text (bound values,
    where personal data would be, are never recorded), while tracing is on.
    Off, the engine has no statement hooks at all: a listener, even one
    that returns at once, cost each statement about 55 000 instructions
    (bench/RESULTS.md, seventh pass)."""
    hooks = _EngineHooks(engine.sync_engine, service)
    _state.engines[engine.sync_engine] = hooks
    if _state.processor is not None:
        hooks.listen()


@contextmanager
def statement_span(engine: Engine, statement: str) -> Iterator[None]:
    """The span ``trace_engine``'s hooks give a statement, for one that a
    service runs on the driver's connection itself (``shared.db.fetch_rows``),
    where SQLAlchemy's hooks do not see it."""
    hooks = _state.engines.get(engine)
    if hooks is None or not hooks.listening:
        yield
        return
    context = _Statement()
    hooks.start(None, None, statement, None, context, False)
    try:
        yield
    except BaseException as error:
        span = getattr(context, _SPAN_KEY, None)
        if span is not None:
            span.set_attribute("error.type", type(error).__name__)
            span.set_status(StatusCode.ERROR)
        raise
    finally:
        hooks.end(None, None, statement, None, context, False)


class _Statement:
    """Where a span waits for its statement's end (an execution context)."""


class _EngineHooks:
    """One engine's statement hooks, added and removed with tracing."""

    def __init__(self, engine: Engine, service: str) -> None:
        self.engine = ref(engine)  # the engine holds these hooks, not they it
        self.service = service
        self.system = engine.dialect.name
        self.namespace = engine.url.database or ""
        self.listening = False

    def hooks(self) -> list[tuple[str, Any]]:
        return [
            ("before_cursor_execute", self.start),
            ("after_cursor_execute", self.end),
            ("handle_error", self.failed),
        ]

    def listen(self) -> None:
        engine = self.engine()
        if engine is not None and not self.listening:
            for name, hook in self.hooks():
                event.listen(engine, name, hook)
            self.listening = True

    def stop(self) -> None:
        engine = self.engine()
        if engine is not None and self.listening:
            for name, hook in self.hooks():
                event.remove(engine, name, hook)
            self.listening = False

    def start(
        self,
        conn: Any,
        cursor: Any,
        statement: str,
        params: Any,
        context: Any,
        many: bool,
    ) -> None:
        tracer_ = tracer(self.service)
        if tracer_ is None or context is None:
            return
        operation = statement.lstrip().split(None, 1)[0].upper() if statement else ""
        span = tracer_.start_span(
            operation or self.system,
            kind=SpanKind.CLIENT,
            attributes={
                "db.system.name": self.system,
                "db.namespace": self.namespace,
                "db.operation.name": operation,
                "db.query.text": statement[:SQL_TEXT_LIMIT],
            },
        )
        setattr(context, _SPAN_KEY, span)

    def end(
        self,
        conn: Any,
        cursor: Any,
        statement: str,
        params: Any,
        context: Any,
        many: bool,
    ) -> None:
        span = getattr(context, _SPAN_KEY, None)
        if span is not None:
            span.end()

    def failed(self, error: Any) -> None:
        span = getattr(error.execution_context, _SPAN_KEY, None)
        if span is not None:
            span.set_attribute("error.type", type(error.original_exception).__name__)
            span.set_status(StatusCode.ERROR)
            span.end()  # SQLAlchemy calls no after_cursor_execute for it
