"""Where submissions come from: a CSV or XLSX export (KoboToolbox, ODK Central
or any spreadsheet with a header row), or the KoboToolbox API v2 data
endpoint, read page by page with retries and backoff."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import openpyxl
import structlog

from shared.errors import Invalid

log = structlog.get_logger(__name__)
Row = Mapping[str, Any]


def read_file(content: bytes, kind: str) -> list[Row]:
    """Every data row of the first sheet, keyed by the header row."""
    if kind == "csv":
        return _read_csv(content)
    return _read_xlsx(content)


def _read_csv(content: bytes) -> list[Row]:
    """UTF-8 (with or without a byte-order mark, as Excel saves it), with
    commas, semicolons or tabs between values."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid("The CSV file is not UTF-8 text.") from None
    header = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=header.count)
    try:
        return list(csv.DictReader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as exc:
        raise Invalid(f"The CSV file cannot be read ({exc}).") from None


def _read_xlsx(content: bytes) -> list[Row]:
    try:
        book = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a bad file
        raise Invalid(f"Not a readable XLSX file ({type(exc).__name__}).") from None
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = [str(h).strip() if h is not None else "" for h in next(rows, ())]
        return [
            dict(zip(header, values, strict=False))
            for values in rows
            if any(v is not None and v != "" for v in values)
        ]
    finally:
        book.close()


class SourceFailed(Exception):
    """The source stopped answering; what was committed stays, and the
    import can be resumed from where it stopped."""


@dataclass(frozen=True)
class KoboPull:
    """KoboToolbox API v2: ``GET {server}/api/v2/assets/{uid}/data/`` with
    ``Authorization: Token ...``, paged by ``limit`` and ``start``."""

    server: str
    asset_uid: str
    token: str
    timeout_seconds: float
    tries: int
    backoff_seconds: float

    @property
    def url(self) -> str:
        return f"{self.server.rstrip('/')}/api/v2/assets/{self.asset_uid}/data/"

    async def page(
        self, client: httpx.AsyncClient, start: int, limit: int
    ) -> tuple[list[Row], int | None, bool]:
        """Submissions from ``start``: (rows, the total count, more after)."""
        params: dict[str, str | int] = {
            "format": "json",
            "limit": limit,
            "start": start,
            "sort": '{"_id": 1}',  # oldest first: new submissions come last
        }
        headers = {"Authorization": f"Token {self.token}", "Accept": "application/json"}
        last = ""
        for attempt in range(self.tries):
            if attempt:
                await asyncio.sleep(self.backoff_seconds * 2 ** (attempt - 1))
            try:
                response = await client.get(
                    self.url,
                    params=params,
                    headers=headers,
                    timeout=self.timeout_seconds,
                )
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}"
                log.warning("kobo_retry", start=start, attempt=attempt, error=last)
                continue
            if response.status_code in (401, 403, 404):
                raise SourceFailed(
                    f"KoboToolbox answered {response.status_code} for asset "
                    f"{self.asset_uid}: check the asset uid and the token."
                )
            if response.status_code >= 400:
                last = f"HTTP {response.status_code}"
                log.warning("kobo_retry", start=start, attempt=attempt, error=last)
                continue
            try:
                body = response.json()
                results = list(body["results"])
            except (ValueError, KeyError, TypeError):
                last = "an answer that is not the API's JSON"
                continue
            count = body.get("count")
            return (
                results,
                count if isinstance(count, int) else None,
                bool(body.get("next")),
            )
        raise SourceFailed(
            f"KoboToolbox did not answer the page starting at submission {start} "
            f"after {self.tries} tries (last: {last}). Nothing is lost: resume the "
            "import to go on from there."
        )
