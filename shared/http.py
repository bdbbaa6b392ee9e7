"""The one way services call each other: an httpx client that carries the
request id (and, with tracing on, the trace) across the hop."""

from __future__ import annotations

import ssl
from functools import cache
from typing import Any

import httpx
import structlog

from shared import tracing
from shared.observability import REQUEST_ID_HEADER


async def _propagate_request_id(request: httpx.Request) -> None:
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    if request_id and REQUEST_ID_HEADER not in request.headers:
        request.headers[REQUEST_ID_HEADER] = str(request_id)


@cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every client of the process: building one reads
    the CA bundle, about 27 ms of CPU, and each client would build its own."""
    return httpx.create_ssl_context()


class ServiceClient(httpx.AsyncClient):
    """Calls made on behalf of ``service``: client spans of it (tracing on)."""

    def __init__(self, *, service: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.service = service

    async def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        with tracing.client_span(self.service, request) as span:
            response = await super().send(request, **kwargs)
            if span is not None:
                tracing.record_status(span, response.status_code, error_from=400)
            return response


def make_client(
    *,
    service: str | None = None,
    base_url: str = "",
    timeout: float = 10.0,
    transport: httpx.AsyncBaseTransport | None = None,
    mounts: dict[str, httpx.AsyncBaseTransport] | None = None,
) -> httpx.AsyncClient:
    """An AsyncClient with sane timeouts; ``mounts`` lets tests and the embedded
    stack route calls to in-process apps. Its calls are client spans of
    ``service`` when tracing is on (without it, they only pass the trace on)."""
    return ServiceClient(
        service=service,
        base_url=base_url,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        transport=transport,
        mounts=mounts,
        verify=_tls(),
        event_hooks={"request": [_propagate_request_id]},
    )
