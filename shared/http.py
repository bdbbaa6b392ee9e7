"""The one way services call each other: an httpx client that carries the
request id across the hop."""

from __future__ import annotations

import httpx
import structlog

from shared.observability import REQUEST_ID_HEADER


async def _propagate_request_id(request: httpx.Request) -> None:
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    if request_id and REQUEST_ID_HEADER not in request.headers:
        request.headers[REQUEST_ID_HEADER] = str(request_id)


def make_client(
    *,
    base_url: str = "",
    timeout: float = 10.0,
    transport: httpx.AsyncBaseTransport | None = None,
    mounts: dict[str, httpx.AsyncBaseTransport] | None = None,
) -> httpx.AsyncClient:
    """An AsyncClient with sane timeouts; ``mounts`` lets tests and the embedded
    stack route calls to in-process apps."""
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        transport=transport,
        mounts=mounts,
        event_hooks={"request": [_propagate_request_id]},
    )
