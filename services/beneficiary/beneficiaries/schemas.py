"""Request and response models for people: the fields a registration records
(also the full state an offline sync sends), a partial update, a list row
without PII, and the full read. Dates that cannot be true (future, records
before 1990, births before 1900) are refused before anything is written.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from services.beneficiary.consent.schemas import ConsentEntryRead, ConsentGiven
from shared.contracts.enums import (
    ConsentPurpose,
    DisabilityStatus,
    DisplacementStatus,
    MaritalStatus,
    RegistrationChannel,
    Sex,
    WashingtonGroupAnswer,
)
from shared.contracts.text import Text
from shared.db import utcnow

OLDEST_BIRTH_YEAR = 1900
EARLIEST_RECORD = date(1990, 1, 1)
Name = Annotated[
    Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
]
Phone = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, max_length=32, pattern=r"^\+?[\d\s\-().٠-٩]{6,32}$"
    ),
]
Address = Annotated[Text, StringConstraints(strip_whitespace=True, max_length=500)]
Nationality = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{3}$"),
    Field(description="ISO 3166-1 alpha-3"),
]


def _not_future(value: date) -> date:
    if value > utcnow().date():
        raise ValueError("must not be in the future")
    return value


def _record_date(value: date) -> date:
    if value < EARLIEST_RECORD:
        raise ValueError(f"must not be before {EARLIEST_RECORD}")
    return _not_future(value)


PastDate = Annotated[date, AfterValidator(_not_future)]
RecordDate = Annotated[
    date,
    AfterValidator(_record_date),
    Field(description="A date the programme recorded: 1990 or later, not future."),
]


class WashingtonGroupShortSet(BaseModel):
    """The six questions of the Washington Group Short Set on Functioning."""

    model_config = ConfigDict(extra="forbid")

    seeing: WashingtonGroupAnswer
    hearing: WashingtonGroupAnswer
    walking: WashingtonGroupAnswer
    remembering: WashingtonGroupAnswer
    self_care: WashingtonGroupAnswer
    communicating: WashingtonGroupAnswer

    def disability(self) -> DisabilityStatus:
        """The WG cut-off: at least one domain 'a lot of difficulty' or worse."""
        answers = list(self.model_dump().values())
        severe = {
            WashingtonGroupAnswer.a_lot_of_difficulty,
            WashingtonGroupAnswer.cannot_do_at_all,
        }
        if any(a in severe for a in answers):
            return DisabilityStatus.yes
        if WashingtonGroupAnswer.refused in answers:
            return DisabilityStatus.not_disclosed
        return DisabilityStatus.no


class BeneficiaryFields(BaseModel):
    """Everything a registration records; also the full state a sync sends."""

    model_config = ConfigDict(extra="forbid")

    full_name: Name | None = Field(
        default=None, description="Required, except on a record whose PII was erased."
    )
    phone: Phone | None = None
    address: Address | None = None
    sex: Sex
    date_of_birth: PastDate | None = None
    estimated_age: int | None = Field(
        default=None,
        ge=0,
        le=120,
        description="Age in years when no birth date is known.",
    )
    marital_status: MaritalStatus | None = None
    disability: DisabilityStatus | None = Field(
        default=None, description="Derived from washington_group when that is given."
    )
    washington_group: WashingtonGroupShortSet | None = None
    displacement_status: DisplacementStatus | None = None
    nationality: Nationality | None = None
    site_id: uuid.UUID | None = None
    registration_date: RecordDate = Field(default_factory=lambda: utcnow().date())
    registration_channel: RegistrationChannel

    @model_validator(mode="after")
    def _consistent(self) -> BeneficiaryFields:
        if (self.date_of_birth is None) == (self.estimated_age is None):
            raise ValueError("give exactly one of date_of_birth and estimated_age")
        if self.date_of_birth is not None:
            if self.date_of_birth.year < OLDEST_BIRTH_YEAR:
                raise ValueError(f"date_of_birth before {OLDEST_BIRTH_YEAR}")
            if self.date_of_birth > self.registration_date:
                raise ValueError("date_of_birth is after registration_date")
        if self.washington_group is not None:
            derived = self.washington_group.disability()
            if self.disability not in (None, derived):
                raise ValueError(
                    f"disability contradicts the Washington Group answers ({derived})"
                )
            self.disability = derived
        elif self.disability is None:
            self.disability = DisabilityStatus.not_disclosed
        return self


class BeneficiaryCreate(BeneficiaryFields):
    """A person to register, with the consents they gave."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
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
                    "id": "81bb90a8-efe9-49dc-ae33-a9fddce37fce",
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
            ]
        }
    )

    id: uuid.UUID | None = Field(
        default=None,
        description="Client-generated id (offline apps); else the server's.",
    )
    consents: list[ConsentGiven] = Field(
        min_length=1,
        description="Must include registration consent granted; without it "
        "only anonymous counts may be kept.",
    )

    @model_validator(mode="after")
    def _registration_consent(self) -> BeneficiaryCreate:
        if self.full_name is None:
            raise ValueError("full_name is required to register someone")
        purposes = [c.purpose for c in self.consents]
        if len(purposes) != len(set(purposes)):
            raise ValueError("one consent entry per purpose")
        if not any(
            c.purpose == ConsentPurpose.registration and c.granted
            for c in self.consents
        ):
            raise ValueError(
                "registration needs consent to registration; record an "
                "anonymous service count instead"
            )
        return self


class BeneficiaryUpdate(BaseModel):
    """A partial update (PATCH); send the version you edited in If-Match."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"phone": "+964 750 123 4567", "address": "House 12, Al-Zuhour, Mosul"}
            ]
        },
        extra="forbid",
    )

    full_name: Name | None = None
    phone: Phone | None = None
    address: Address | None = None
    sex: Sex | None = None
    date_of_birth: PastDate | None = None
    estimated_age: int | None = Field(default=None, ge=0, le=120)
    marital_status: MaritalStatus | None = None
    disability: DisabilityStatus | None = None
    washington_group: WashingtonGroupShortSet | None = None
    displacement_status: DisplacementStatus | None = None
    nationality: Nationality | None = None
    site_id: uuid.UUID | None = None
    registration_channel: RegistrationChannel | None = None


class BeneficiarySummary(BaseModel):
    """A list row: no names, phones or addresses."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "de10058e-c4b4-45b6-a1a8-ab22a4b6320d",
                    "code": "B-357XVNAQ",
                    "organisation_id": "9388e81b-8c2d-4671-8b8b-87e34191e694",
                    "site_id": "faaed83d-796b-484f-a1ac-8efd439dceda",
                    "sex": "female",
                    "age": 39,
                    "registration_date": "2026-01-10",
                    "version": 1,
                }
            ]
        },
        from_attributes=True,
    )

    id: uuid.UUID
    code: str
    organisation_id: uuid.UUID
    site_id: uuid.UUID | None
    sex: Sex
    age: int | None
    registration_date: date
    version: int


class BeneficiaryRead(BaseModel):
    """A registered person as their organisation holds them."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "9e3c5d22-0875-408f-9337-f27cabfed186",
                    "code": "B-Z5PZTDGM",
                    "organisation_id": "9388e81b-8c2d-4671-8b8b-87e34191e694",
                    "site_id": "faaed83d-796b-484f-a1ac-8efd439dceda",
                    "full_name": "Omar Khalil",
                    "phone": "+964 750 123 4567",
                    "address": "House 12, Al-Zuhour, Mosul",
                    "sex": "male",
                    "date_of_birth": "1979-10-28",
                    "date_of_birth_estimated": False,
                    "age": 47,
                    "marital_status": "married",
                    "disability": "no",
                    "washington_group": None,
                    "displacement_status": "idp",
                    "nationality": "IRQ",
                    "registration_date": "2026-01-10",
                    "registration_channel": "outreach",
                    "consents": {
                        "registration": {
                            "id": "d755842f-08f9-4dc5-9345-847cfe044cdc",
                            "purpose": "registration",
                            "granted": True,
                            "form_version": "2024-1",
                            "agency": None,
                            "recorded_by": "alice",
                            "recorded_at": "2026-01-10T09:12:32.736279Z",
                        },
                        "services": {
                            "id": "417e8970-03f4-4df7-a2ee-a687eb15edf0",
                            "purpose": "services",
                            "granted": True,
                            "form_version": "2024-1",
                            "agency": None,
                            "recorded_by": "alice",
                            "recorded_at": "2026-01-10T09:12:32.740662Z",
                        },
                    },
                    "consent_version": 2,
                    "possible_duplicates": [],
                    "pii_erased": False,
                    "version": 2,
                    "created_at": "2026-01-10T09:12:32.733537Z",
                    "updated_at": "2026-01-10T09:12:32.942040Z",
                }
            ]
        }
    )

    id: uuid.UUID
    code: str = Field(description="Pseudonymous code, safe to write on paper forms.")
    organisation_id: uuid.UUID
    site_id: uuid.UUID | None
    full_name: str | None
    phone: str | None
    address: str | None
    sex: Sex
    date_of_birth: date | None
    date_of_birth_estimated: bool
    age: int | None
    marital_status: MaritalStatus | None
    disability: DisabilityStatus
    washington_group: WashingtonGroupShortSet | None
    displacement_status: DisplacementStatus | None
    nationality: str | None
    registration_date: date
    registration_channel: RegistrationChannel
    consents: dict[ConsentPurpose, ConsentEntryRead] = Field(
        description="The entry in force for each purpose."
    )
    consent_version: int = Field(
        description="The consent ledger's version (its newest entry's number); "
        "send it back as consent_version in sync."
    )
    possible_duplicates: list[uuid.UUID]
    pii_erased: bool
    merged_into_id: uuid.UUID | None = Field(
        default=None,
        description="Set when a supervisor merged this record into another "
        "person's: read and write that person instead.",
    )
    version: int
    created_at: datetime
    updated_at: datetime
