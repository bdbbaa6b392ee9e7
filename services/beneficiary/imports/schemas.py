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
    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID | None = Field(default=None, description="Client-generated id.")
    name: Text = Field(
        min_length=1,
        max_length=200,
        description="A mapping stored again under the same name is its next version.",
    )
    spec: MappingSpec


class ImportMappingRead(BaseModel):
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
    model_config = ConfigDict(extra="forbid")

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
    model_config = ConfigDict(from_attributes=True)

    row_number: int = Field(
        description="The row in the file (the header is row 1), or the "
        "submission's place in the Kobo form (from 1)."
    )
    field: str
    reason: str
