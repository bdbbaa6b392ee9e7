"""The person as stored: a pseudonymous code, PII encrypted with blind indexes
for exact search, and duplicate candidates left for a supervisor. Also what may
leave the service about a person (``beneficiary_facts()``: no PII, birth year
only) and what erasure keeps (``erase_pii()``).
"""

from __future__ import annotations

import secrets
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Index, Text, UniqueConstraint
from sqlmodel import Field

from services.beneficiary.db import Table, organisation_key, same_organisation
from shared.contracts.enums import (
    DisabilityStatus,
    DisplacementStatus,
    MaritalStatus,
    RegistrationChannel,
    Sex,
)
from shared.contracts.events import BeneficiaryFacts
from shared.db import UTCDateTime, utcnow


class Beneficiary(Table, table=True):
    """A registered person. Names, phone and address are stored encrypted;
    the ``*_index`` columns are keyed blind indexes for duplicate detection."""

    __tablename__ = "beneficiary"
    __table_args__ = (
        organisation_key(),
        # duplicate candidates: a bounded range read per new person. The
        # blind index leads, so the key is the only index that starts with
        # the organisation: a foreign key's check (id, organisation) finds
        # the person by the key even under a plan made while the table was
        # empty (docs/decisions/0006-ids-per-organisation.md).
        Index(
            "ix_beneficiary_duplicate_name",
            "name_index",
            "organisation_id",
            "date_of_birth",
        ),
        Index(
            "ix_beneficiary_duplicate_phone",
            "phone_index",
            "organisation_id",
            "created_at",
        ),
        same_organisation("merged_into_id", "beneficiary"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", primary_key=True)
    site_id: uuid.UUID | None = Field(
        default=None, foreign_key="location.id", index=True
    )
    team_id: uuid.UUID | None = Field(
        default=None,
        foreign_key="team.id",
        index=True,
        description="The team that registered the person: a team-scoped "
        "user sees the people its team registered.",
    )
    full_name_enc: str | None = Field(default=None, sa_type=Text)
    phone_enc: str | None = Field(default=None, sa_type=Text)
    address_enc: str | None = Field(default=None, sa_type=Text)
    name_index: str | None = Field(default=None, max_length=64)
    phone_index: str | None = Field(default=None, max_length=64)
    sex: Sex
    date_of_birth: date | None = None
    date_of_birth_estimated: bool = False
    marital_status: MaritalStatus | None = None
    disability: DisabilityStatus
    washington_group: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    displacement_status: DisplacementStatus | None = None
    nationality: str | None = Field(default=None, max_length=3)
    registration_date: date
    registration_channel: RegistrationChannel
    registered_by: str = Field(max_length=255)
    version: int = 1
    pii_erased_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    merged_into_id: uuid.UUID | None = Field(
        default=None,
        description="Set when a supervisor merged this record into another "
        "person's: the record stays for its history, nothing new is written "
        "on it.",
    )
    merged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(
        default_factory=utcnow, sa_type=UTCDateTime, index=True
    )
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DuplicateCandidate(Table, table=True):
    """A likely duplicate flagged at registration, for a supervisor to review."""

    __tablename__ = "duplicate_candidate"
    __table_args__ = (
        UniqueConstraint(
            "beneficiary_id",
            "candidate_id",
            "organisation_id",
            name="uq_duplicate_candidate_pair",
        ),
        same_organisation("beneficiary_id", "beneficiary"),
        same_organisation("candidate_id", "beneficiary"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(index=True)
    beneficiary_id: uuid.UUID = Field(index=True)
    candidate_id: uuid.UUID
    reasons: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_code() -> str:
    """A pseudonymous code; 32^8 values, the unique constraint catches the
    (about one in a trillion) collision. One read of the system's random
    source, not one per character: each byte modulo 32 is uniform (256 is a
    multiple of 32), and eight reads cost more than the rest of a bulk
    registration's row."""
    return "B-" + "".join(CODE_ALPHABET[b % 32] for b in secrets.token_bytes(8))


def erase_pii(beneficiary: Beneficiary) -> None:
    """Drop what identifies the person; keep the facts reports count. The
    code changes too: the old one may be written next to the name on paper."""
    beneficiary.code = new_code()
    beneficiary.full_name_enc = None
    beneficiary.phone_enc = None
    beneficiary.address_enc = None
    beneficiary.name_index = None
    beneficiary.phone_index = None
    if beneficiary.date_of_birth is not None:
        beneficiary.date_of_birth = beneficiary.date_of_birth.replace(month=1, day=1)
        beneficiary.date_of_birth_estimated = True
    beneficiary.pii_erased_at = utcnow()


def beneficiary_facts(beneficiary: Beneficiary) -> BeneficiaryFacts:
    """What other services may know of a beneficiary: no PII, birth year only."""
    return BeneficiaryFacts(
        beneficiary_id=beneficiary.id,
        organisation_id=beneficiary.organisation_id,
        site_id=beneficiary.site_id,
        sex=beneficiary.sex,
        birth_year=beneficiary.date_of_birth.year
        if beneficiary.date_of_birth
        else None,
        marital_status=beneficiary.marital_status,
        disability=beneficiary.disability,
        displacement_status=beneficiary.displacement_status,
        nationality=beneficiary.nationality,
        registration_date=beneficiary.registration_date,
        registration_channel=beneficiary.registration_channel,
        version=beneficiary.version,
        age_at_registration=age_on(
            beneficiary.date_of_birth, beneficiary.registration_date
        ),
    )


def beneficiary_fact_data(columns: dict[str, Any], person: str) -> dict[str, Any]:
    """``beneficiary_facts`` in its JSON form, from a new row's columns
    (``person``: its id as text), built without the model (a bulk writer's
    many people; tests/beneficiary/test_bulk_writer.py compares the two)."""
    born = columns["date_of_birth"]
    site_id = columns["site_id"]
    marital_status = columns["marital_status"]
    displacement_status = columns["displacement_status"]
    registration_date = columns["registration_date"]
    return {
        "beneficiary_id": person,
        "organisation_id": str(columns["organisation_id"]),
        "site_id": None if site_id is None else str(site_id),
        "sex": str(columns["sex"]),
        "birth_year": born.year if born else None,
        "marital_status": None if marital_status is None else str(marital_status),
        "disability": str(columns["disability"]),
        "displacement_status": None
        if displacement_status is None
        else str(displacement_status),
        "nationality": columns["nationality"],
        "registration_date": registration_date.isoformat(),
        "registration_channel": str(columns["registration_channel"]),
        "version": columns["version"],
        "age_at_registration": age_on(born, registration_date),
    }


def age_on(date_of_birth: date | None, on: date) -> int | None:
    if date_of_birth is None:
        return None
    before_birthday = (on.month, on.day) < (date_of_birth.month, date_of_birth.day)
    return on.year - date_of_birth.year - before_birthday
