"""The one way a service calls another: as its machine account, at the
other's configured base URL, and with one answer to every failure.

Whatever goes wrong on the hop (unreachable, a status other than 200, an
answer that is not the contract's, a proxy's error page, another version) is
``PeerUnavailable``: a 503 problem with ``Retry-After`` when it surfaces in a
request, a logged miss in a job that tries again on its next run.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

import httpx
import structlog
from pydantic import TypeAdapter, ValidationError

from shared.auth import machine_headers
from shared.errors import Unavailable
from shared.pagination import MAX_LIMIT, Page

if TYPE_CHECKING:
    from shared.app import Runtime

T = TypeVar("T")
log = structlog.get_logger(__name__)


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(answer: type[T]) -> TypeAdapter[T]:
    """Built once per answer type: building one costs a schema compile, and
    a pull or a client check calls every few seconds."""
    found = _ADAPTERS.get(answer)
    if found is None:
        found = _ADAPTERS[answer] = TypeAdapter(answer)
    return cast("TypeAdapter[T]", found)


class PeerUnavailable(Unavailable):
    """The other service did not answer as its contract says."""


@dataclass(frozen=True)
class Peer:
    """Another service: ``name`` for messages (``training``), ``base_url``
    and ``token`` from settings (no token: one signed with the local key,
    the embedded default)."""

    name: str
    base_url: str
    token: str | None

    async def get(
        self,
        runtime: Runtime,
        path: str,
        answer: type[T],
        *,
        params: dict[str, Any] | None = None,
        organisation_id: uuid.UUID | None = None,
        retry_after: int = 5,
    ) -> T:
        return await self._call(
            runtime,
            "GET",
            path,
            answer,
            params=params,
            organisation_id=organisation_id,
            retry_after=retry_after,
        )

    async def get_all(
        self,
        runtime: Runtime,
        path: str,
        item: type[T],
        *,
        params: dict[str, Any] | None = None,
    ) -> list[T]:
        """Every item of a paged list, following ``next_cursor`` to the end."""
        items: list[T] = []
        cursor: str | None = None
        while True:
            query = {**(params or {}), "limit": MAX_LIMIT}
            if cursor is not None:
                query["cursor"] = cursor
            page = await self.get(runtime, path, Page[item], params=query)  # type: ignore[valid-type]
            items.extend(page.items)
            if page.next_cursor is None:
                return items
            cursor = page.next_cursor

    async def post(
        self,
        runtime: Runtime,
        path: str,
        answer: type[T],
        *,
        json: Any,
        organisation_id: uuid.UUID | None = None,
        retry_after: int = 5,
    ) -> T:
        return await self._call(
            runtime,
            "POST",
            path,
            answer,
            json=json,
            organisation_id=organisation_id,
            retry_after=retry_after,
        )

    async def _call(
        self,
        runtime: Runtime,
        method: str,
        path: str,
        answer: type[T],
        *,
        organisation_id: uuid.UUID | None,
        retry_after: int,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> T:
        """Call as this service's machine account, for ``organisation_id``
        when the call is about one organisation's data."""
        settings = runtime.settings
        headers = machine_headers(
            settings,
            self.token,
            subject=f"{settings.service_name}-service",
            organisation_id=organisation_id,
        )
        url = f"{self.base_url.rstrip('/')}{path}"
        try:
            response = await runtime.http.request(
                method, url, params=params, json=json, headers=headers
            )
        except httpx.HTTPError as exc:  # its text may name internal hosts: logged only
            log.warning("peer_unreachable", peer=self.name, error=repr(exc))
            raise self._unavailable("cannot be reached", retry_after) from None
        if response.status_code != 200:
            raise self._unavailable(f"answered {response.status_code}", retry_after)
        try:
            return _adapter(answer).validate_json(response.content)
        except ValidationError:
            raise self._unavailable(
                "answered with something other than its contract", retry_after
            ) from None

    def _unavailable(self, what: str, retry_after: int) -> PeerUnavailable:
        return PeerUnavailable(
            f"The {self.name} service {what}; try again later.",
            retry_after=retry_after,
        )
