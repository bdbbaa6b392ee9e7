"""What a device sends and gets back: the full state of each record with the
server version it edited, people before their service records, and an outcome
per record (created, updated, unchanged, conflict with the server's copy, or
rejected with its errors).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.beneficiary.beneficiaries.schemas import (
    BeneficiaryFields,
    BeneficiaryRead,
)
from services.beneficiary.consent.schemas import ConsentGiven
from services.beneficiary.service_records.schemas import (
    AnonymousServiceFields,
    GroupActivityFields,
    ServiceRecordFields,
    ServiceRecordRead,
)
from services.beneficiary.sync.models import ConflictResolution, ConflictStatus
from shared.contracts.text import Text
from shared.db import DriverId
from shared.errors import FieldError


class BeneficiaryChange(BaseModel):
    """A beneficiary as the device holds it now."""

    model_config = ConfigDict(extra="forbid")

    id: DriverId
    base_version: int | None = Field(
        default=None,
        ge=1,
        le=2**31 - 1,
        description="The server version the device edited; null for a record "
        "created on the device.",
    )
    data: BeneficiaryFields
    consents: list[ConsentGiven] = Field(
        default_factory=list,
        description="Needed when the record is new (registration consent). For "
        "a known person: their consents as the device holds them; see "
        "consent_version.",
    )
    consent_version: int = Field(
        default=0,
        ge=0,
        le=2**31 - 1,
        description="The person's consent_version as the device last received "
        "it (0: never received). A grant for a purpose whose ledger "
        "changed after that version is stale: it is kept as a conflict for a "
        "supervisor, never recorded. Withdrawals are always recorded.",
    )


class ServiceRecordChange(BaseModel):
    """A device's change to a service record, with the version it saw."""

    model_config = ConfigDict(extra="forbid")

    id: DriverId
    base_version: int | None = Field(default=None, ge=1, le=2**31 - 1)
    data: ServiceRecordFields


class GroupActivityChange(BaseModel):
    """A group session as the device recorded it, with its attendance. A
    group activity is recorded once: sent again with the same content it is
    unchanged, with other content it is a conflict kept for a supervisor."""

    model_config = ConfigDict(extra="forbid")

    id: DriverId
    base_version: int | None = Field(default=None, ge=1, le=2**31 - 1)
    data: GroupActivityFields


class AnonymousServiceChange(BaseModel):
    """People served without registration, counted, as the device recorded
    them; recorded once, like a group activity."""

    model_config = ConfigDict(extra="forbid")

    id: DriverId
    base_version: int | None = Field(default=None, ge=1, le=2**31 - 1)
    data: AnonymousServiceFields


class SyncBatch(BaseModel):
    """Everything a device recorded offline. Beneficiaries are applied first,
    then service records, group activities and anonymous services, so a batch
    may register a person and record their services and group attendance
    together. Replaying a batch changes nothing."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "device_id": "tablet-7",
                    "beneficiaries": [
                        {
                            "id": "81bb90a8-efe9-49dc-ae33-a9fddce37fce",
                            "data": {
                                "full_name": "Layla Hassan",
                                "phone": "0750 123 4567",
                                "sex": "female",
                                "date_of_birth": "1990-04-01",
                                "marital_status": "married",
                                "disability": "no",
                                "displacement_status": "idp",
                                "nationality": "IRQ",
                                "site_id": "5bee242a-be00-4c7f-8670-9ac196c8dc17",
                                "registration_date": "2026-01-10",
                                "registration_channel": "outreach",
                            },
                            "consents": [
                                {
                                    "purpose": "registration",
                                    "granted": True,
                                    "form_version": "2024-1",
                                },
                                {
                                    "purpose": "services",
                                    "granted": True,
                                    "form_version": "2024-1",
                                },
                            ],
                        }
                    ],
                    "service_records": [
                        {
                            "id": "0f3e2a14-58f5-4a44-9a1e-3b0d8c6b9e21",
                            "data": {
                                "beneficiary_id": "81bb90a8-efe9-49dc-ae33-a9fddce37fce",  # noqa: E501
                                "activity_code": "individual_counselling",
                                "service_date": "2026-02-01",
                                "modality": "in_person",
                                "staff_id": "staff-1",
                                "duration_minutes": 50,
                            },
                        }
                    ],
                    "group_activities": [
                        {
                            "id": "6de441c2-2574-4ba8-b6a9-0b3662631976",
                            "data": {
                                "activity_code": "ipt_group_session",
                                "activity_date": "2026-02-09",
                                "site_id": "5bee242a-be00-4c7f-8670-9ac196c8dc17",
                                "modality": "in_person",
                                "duration_minutes": 90,
                                "facilitator_staff_ids": ["staff-1"],
                                "attendee_ids": [
                                    "81bb90a8-efe9-49dc-ae33-a9fddce37fce"
                                ],
                                "anonymous_attendees": [
                                    {
                                        "sex": "female",
                                        "age_group": "18_plus",
                                        "count": 5,
                                    }
                                ],
                            },
                        }
                    ],
                    "anonymous_services": [
                        {
                            "id": "2b4f7d0e-9c1a-4e53-8f6b-5a7c3d2e1f90",
                            "data": {
                                "activity_code": "awareness_session",
                                "service_date": "2026-02-10",
                                "site_id": "5bee242a-be00-4c7f-8670-9ac196c8dc17",
                                "counts": [
                                    {
                                        "sex": "female",
                                        "age_group": "18_plus",
                                        "count": 12,
                                    },
                                    {"sex": "male", "age_group": "0_17", "count": 7},
                                ],
                            },
                        }
                    ],
                }
            ]
        },
    )

    device_id: Text | None = Field(default=None, max_length=100)
    beneficiaries: list[BeneficiaryChange] = Field(default_factory=list)
    service_records: list[ServiceRecordChange] = Field(default_factory=list)
    group_activities: list[GroupActivityChange] = Field(
        default_factory=list,
        description="Group sessions with their attendance: registered people "
        "(in your scope, consenting to services) and anonymous counts.",
    )
    anonymous_services: list[AnonymousServiceChange] = Field(
        default_factory=list,
        description="People served without registration, as counts.",
    )


class SyncStatus(StrEnum):
    """What became of a record sent by a device."""

    created = "created"
    updated = "updated"
    unchanged = "unchanged"
    conflict = "conflict"
    rejected = "rejected"


class SyncResult(BaseModel):
    """What became of one record of a sync batch."""

    entity_type: str
    id: uuid.UUID
    status: SyncStatus
    version: int | None = None
    conflict_id: uuid.UUID | None = None
    server_copy: dict[str, Any] | None = Field(
        default=None, description="On conflict: the version that stays in force."
    )
    detail: str | None = None
    errors: list[FieldError] = Field(default_factory=list)


class SyncResponse(BaseModel):
    """One answer per record of the batch, in the batch's order."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "results": [
                        {
                            "entity_type": "beneficiary",
                            "id": "81bb90a8-efe9-49dc-ae33-a9fddce37fce",
                            "status": "created",
                            "version": 1,
                        },
                        {
                            "entity_type": "service_record",
                            "id": "c2a7e5d1-3b4f-4a8e-9d6c-1f0b2e7a5c93",
                            "status": "unchanged",
                            "version": 1,
                        },
                        {
                            "entity_type": "service_record",
                            "id": "6e9d2c4b-8a1f-4f3e-b5d7-0c2a9e6f1b84",
                            "status": "conflict",
                            "version": 3,
                            "conflict_id": "0d4f7b2e-9c1a-4e6d-8b3f-5a2c7e9d1f60",
                            "server_copy": {
                                "activity_code": "pfa",
                                "service_date": "2026-01-12",
                                "version": 3,
                            },
                            "detail": "changed on the server since version 2",
                        },
                        {
                            "entity_type": "service_record",
                            "id": "f1b8e3a6-2d7c-4b9e-a5f0-3c6e8d1a4b27",
                            "status": "rejected",
                            "errors": [
                                {
                                    "loc": ["service_date"],
                                    "msg": "Input should be a valid date",
                                    "type": "date_from_datetime_parsing",
                                }
                            ],
                        },
                    ]
                }
            ]
        }
    )

    results: list[SyncResult]


class ChangesPage(BaseModel):
    """Records changed since the cursor, in the caller's scope, as they are now."""

    beneficiaries: list[BeneficiaryRead]
    service_records: list[ServiceRecordRead]
    next_cursor: int = Field(description="Pass back as cursor for the next pull.")
    has_more: bool


class ConflictRead(BaseModel):
    """A device's change that met a newer one; a supervisor decides."""

    id: uuid.UUID
    entity_type: str
    entity_id: uuid.UUID
    device_id: str | None
    submitted_by: str
    base_version: int
    server_version: int
    client_version: dict[str, Any]
    status: ConflictStatus
    resolution: ConflictResolution | None
    resolved_by: str | None
    resolved_at: datetime | None
    created_at: datetime


class ConflictResolve(BaseModel):
    """A supervisor's decision on a sync conflict."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"resolution": "apply_client"}]}, extra="forbid"
    )

    resolution: ConflictResolution
