"""Request and response models for places. A new place is refused unless its
shape fits its level: only a site has a site type, and a district or site needs
a parent.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.beneficiary.locations.gazetteer import MAX_ROWS, ColumnMapping
from shared.contracts.enums import LocationLevel, SiteType
from shared.contracts.text import Text


class LocationCreate(BaseModel):
    """A place: a governorate, district, subdistrict or site."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Al-Zuhour community centre",
                    "level": "site",
                    "site_type": "community_centre",
                    "parent_id": "8b3c105f-3813-4b7a-a68a-732d71fe65eb",
                }
            ]
        },
        extra="forbid",
    )

    id: uuid.UUID | None = None
    pcode: str | None = Field(
        default=None, min_length=2, max_length=32, pattern=r"^[A-Z]{2}[A-Z0-9]+$"
    )
    name: Text = Field(min_length=1, max_length=200)
    level: LocationLevel
    site_type: SiteType | None = None
    parent_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _shape(self) -> LocationCreate:
        if self.level == LocationLevel.site and self.site_type is None:
            raise ValueError("a site needs a site_type")
        if self.level != LocationLevel.site and self.site_type is not None:
            raise ValueError("only a site has a site_type")
        if self.level != LocationLevel.governorate and self.parent_id is None:
            raise ValueError("a district or site needs a parent_id")
        return self


class LocationRead(BaseModel):
    """A place with its names in each language."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    pcode: str | None
    name: str = Field(description="In English, as reports and exchanges use it.")
    names: dict[str, str] = Field(
        default_factory=dict, description="Language (en, ar, ckb) -> name."
    )
    label: str = Field(
        default="",
        description="The name in the request's language (lang, else "
        "Accept-Language), English when the tables give none in it.",
    )
    level: LocationLevel
    site_type: SiteType | None
    parent_id: uuid.UUID | None
    created_at: datetime


class GazetteerLoad(BaseModel):
    """A country's administrative units as rows of a COD-AB-shaped table
    (a client reads the CSV or XLSX and sends its rows)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "country": "LY",
                    "mapping": {
                        "levels": {
                            "1": {
                                "pcode": "admin1Pcode",
                                "names": {"en": "admin1Name_en", "ar": "admin1Name_ar"},
                            },
                            "2": {
                                "pcode": "admin2Pcode",
                                "names": {"en": "admin2Name_en", "ar": "admin2Name_ar"},
                            },
                            "3": {
                                "pcode": "admin3Pcode",
                                "names": {"en": "admin3Name_en", "ar": "admin3Name_ar"},
                            },
                        }
                    },
                    "rows": [
                        {
                            "admin3Pcode": "LY01010101",
                            "admin3Name_en": "Souq Aljumaa",
                            "admin3Name_ar": "سوق الجمعة",
                            "admin2Pcode": "LY010101",
                            "admin2Name_en": "Tripoli",
                            "admin2Name_ar": "طرابلس",
                            "admin1Pcode": "LY0101",
                            "admin1Name_en": "West",
                            "admin1Name_ar": "الغرب",
                        },
                        {
                            "admin3Pcode": "LY01010102",
                            "admin3Name_en": "Hai Alandalus",
                            "admin3Name_ar": "حي الأندلس",
                            "admin2Pcode": "LY010101",
                            "admin2Name_en": "Tripoli",
                            "admin2Name_ar": "طرابلس",
                            "admin1Pcode": "LY0101",
                            "admin1Name_en": "West",
                            "admin1Name_ar": "الغرب",
                        },
                    ],
                }
            ]
        },
        extra="forbid",
    )

    country: str = Field(
        pattern=r"^[A-Z]{2}$",
        description="ISO 3166-1 alpha-2 code: every P-code must start with it.",
    )
    mapping: ColumnMapping | None = Field(
        default=None,
        description="Columns per admin level; default: COD-AB's ADMn_PCODE, "
        "ADMn_EN, ADMn_AR for the levels the table has.",
    )
    rows: list[dict[str, str | int | float | None]] = Field(
        min_length=1, max_length=MAX_ROWS
    )


class GazetteerReport(BaseModel):
    """What one load did (kept: a retried request gets it again)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    country: str
    added: int
    renamed: int
    unchanged: int
    by_level: dict[str, int]
    loaded_by: str
    created_at: datetime
