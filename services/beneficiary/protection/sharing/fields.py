"""The beneficiary fields a data-sharing agreement may name, and how each is
read off a record.

The list is an allow-list: a field that is not here can never leave under an
agreement, whatever an agreement says. Left out on purpose: consent, cases,
assessments, referrals, notes (mental health data), the Washington Group
answers (detailed functioning), the internal id, blind indexes and the staff
who registered the person.

Identifying fields (``IDENTIFYING``) name or reach the person directly: their
name, phone, address, exact birth date, and the organisation's own code,
which is written on their card and paper forms. Every other field is a
quasi-identifier: harmless alone, identifying in combination (a young widow
in one small camp), so an agreement should name as few as its purpose needs.

``pseudonym`` is the partner's id for a person: HMAC-SHA256 of the person's
id under a random secret of the agreement (``pseudonym_salt``). It is stable
across exports under one agreement (the partner can match updates), and key
rotation does not change it; it differs for every agreement, so two partners
cannot join their files on it, and only the service, holding the secret and
the ids, can link it back to a record. The secret is not under the PII keys:
someone holding the database could link a partner's file to its rows, but
they would hold those rows already."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from services.beneficiary.beneficiaries.models import Beneficiary, age_on
from services.beneficiary.locations.models import Location
from shared.contracts.enums import LocationLevel
from shared.crypto import KeyRing

Value = str | int | None


class SharedField(StrEnum):
    """A field an agreement may name; see the module docstring for which
    identify a person."""

    pseudonym = "pseudonym"
    beneficiary_code = "beneficiary_code"
    full_name = "full_name"
    phone = "phone"
    address = "address"
    date_of_birth = "date_of_birth"
    sex = "sex"
    birth_year = "birth_year"
    age_group = "age_group"
    marital_status = "marital_status"
    disability = "disability"
    displacement_status = "displacement_status"
    nationality = "nationality"
    governorate_pcode = "governorate_pcode"
    district_pcode = "district_pcode"
    site_pcode = "site_pcode"
    site_name = "site_name"
    registration_date = "registration_date"
    registration_channel = "registration_channel"


IDENTIFYING = frozenset(
    {
        SharedField.beneficiary_code,
        SharedField.full_name,
        SharedField.phone,
        SharedField.address,
        SharedField.date_of_birth,
    }
)


ENCRYPTED = frozenset({SharedField.full_name, SharedField.phone, SharedField.address})


LOCATION_FIELDS = frozenset(
    {
        SharedField.governorate_pcode,
        SharedField.district_pcode,
        SharedField.site_pcode,
        SharedField.site_name,
    }
)


AGE_GROUPS: tuple[tuple[int, int | None], ...] = (
    (0, 4),
    (5, 11),
    (12, 17),
    (18, 59),
    (60, None),
)
"""The humanitarian sex-and-age bands; labels ``0_4`` ... ``60_plus``."""


def identifying(fields: Iterable[str]) -> list[str]:
    """Which of ``fields`` identify a person directly (in their order)."""
    return [f for f in fields if f in IDENTIFYING]


def age_group(age: int | None) -> str | None:
    if age is None:
        return None
    for low, high in AGE_GROUPS:
        if high is None or age <= high:
            return f"{low}_plus" if high is None else f"{low}_{high}"
    return None  # pragma: no cover - the last band is open


@dataclass(frozen=True)
class ShareContext:
    """What reading a record needs besides the record: the agreement's
    secret (for pseudonyms), the keys (for PII), the day of the export (for
    ages) and the locations (for P-codes)."""

    pseudonym_salt: str
    keyring: KeyRing
    today: date
    locations: Mapping[uuid.UUID, Location]

    def pseudonym(self, beneficiary_id: uuid.UUID) -> str:
        digest = hmac.new(
            bytes.fromhex(self.pseudonym_salt), beneficiary_id.bytes, hashlib.sha256
        )
        return "P-" + digest.hexdigest()[:32]

    def decrypt(self, beneficiary: Beneficiary, field: SharedField) -> str | None:
        """A PII column, opened with the same context binding the beneficiary
        module seals it with (``beneficiary:<id>:<field>``)."""
        return self.keyring.decrypt(
            getattr(beneficiary, f"{field}_enc"),
            f"beneficiary:{beneficiary.id}:{field}",
        )

    def place(self, site_id: uuid.UUID | None, level: LocationLevel) -> Location | None:
        """The site, or the district or governorate it lies in."""
        location = self.locations.get(site_id) if site_id else None
        while location is not None and location.level != level:
            parent = location.parent_id
            location = self.locations.get(parent) if parent else None
        return location


def _pcode(level: LocationLevel) -> Callable[[Beneficiary, ShareContext], Value]:
    def read(b: Beneficiary, ctx: ShareContext) -> Value:
        location = ctx.place(b.site_id, level)
        return location.pcode if location else None

    return read


def _encrypted(field: SharedField) -> Callable[[Beneficiary, ShareContext], Value]:
    def read(b: Beneficiary, ctx: ShareContext) -> Value:
        return ctx.decrypt(b, field)

    return read


def _site_name(b: Beneficiary, ctx: ShareContext) -> Value:
    site = ctx.place(b.site_id, LocationLevel.site)
    return site.name if site else None


def _date_of_birth(b: Beneficiary, ctx: ShareContext) -> Value:
    """Only a known birth date: one derived from an estimated age would
    pass a guess off as a fact."""
    if b.date_of_birth is None or b.date_of_birth_estimated:
        return None
    return b.date_of_birth.isoformat()


READERS: dict[SharedField, Callable[[Beneficiary, ShareContext], Value]] = {
    SharedField.pseudonym: lambda b, ctx: ctx.pseudonym(b.id),
    SharedField.beneficiary_code: lambda b, ctx: b.code,
    SharedField.full_name: _encrypted(SharedField.full_name),
    SharedField.phone: _encrypted(SharedField.phone),
    SharedField.address: _encrypted(SharedField.address),
    SharedField.date_of_birth: _date_of_birth,
    SharedField.sex: lambda b, ctx: str(b.sex),
    SharedField.birth_year: lambda b, ctx: (
        b.date_of_birth.year if b.date_of_birth else None
    ),
    SharedField.age_group: lambda b, ctx: age_group(age_on(b.date_of_birth, ctx.today)),
    SharedField.marital_status: lambda b, ctx: b.marital_status,
    SharedField.disability: lambda b, ctx: str(b.disability),
    SharedField.displacement_status: lambda b, ctx: b.displacement_status,
    SharedField.nationality: lambda b, ctx: b.nationality,
    SharedField.governorate_pcode: _pcode(LocationLevel.governorate),
    SharedField.district_pcode: _pcode(LocationLevel.district),
    SharedField.site_pcode: _pcode(LocationLevel.site),
    SharedField.site_name: _site_name,
    SharedField.registration_date: lambda b, ctx: b.registration_date.isoformat(),
    SharedField.registration_channel: lambda b, ctx: str(b.registration_channel),
}


def shared_record(
    beneficiary: Beneficiary, fields: Iterable[str], ctx: ShareContext
) -> dict[str, Value]:
    """The agreed fields of one person, and nothing else; PII is decrypted
    only when a field asks for it."""
    return {field: READERS[SharedField(field)](beneficiary, ctx) for field in fields}
