"""A mapping as data, and what it makes of one submission: a person and/or a
service record with ids derived from the submission's own id, or the reasons
the row is refused. Pure logic: no database, no network."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from services.beneficiary.beneficiaries.schemas import BeneficiaryCreate
from services.beneficiary.sync.schemas import BeneficiaryChange, ServiceRecordChange
from shared.contracts.enums import ConsentPurpose
from shared.contracts.text import Text

PersonField = Literal[
    "full_name",
    "phone",
    "address",
    "sex",
    "date_of_birth",
    "estimated_age",
    "marital_status",
    "disability",
    "displacement_status",
    "nationality",
    "registration_date",
    "registration_channel",
]
ServiceField = Literal[
    "activity_code", "service_date", "modality", "staff_id", "duration_minutes"
]
DATE_FIELDS = {"date_of_birth", "registration_date", "service_date"}
WHOLE_NUMBERS = {"estimated_age", "duration_minutes"}
TYPED_FIELDS = DATE_FIELDS | WHOLE_NUMBERS
SUBMISSION_IDS = ["_uuid", "meta/instanceID", "KEY", "instanceID"]
"""Where KoboToolbox and ODK Central put a submission's own id."""
IMPORT_IDS = uuid.UUID("0b5e1d2c-6a4f-5e57-9c1e-1b0a7e6d1f17")
"""The namespace of imported records' ids: the same submission always gets
the same id, so importing it again changes nothing."""
Column = Text


class ConsentColumn(BaseModel):
    """A consent question, or (no ``field``) a consent every submission of
    the form carries because the form is only filled once it was given."""

    model_config = ConfigDict(extra="forbid")

    purpose: ConsentPurpose
    field: Column | None = Field(default=None, max_length=255)
    granted_values: list[Text] = Field(
        default_factory=lambda: ["yes", "1", "true"], max_length=20
    )
    form_version: Text = Field(min_length=1, max_length=32)


class SiteMapping(BaseModel):
    """Which column names the site, and how: by P-code or by site name, with
    the form's own codes translated first through ``values``."""

    model_config = ConfigDict(extra="forbid")

    field: Column = Field(max_length=255)
    match: Literal["pcode", "name"] = "pcode"
    values: dict[str, Text] = Field(default_factory=dict, max_length=5000)


class PersonMapping(BaseModel):
    """Which form fields become a person, and with which consents."""

    model_config = ConfigDict(extra="forbid")

    fields: dict[PersonField, Column] = Field(
        description="Platform field -> the form's column (group/question)."
    )
    choices: dict[PersonField, dict[str, Text]] = Field(
        default_factory=dict,
        description="Per platform field: the form's choice name -> the "
        "platform's value. A value absent here is refused.",
    )
    constants: dict[PersonField, Text | int] = Field(default_factory=dict)
    consents: list[ConsentColumn] = Field(default_factory=list, max_length=10)


class ServiceMapping(BaseModel):
    """Which form fields become a service record, and when a row is one."""

    model_config = ConfigDict(extra="forbid")

    fields: dict[ServiceField, Column]
    choices: dict[ServiceField, dict[str, Text]] = Field(default_factory=dict)
    constants: dict[ServiceField, Text | int] = Field(default_factory=dict)
    when: Column | None = Field(
        default=None,
        max_length=255,
        description="A row records a service only when this column has a "
        "value (none: every row).",
    )
    person: Column | None = Field(
        default=None,
        max_length=255,
        description="A column holding the submission id of the person's "
        "registration in another form; none: the person of the same row.",
    )


class MappingSpec(BaseModel):
    """Form field -> platform field, choices -> vocabularies, P-codes or
    names -> sites, date formats, and what each row is."""

    model_config = ConfigDict(extra="forbid")

    submission_id: list[Column] = Field(
        default_factory=lambda: list(SUBMISSION_IDS), min_length=1, max_length=10
    )
    date_formats: list[Text] = Field(
        default_factory=lambda: ["%Y-%m-%d"], min_length=1, max_length=10
    )
    sites: SiteMapping | None = None
    person: PersonMapping | None = None
    service: ServiceMapping | None = None

    @model_validator(mode="after")
    def _makes_something(self) -> MappingSpec:
        if self.person is None and self.service is None:
            raise ValueError("map people, services or both")
        if self.service is not None and self.person is None and not self.service.person:
            raise ValueError("services without people need service.person")
        return self


class PersonChange(BeneficiaryChange):
    """A person's change, with room for its registration validated ahead
    (``sync.service.registration`` takes it)."""

    _registration: BeneficiaryCreate | None = PrivateAttr(default=None)


@dataclass
class Refusal:
    row_number: int
    field: str
    reason: str


@dataclass
class Converted:
    """One submission as platform records, or why it is refused."""

    row_number: int
    person: PersonChange | None = None
    service: ServiceRecordChange | None = None
    refusals: list[Refusal] = field(default_factory=list)


@dataclass(frozen=True)
class Sites:
    """The platform's sites by P-code and by name (lower case)."""

    by_pcode: Mapping[str, uuid.UUID]
    by_name: Mapping[str, uuid.UUID]


def record_id(organisation_id: uuid.UUID, kind: str, submission: str) -> uuid.UUID:
    """A record's id from its submission's own id (``uuid:`` prefix or not):
    ``uuid5(IMPORT_IDS, f"{organisation_id}:{kind}:{submission}")``, its hash
    begun once per organisation and kind (four ids a row: ``uuid5`` cost a
    tenth of the mapping)."""
    digest = _id_prefix(organisation_id, kind).copy()
    digest.update(submission.strip().removeprefix("uuid:").encode())
    return uuid.UUID(bytes=digest.digest()[:16], version=5)


@lru_cache(maxsize=256)
def _id_prefix(organisation_id: uuid.UUID, kind: str) -> Any:
    return hashlib.sha1(
        IMPORT_IDS.bytes + f"{organisation_id}:{kind}:".encode(),
        usedforsecurity=False,
    )


def lookup(row: Mapping[str, Any], column: str) -> Any:
    """A column as KoboToolbox (``group/question``) or ODK Central
    (``group-question``) exports it, or by its question name alone."""
    if column in row:
        value = row[column]
    elif (dashed := column.replace("/", "-")) in row:
        value = row[dashed]
    else:
        name = column.rsplit("/", 1)[-1]
        found = [k for k in row if k.replace("-", "/").rsplit("/", 1)[-1] == name]
        if len(found) != 1:
            return None
        value = row[found[0]]
    if isinstance(value, str):
        return value.strip() or None
    return value


class _Refused(Exception):
    def __init__(self, column: str, reason: str) -> None:
        self.column, self.reason = column, reason


def _as_date(value: Any, formats: list[str], column: str) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return _parse_date(str(value), tuple(formats), column)


@lru_cache(maxsize=10_000)
def _parse_date(text: str, formats: tuple[str, ...], column: str) -> str:
    """Kept by text and formats: an export repeats the same few hundred days,
    and ``strptime`` costs more than the rest of a row's values (a refusal
    is raised again each time, never kept)."""
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt).date().isoformat()  # noqa: DTZ007
        except ValueError:
            continue
    try:  # Kobo's _submission_time, ODK's SubmissionDate
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        raise _Refused(
            column, f"not a date in the mapping's formats ({', '.join(formats)})"
        ) from None


def _as_whole(value: Any, column: str) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _Refused(column, "not a number") from None
    if number != int(number):
        raise _Refused(column, "not a whole number")
    return int(number)


CODE_LIKE = re.compile(r"[A-Za-z0-9_.\-]{1,40}")
"""What a choice name or a P-code looks like in XLSForm and COD tables."""


def shown(value: str) -> str:
    """A refused value as a refusal may show it: refusals are kept
    unencrypted, so only a code-like value is named (a free-text answer
    mapped as a choice by mistake could hold a name or a story)."""
    if CODE_LIKE.fullmatch(value):
        return repr(value)
    return "(not shown: it is not a code)"


def _values(
    row: Mapping[str, Any],
    fields: Mapping[Any, str],
    choices: Mapping[Any, Mapping[str, str]],
    constants: Mapping[Any, Any],
    date_formats: list[str],
) -> dict[str, Any]:
    """The platform fields of one row; raises ``_Refused`` at the first
    value that cannot be mapped (its column and why, never its content
    unless it is code-like: see ``shown``)."""
    out: dict[str, Any] = {str(k): v for k, v in constants.items()}
    for target, column in fields.items():
        value = lookup(row, column)
        if value is None:
            continue
        if isinstance(value, list | dict):
            raise _Refused(column, "a repeat group or nested answer, not one value")
        if target in choices:
            known = choices[target]
            name = str(value).strip()
            if name in known:
                value = known[name]
            elif name not in known.values():
                raise _Refused(column, f"unknown choice {shown(name)} for {target}")
        elif target in DATE_FIELDS:
            value = _as_date(value, date_formats, column)
        elif target in WHOLE_NUMBERS:
            value = _as_whole(value, column)
        elif isinstance(value, float) and value == int(value):
            value = str(int(value))  # a phone number or staff id read as a number
        out[target] = value if target in TYPED_FIELDS else str(value)
    return out


def _site(row: Mapping[str, Any], spec: SiteMapping | None, sites: Sites) -> Any:
    if spec is None:
        return None
    value = lookup(row, spec.field)
    if value is None:
        return None
    code = str(value).strip()
    code = spec.values.get(code, code)
    found = (
        sites.by_pcode.get(code)
        if spec.match == "pcode"
        else sites.by_name.get(code.lower())
    )
    if found is None:
        raise _Refused(spec.field, f"no site with {spec.match} {shown(code)}")
    return str(found)


def _consents(
    row: Mapping[str, Any],
    columns: list[ConsentColumn],
    organisation_id: uuid.UUID,
    submission: str,
) -> list[dict[str, Any]]:
    given = []
    for consent in columns:
        granted = True
        if consent.field is not None:
            answer = lookup(row, consent.field)
            if answer is None:
                continue
            granted = str(answer).strip().lower() in {
                v.lower() for v in consent.granted_values
            }
        given.append(  # validated with the person's change (ConsentGiven)
            {
                "id": record_id(
                    organisation_id, f"consent:{consent.purpose}", submission
                ),
                "purpose": consent.purpose,
                "granted": granted,
                "form_version": consent.form_version,
            }
        )
    return given


def convert(
    spec: MappingSpec,
    row: Mapping[str, Any],
    row_number: int,
    organisation_id: uuid.UUID,
    sites: Sites,
) -> Converted:
    """One submission as a sync change per record it maps to."""
    out = Converted(row_number)
    submission = next(
        (str(v) for c in spec.submission_id if (v := lookup(row, c)) is not None),
        None,
    )
    if submission is None:
        out.refusals.append(
            Refusal(row_number, spec.submission_id[0], "no submission id")
        )
        return out
    try:
        site_id = _site(row, spec.sites, sites)
        person_id = record_id(organisation_id, "person", submission)
        if spec.person is not None:
            data = _values(
                row,
                spec.person.fields,
                spec.person.choices,
                spec.person.constants,
                spec.date_formats,
            )
            out.person = _change(
                PersonChange,
                row_number,
                {
                    "id": person_id,
                    "data": {"site_id": site_id, **data},
                    "consents": _consents(
                        row, spec.person.consents, organisation_id, submission
                    ),
                },
                out.refusals,
            )
        service = spec.service
        if service is not None and (
            service.when is None or lookup(row, service.when) is not None
        ):
            if service.person is not None:
                registered = lookup(row, service.person)
                if registered is None:
                    raise _Refused(service.person, "no person named")
                person_id = record_id(organisation_id, "person", str(registered))
            data = _values(
                row,
                service.fields,
                service.choices,
                service.constants,
                spec.date_formats,
            )
            out.service = _change(
                ServiceRecordChange,
                row_number,
                {
                    "id": record_id(organisation_id, "service", submission),
                    "data": {"beneficiary_id": person_id, "site_id": site_id, **data},
                },
                out.refusals,
            )
    except _Refused as refused:
        out.refusals.append(Refusal(row_number, refused.column, refused.reason))
    if out.refusals:
        out.person = out.service = None
    return out


def _change(
    model: type[Any], row_number: int, content: dict[str, Any], refusals: list[Refusal]
) -> Any:
    """The change validated as sync validates it; errors become refusals
    naming the platform field."""
    try:
        return model.model_validate(content)
    except ValidationError as exc:
        for error in exc.errors():
            loc = [str(p) for p in error["loc"] if p != "data"]
            refusals.append(
                Refusal(row_number, ".".join(loc) or "row", error["msg"][:500])
            )
        return None
