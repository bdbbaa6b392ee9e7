"""Where submissions come from: a CSV or XLSX export (KoboToolbox, ODK Central
or any spreadsheet with a header row), or the KoboToolbox API v2 data
endpoint, read page by page with retries and backoff."""

from __future__ import annotations

import asyncio
import csv
import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import structlog

from shared.errors import FieldError, Invalid, PayloadTooLarge

log = structlog.get_logger(__name__)
Row = Mapping[str, Any]


@dataclass(frozen=True)
class FileLimits:
    """What one imported file may hold, checked before anything is written
    (settings ``BENEFICIARY_IMPORT_MAX_*``). An XLSX file is a zip archive:
    its parts are measured from the archive's directory before any is
    unpacked, so a small file that would unpack to gigabytes (a zip bomb)
    is refused without being read."""

    max_file_bytes: int = 64 * 1024 * 1024
    max_rows: int = 250_000
    max_unpacked_bytes: int = 512 * 1024 * 1024
    max_ratio: int = 200
    """Unpacked ÷ packed size of one part of an XLSX file: spreadsheet XML
    packs 5-30 times; a part far beyond that is built to explode."""
    max_parts: int = 1_000


NO_LIMITS = FileLimits(
    max_file_bytes=2**62, max_rows=2**62, max_unpacked_bytes=2**62, max_ratio=2**62
)
"""For a file already accepted (the job reading what the request stored)."""


def read_file(
    content: bytes, kind: str, limits: FileLimits = FileLimits()
) -> list[Row]:
    """Every data row of the first sheet, keyed by the header row; a file
    over a limit is refused (413) before it is parsed."""
    if len(content) > limits.max_file_bytes:
        raise _too_large(
            f"The file is {len(content):,} bytes; an import takes at most "
            f"{limits.max_file_bytes:,} (BENEFICIARY_IMPORT_MAX_FILE_BYTES)."
        )
    if kind == "csv":
        return _read_csv(content, limits)
    _check_archive(content, limits)
    return _read_xlsx(content, limits)


def _too_large(detail: str) -> PayloadTooLarge:
    return PayloadTooLarge(
        detail,
        errors=[FieldError(loc=["body", "file"], msg=detail, type="too_large")],
    )


def _too_many_rows(limits: FileLimits) -> PayloadTooLarge:
    return _too_large(
        f"The file has more than {limits.max_rows:,} rows; split it, or raise "
        "BENEFICIARY_IMPORT_MAX_ROWS."
    )


def _read_csv(content: bytes, limits: FileLimits) -> list[Row]:
    """UTF-8 (with or without a byte-order mark, as Excel saves it), with
    commas, semicolons or tabs between values."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid("The CSV file is not UTF-8 text.") from None
    header = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=header.count)
    rows: list[Row] = []
    try:
        for row in csv.DictReader(io.StringIO(text), delimiter=delimiter):
            if len(rows) == limits.max_rows:
                raise _too_many_rows(limits)
            rows.append(row)
    except csv.Error as exc:
        raise Invalid(f"The CSV file cannot be read ({exc}).") from None
    return rows


def _check_archive(content: bytes, limits: FileLimits) -> None:
    """Measure an XLSX file's parts from the zip directory, unpacking
    nothing: too many parts, too much unpacked, or a part packed too
    tightly is refused. The sizes read here bound what is unpacked later
    (``zipfile`` stops a part at its declared size and checks its CRC)."""
    try:
        parts = zipfile.ZipFile(io.BytesIO(content)).infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise Invalid("Not a readable XLSX file (not a zip archive).") from None
    if len(parts) > limits.max_parts:
        raise _too_large(
            f"The XLSX file holds {len(parts):,} parts; a spreadsheet holds far "
            f"fewer (at most {limits.max_parts:,})."
        )
    unpacked = sum(part.file_size for part in parts)
    if unpacked > limits.max_unpacked_bytes:
        raise _too_large(
            f"The XLSX file unpacks to {unpacked:,} bytes; an import takes at "
            f"most {limits.max_unpacked_bytes:,} "
            "(BENEFICIARY_IMPORT_MAX_UNPACKED_BYTES)."
        )
    for part in parts:
        if part.file_size > limits.max_ratio * max(part.compress_size, 1) and (
            part.file_size > 1024 * 1024
        ):
            raise _too_large(
                "The XLSX file holds a part packed far more tightly than a "
                "spreadsheet is (a zip bomb?); export it again from the form "
                "tool, or send CSV."
            )


def _read_xlsx(content: bytes, limits: FileLimits) -> list[Row]:
    import openpyxl  # here: 0.2 s at every start of a command that reads CSV

    try:
        book = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a bad file
        raise Invalid(f"Not a readable XLSX file ({type(exc).__name__}).") from None
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = [str(h).strip() if h is not None else "" for h in next(rows, ())]
        read: list[Row] = []
        for values in rows:
            if not any(v is not None and v != "" for v in values):
                continue
            if len(read) == limits.max_rows:
                raise _too_many_rows(limits)
            read.append(dict(zip(header, values, strict=False)))
        return read
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
