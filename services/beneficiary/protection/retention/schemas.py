"""Wire models of retention policies and runs."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from services.beneficiary.protection.retention.models import (
    RetentionAction,
)

MAX_KEEP_DAYS = 36_500


class RecordType(StrEnum):
    """A kind of record a retention policy applies to."""

    beneficiary = "beneficiary"
    closed_case = "closed_case"
    sync_conflict = "sync_conflict"
    anonymous_service = "anonymous_service"


class PolicySource(StrEnum):
    """Whether a retention period is the organisation's or the platform's default."""

    organisation = "organisation"
    platform_default = "platform_default"


class RetentionPolicyWrite(BaseModel):
    """How long to keep one record type, and what to do after."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"keep_days": 30, "action": "pseudonymise"}]},
        extra="forbid",
    )

    keep_days: int | None = Field(
        default=None,
        ge=0,
        le=MAX_KEEP_DAYS,
        description="Days to keep; required for pseudonymise, empty for keep.",
    )
    action: RetentionAction

    @model_validator(mode="after")
    def _days_match_action(self) -> RetentionPolicyWrite:
        if self.action == RetentionAction.keep and self.keep_days is not None:
            raise ValueError("keep means without limit: leave keep_days empty")
        if self.action == RetentionAction.pseudonymise and self.keep_days is None:
            raise ValueError("pseudonymise needs keep_days (use keep for ever)")
        return self


class DefaultPolicy(RetentionPolicyWrite):
    why: str


class DefaultsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    about: str
    policies: dict[RecordType, DefaultPolicy]


class RetentionPolicyRead(BaseModel):
    """How long a kind of record is kept, and what happens then."""

    record_type: RecordType
    keep_days: int | None
    action: RetentionAction
    source: PolicySource
    applies_to: str
    updated_by: str | None = None
    updated_at: datetime | None = None
    version: int = Field(
        description="Send it back as If-Match to change the policy; 0 while "
        "the platform default applies."
    )


class RetentionRunCreate(BaseModel):
    """A retention run; a dry run only counts."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"dry_run": True}]}, extra="forbid"
    )

    dry_run: StrictBool = Field(
        description="true: only list what would be affected; false: apply now."
    )


class AffectedRecords(BaseModel):
    """What one policy did (or would do) in a run; ids are record ids only."""

    count: int
    ids: list[uuid.UUID]
    keep_days: int | None
    action: RetentionAction
    source: PolicySource
    before: datetime | None = Field(
        description="Records whose retention clock stopped before this instant."
    )


class RetentionRunRead(BaseModel):
    """A retention run and the records it touched."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organisation_id: uuid.UUID | None
    dry_run: bool
    started_at: datetime
    finished_at: datetime | None = Field(
        description="Empty while running, or when the run stopped on an error."
    )
    started_by: str
    affected: dict[RecordType, AffectedRecords]


class RetentionRunSummary(BaseModel):
    """A retention run's counts."""

    id: uuid.UUID
    dry_run: bool
    started_at: datetime
    finished_at: datetime | None
    started_by: str
    counts: dict[str, int]
