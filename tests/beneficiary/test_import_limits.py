"""An imported file over a limit is refused with a problem+json 413 that
says which limit, before anything is stored: no import job, no audit row,
no outbox event, nothing queued. An XLSX zip bomb is refused from the zip
directory, without being unpacked."""

from __future__ import annotations

import base64
import io
import zipfile
from typing import Any

import pytest
from fastapi import FastAPI

from shared.errors import PROBLEM_MEDIA_TYPE
from tests.beneficiary.api import count_rows
from tests.beneficiary.test_imports import (
    as_csv,
    as_xlsx,
    make_mapping,
    manager,  # noqa: F401  (the fixture)
    submission,
)
from tests.callers import Caller

TABLES = ("import_job", "import_refusal", "audit_entry", "outbox_event", "beneficiary")


async def counts(app: FastAPI) -> dict[str, int]:
    return {t: await count_rows(app.state.engine, t) for t in TABLES}


async def send(caller: Caller, mapping_id: str, content: bytes, kind: str) -> Any:
    return await caller.post(
        "/v1/imports",
        {
            "mapping_id": mapping_id,
            "dry_run": False,
            "file": {
                "name": f"export.{kind}",
                "format": kind,
                "content_base64": base64.b64encode(content).decode(),
            },
        },
    )


def zip_bomb(unpacked: int) -> bytes:
    """A file shaped like an XLSX export whose sheet unpacks to ``unpacked``
    bytes of zeros (a few hundred kilobytes packed)."""
    real = zipfile.ZipFile(io.BytesIO(as_xlsx([submission(1)])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb:
        for part in real.infolist():
            if part.filename != "xl/worksheets/sheet1.xml":
                bomb.writestr(part, real.read(part))
        with bomb.open("xl/worksheets/sheet1.xml", "w") as sheet:
            block = b"0" * (1024 * 1024)
            for _ in range(unpacked // len(block)):
                sheet.write(block)
    return out.getvalue()


def assert_refused(response: Any, says: str) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    problem = response.json()
    assert problem["type"].endswith("/payload-too-large")
    assert says in problem["detail"]
    assert problem["errors"][0]["loc"] == ["body", "file"]


@pytest.mark.long
async def test_an_xlsx_zip_bomb_is_refused_unread(
    beneficiary_app: FastAPI,
    manager: Caller,  # noqa: F811
) -> None:
    mapping_id = await make_mapping(manager)
    bomb = zip_bomb(600 * 1024 * 1024)  # over the 512 MiB default
    assert len(bomb) < 2 * 1024 * 1024  # small enough to pass the body limit
    before = await counts(beneficiary_app)
    assert_refused(await send(manager, mapping_id, bomb, "xlsx"), "unpacks to")
    assert await counts(beneficiary_app) == before


async def test_a_part_packed_like_a_bomb_is_refused(
    beneficiary_app: FastAPI,
    manager: Caller,  # noqa: F811
) -> None:
    """Under the unpacked limit, but packed a thousand times tighter than
    any spreadsheet: refused as well."""
    mapping_id = await make_mapping(manager)
    before = await counts(beneficiary_app)
    response = await send(manager, mapping_id, zip_bomb(64 * 1024 * 1024), "xlsx")
    assert_refused(response, "packed far more tightly")
    assert await counts(beneficiary_app) == before


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
async def test_too_many_rows_are_refused_and_the_limit_itself_passes(
    beneficiary_app: FastAPI,
    manager: Caller,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
) -> None:
    monkeypatch.setattr(beneficiary_app.state.settings, "import_max_rows", 3)
    mapping_id = await make_mapping(manager)
    write = as_csv if kind == "csv" else as_xlsx
    before = await counts(beneficiary_app)
    over = await send(
        manager, mapping_id, write([submission(n) for n in range(4)]), kind
    )
    assert_refused(over, "more than 3 rows")
    assert await counts(beneficiary_app) == before
    at = await send(manager, mapping_id, write([submission(n) for n in range(3)]), kind)
    assert at.status_code == 202, at.text
    assert at.json()["total"] == 3


async def test_a_file_over_the_byte_limit_is_refused(
    beneficiary_app: FastAPI,
    manager: Caller,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(beneficiary_app.state.settings, "import_max_file_bytes", 1000)
    mapping_id = await make_mapping(manager)
    before = await counts(beneficiary_app)
    content = as_csv([submission(n) for n in range(20)])
    assert len(content) > 1000
    assert_refused(await send(manager, mapping_id, content, "csv"), "at most 1,000")
    assert await counts(beneficiary_app) == before
