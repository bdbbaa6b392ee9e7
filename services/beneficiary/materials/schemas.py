"""Request and response models of materials distributed: an item from the
materials list (``GET /v1/taxonomy/materials``), a whole quantity, the
language of printed material, and exactly one record it was handed out on.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from shared.taxonomy.materials import materials

ItemCode = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9_]{2,64}$"),
    Field(description="A code from GET /v1/taxonomy/materials (e.g. school_bag)."),
]
MaterialLanguage = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z]{2,3}$"),
    Field(
        description="The language of printed material (ISO 639, e.g. ar, ckb, "
        "kmr); leaflets in three languages are three lines."
    ),
]


class MaterialDistributionCreate(BaseModel):
    """Items handed out at a group activity or with a service: name exactly
    one of ``group_activity_id`` and ``service_record_id``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "group_activity_id": "54be4f02-40b4-4beb-bb34-c2c3ee0b7eed",
                    "item_code": "leaflet",
                    "quantity": 40,
                    "language": "ckb",
                },
                {
                    "service_record_id": "0b0e7b54-6a0e-4bd1-9a55-0c1b1f1f7d0a",
                    "item_code": "hygiene_kit",
                    "quantity": 1,
                },
            ]
        },
    )

    id: uuid.UUID | None = Field(
        default=None, description="A client-chosen id, for offline retries."
    )
    group_activity_id: uuid.UUID | None = None
    service_record_id: uuid.UUID | None = None
    item_code: ItemCode
    quantity: int = Field(ge=1, le=100_000)
    language: MaterialLanguage | None = None

    @field_validator("item_code")
    @classmethod
    def _known_item(cls, value: str) -> str:
        if value not in materials():
            raise ValueError(f"unknown item {value!r}: see GET /v1/taxonomy/materials")
        return value

    @model_validator(mode="after")
    def _one_record(self) -> MaterialDistributionCreate:
        if (self.group_activity_id is None) == (self.service_record_id is None):
            raise ValueError(
                "name exactly one of group_activity_id and service_record_id"
            )
        return self


class MaterialDistributionRead(BaseModel):
    """Items handed out, with the delivery columns of their record."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "7d7c6a52-31a8-4bde-9b0b-6c8d9d5e0f11",
                    "organisation_id": "58a9d726-0b8d-480a-ba96-80279eee9332",
                    "group_activity_id": "54be4f02-40b4-4beb-bb34-c2c3ee0b7eed",
                    "service_record_id": None,
                    "item_code": "leaflet",
                    "quantity": 40,
                    "language": "ckb",
                    "distributed_on": "2026-03-01",
                    "activity_code": "awareness_session",
                    "site_id": "5bee242a-be00-4c7f-8670-9ac196c8dc17",
                    "team_id": None,
                    "project_id": None,
                    "voided": False,
                    "version": 1,
                    "created_at": "2026-03-01T10:20:00Z",
                }
            ]
        },
    )

    id: uuid.UUID
    organisation_id: uuid.UUID
    group_activity_id: uuid.UUID | None
    service_record_id: uuid.UUID | None
    item_code: str
    quantity: int
    language: str | None
    distributed_on: date = Field(description="The date of its record.")
    activity_code: str
    site_id: uuid.UUID | None
    team_id: uuid.UUID | None
    project_id: uuid.UUID | None
    voided: bool
    version: int
    created_at: datetime


class MaterialItem(BaseModel):
    """An item of the materials list."""

    code: str
    name: str = Field(
        description="Its English name; each language's is in the catalogues "
        "(key item.<code>)."
    )


class MaterialList(BaseModel):
    """The items materials distributed may name."""

    items: list[MaterialItem]
