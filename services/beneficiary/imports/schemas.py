"""Imports on the wire: a mapping to store, an import to start (a file sent
as base64 in JSON, or a KoboToolbox pull), the job's progress, and its
refused rows."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from services.beneficiary.imports.mapping import MappingSpec
from services.beneficiary.imports.models import ImportStatus, SourceKind
from shared.contracts.text import Text


class ImportMappingCreate(BaseModel):
    """How a form's fields and choices map to the platform's."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Kobo registration form v3",
                    "spec": {
                        "person": {
                            "fields": {"full_name": "name", "sex": "sex"},
                            "constants": {"registration_channel": "outreach"},
                        }
                    },
                }
            ]
        },
        extra="forbid",
    )

    id: uuid.UUID | None = Field(default=None, description="Client-generated id.")
    name: Text = Field(
        min_length=1,
        max_length=200,
        description="A mapping stored again under the same name is its next version.",
    )
    spec: MappingSpec


class ImportMappingRead(BaseModel):
    """A saved version of an import mapping."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    version: int
    spec: MappingSpec
    created_by: str
    created_at: datetime


class ImportFile(BaseModel):
    """A CSV or XLSX export (KoboToolbox, ODK Central or a spreadsheet with
    one header row), base64-encoded. Larger files: the CLI."""

    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=1, max_length=255)
    format: Literal["csv", "xlsx"]
    content_base64: str = Field(min_length=1)


class KoboSource(BaseModel):
    """Pull every submission of a KoboToolbox form (asset) through its API."""

    model_config = ConfigDict(extra="forbid")

    server: str = Field(
        max_length=255,
        pattern=r"^https?://[^\s/]+/?$",
        examples=["https://kf.kobotoolbox.org"],
    )
    asset_uid: str = Field(pattern=r"^[A-Za-z0-9]{1,64}$")
    token: str = Field(
        min_length=1,
        max_length=200,
        description="An API token of a Kobo account that can view the "
        "submissions; kept encrypted until the import is done.",
    )


class ImportCreate(BaseModel):
    """An import of a file or a Kobo form's submissions through a mapping."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "mapping_id": "4afa2929-7373-48bd-8412-94b559f413de",
                    "dry_run": True,
                    "file": {
                        "name": "registrations-jan.csv",
                        "format": "csv",
                        "content_base64": (
                            "X3V1aWQsbmFtZSxzZXgKN2YxYzJhNGUtNWI4ZC00YzNlLTlhMWYtMmQ2"
                            "YjhlMGM0YTMxLExheWxhIEhhc3NhbixmZW1hbGUK"
                        ),
                    },
                }
            ]
        },
        extra="forbid",
    )

    id: uuid.UUID | None = Field(default=None, description="Client-generated id.")
    mapping_id: uuid.UUID
    dry_run: StrictBool = Field(
        description="true: report what would be written and every row that "
        "would be refused; nothing is written."
    )
    file: ImportFile | None = None
    kobo: KoboSource | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ImportCreate:
        if (self.file is None) == (self.kobo is None):
            raise ValueError("give exactly one of file and kobo")
        return self


class ImportRead(BaseModel):
    """An import's progress and outcome."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "a71d5bfe-ff78-4f30-981e-6b028420eac3",
                    "mapping_id": "1f9e506a-d4ac-4f7f-a82d-2600f7dec640",
                    "dry_run": False,
                    "status": "done",
                    "source_kind": "kobo",
                    "source_name": None,
                    "kobo_asset_uid": "aXkqP3mLxR",
                    "started_by": "pm-a",
                    "total": 23,
                    "done": 23,
                    "refused": 0,
                    "outcomes": {
                        "beneficiary": {"created": 12},
                        "service_record": {"created": 11},
                    },
                    "rows_per_second": 7.6,
                    "seconds_left": 0,
                    "error": "KoboToolbox did not answer the page starting at "
                    "submission 10 after 3 tries (last: HTTP 500). Nothing is "
                    "lost: resume the import to go on from there.",
                    "created_at": "2026-02-03T09:15:00Z",
                    "started_at": "2026-02-03T09:15:00Z",
                    "finished_at": None,
                }
            ]
        }
    )

    id: uuid.UUID
    mapping_id: uuid.UUID
    dry_run: bool
    status: ImportStatus
    source_kind: SourceKind
    source_name: str | None
    kobo_asset_uid: str | None
    started_by: str
    total: int | None = Field(description="Rows in the source, once known.")
    done: int = Field(description="Rows processed (written, unchanged or refused).")
    refused: int = Field(description="Rows with at least one refusal.")
    outcomes: dict[str, Any] = Field(
        description="Per record type: how many were (or would be) created, "
        "updated, unchanged, kept as conflicts or rejected."
    )
    rows_per_second: float | None
    seconds_left: float | None = Field(description="At the rate so far.")
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class ImportRefusalRead(BaseModel):
    """A row an import refused, with the field and the reason."""

    model_config = ConfigDict(from_attributes=True)

    row_number: int = Field(
        description="The row in the file (the header is row 1), or the "
        "submission's place in the Kobo form (from 1)."
    )
    field: str
    reason: str
