"""The rules for registering and keeping a person: the caller's scope (another
organisation's person is a 404, another site's too unless a break-the-glass
grant opens it), PII encrypted with blind indexes, duplicates flagged by
comparing indexes, never plaintext, and the ``beneficiary.*`` events. Functions
flush; the handler commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlalchemy import and_, bindparam, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select
from sqlmodel import col

from services.beneficiary.beneficiaries.models import (
    Beneficiary,
    DuplicateCandidate,
    age_on,
    beneficiary_fact_data,
    beneficiary_facts,
    new_code,
)
from services.beneficiary.beneficiaries.schemas import (
    BeneficiaryCreate,
    BeneficiaryFields,
    BeneficiaryRead,
    BeneficiarySummary,
    BeneficiaryUpdate,
    WashingtonGroupShortSet,
)
from services.beneficiary.cases.models import Case
from services.beneficiary.consent import service as consent_service
from services.beneficiary.consent.schemas import ConsentEntryRead
from services.beneficiary.db import OutboxEvent
from services.beneficiary.interventions.models import Enrolment
from services.beneficiary.locations import service as locations_service
from services.beneficiary.organisations.models import Organisation
from services.beneficiary.protection.grants import service as grants
from services.beneficiary.referrals.models import Referral
from services.beneficiary.risk.models import RiskAlert
from shared.auth import Principal
from shared.bulk import answered, collecting
from shared.contracts.enums import ConsentPurpose
from shared.contracts.events import EventType
from shared.crypto import KeyRing, normalise_name, normalise_phone
from shared.db import get_cached, new_id, new_row, pin, utcnow
from shared.errors import (
    Conflict,
    FieldError,
    Forbidden,
    Invalid,
    NotFound,
    VersionConflict,
)
from shared.outbox import add_event
from shared.pagination import Page, aware_datetime, keyset_page
from shared.scoping import get_in_scope, within_scope

PII_FIELDS = ("full_name", "phone", "address")
S = TypeVar("S", bound=Select[Any])


def scoped(statement: S, principal: Principal) -> S:
    """Every read of beneficiaries starts here: own organisation, own sites,
    and for a team-scoped user the people its team registered."""
    statement = statement.where(
        col(Beneficiary.organisation_id) == principal.organisation_id
    )
    if principal.site_ids is not None:
        statement = statement.where(col(Beneficiary.site_id).in_(principal.site_ids))
    if principal.team_id is not None:
        statement = statement.where(col(Beneficiary.team_id) == principal.team_id)
    return statement


async def get_beneficiary(
    session: AsyncSession,
    principal: Principal,
    beneficiary_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> Beneficiary:
    """One beneficiary in the caller's scope; anyone else's is a 404.

    ``for_update`` locks the row (edits check its version); a plain read may be
    served from the session when the row was loaded earlier in the request
    (``get_cached`` keeps what it reads: only a locked read is kept here)."""
    beneficiary = await get_in_scope(
        session,
        principal,
        Beneficiary,
        beneficiary_id,
        what="beneficiary",
        for_update=for_update,
        cached=True,
        beyond_sites=grants.granted,
    )
    if for_update:
        refuse_merged(beneficiary)
        pin(session, beneficiary)
    return beneficiary


async def lock_consenting(
    session: AsyncSession,
    principal: Principal,
    beneficiary_id: uuid.UUID,
    *purposes: ConsentPurpose,
) -> Beneficiary:
    """``get_beneficiary(for_update=True)`` then ``require_consent`` for
    ``purposes``: a new record about one person. On PostgreSQL the statement
    that locks them also reads their organisation (kept for ``get_cached``).

    The ledger is read by a statement of its own, after the lock is held:
    a statement that waits for a row lock sees only that row again, not
    what its subqueries read, so a withdrawal committed while this request
    waited would be missed."""
    if session.get_bind().dialect.name != "postgresql":
        person = await get_beneficiary(
            session, principal, beneficiary_id, for_update=True
        )
    else:
        row = (
            await session.execute(
                _LOCK_WITH_ORGANISATION,
                {"row_id": beneficiary_id, "org": principal.organisation_id},
            )
        ).one_or_none()
        if row is None or not await within_scope(
            session, principal, row[0], beyond_sites=grants.granted
        ):
            raise NotFound("No such beneficiary.")
        person, organisation = row[0], row[1]
        refuse_merged(person)
        pin(session, person)
        if organisation is not None:
            pin(session, organisation)
    await consent_service.require_consent(
        session, person.organisation_id, [person.id], *purposes
    )
    return person


_LOCK_WITH_ORGANISATION = (
    select(Beneficiary, Organisation)
    .outerjoin(Organisation, col(Organisation.id) == col(Beneficiary.organisation_id))
    .where(
        col(Beneficiary.id) == bindparam("row_id"),
        col(Beneficiary.organisation_id) == bindparam("org"),
    )
    .with_for_update(of=Beneficiary)
)
"""``lock_consenting``'s statement, built once."""


def refuse_merged(beneficiary: Beneficiary) -> None:
    """A record merged into another person's takes no new write: the 409
    names the person kept, where the write belongs now."""
    if beneficiary.merged_into_id is not None:
        raise Conflict(
            "This record was merged into another person's record; write there.",
            current={"merged_into_id": str(beneficiary.merged_into_id)},
        )


async def team_of(session: AsyncSession, row: Any) -> uuid.UUID | None:
    """The team of the person a row (a case, a referral) is about: a
    team-scoped user sees what concerns the people its team registered."""
    person = await get_cached(
        session, Beneficiary, (row.organisation_id, row.beneficiary_id)
    )
    return person.team_id if person is not None else None


def team_people(principal: Principal) -> Any:
    """The ids of the people a team-scoped caller's team registered."""
    return select(col(Beneficiary.id)).where(
        col(Beneficiary.organisation_id) == principal.organisation_id,
        col(Beneficiary.team_id) == principal.team_id,
    )


def in_team(statement: S, principal: Principal, model: Any) -> S:
    """A list of rows about people (cases, referrals ...) cut to the
    people of a team-scoped caller's team."""
    if principal.team_id is None:
        return statement
    return statement.where(col(model.beneficiary_id).in_(team_people(principal)))


def in_scope(beneficiary: Beneficiary, principal: Principal) -> bool:
    """The same rule as ``scoped``, for a row already in hand."""
    return (
        beneficiary.organisation_id == principal.organisation_id
        and principal.can_see_site(beneficiary.site_id)
        and principal.can_see_team(beneficiary.team_id)
    )


async def check_site_in_scope(
    session: AsyncSession, principal: Principal, site_id: uuid.UUID | None
) -> None:
    await locations_service.require_site(session, site_id, ["body", "site_id"])
    if not principal.can_see_site(site_id):
        raise Forbidden("You may only record people at the sites you work at.")


async def check_move(
    session: AsyncSession,
    principal: Principal,
    beneficiary: Beneficiary,
    site_id: uuid.UUID | None,
) -> None:
    """A person moves from a site of the caller's own scope to another of
    theirs. A break-glass grant opens one person's file for a while; moving
    them into the holder's sites would keep it open for ever, their cases,
    referrals and alerts following."""
    if site_id == beneficiary.site_id:
        return
    if not in_scope(beneficiary, principal):
        raise Forbidden(
            "Only staff of the person's current site may move them to another "
            "site; a break-glass grant does not."
        )
    await check_site_in_scope(session, principal, site_id)


async def register_beneficiary(
    session: AsyncSession,
    principal: Principal,
    keyring: KeyRing,
    data: BeneficiaryCreate,
) -> Beneficiary:
    """Register a consenting person; flag likely duplicates by blind index."""
    beneficiary = await stage_registration(session, principal, keyring, data)
    await flag_duplicates(session, keyring, [(beneficiary, data)])
    await session.flush()
    pin(session, beneficiary)
    return beneficiary


async def stage_registration(
    session: AsyncSession,
    principal: Principal,
    keyring: KeyRing,
    data: BeneficiaryCreate,
    *,
    id_free: bool = False,
) -> Beneficiary:
    """Every check of a registration, then the person, the event and the new
    consent ledger added to the session unflushed, or, while a bulk writer
    collects (a sync batch, an import), added to its rows: the person is then
    returned unattached, for ``shared.bulk.attach`` once written. Consent
    entries with client ids are looked up first. ``id_free``: the caller
    found no person with ``data.id`` a moment ago (a bulk writer looks each
    id up before it stages the record)."""
    rows = collecting(session)
    await answered(  # a batch's people: each site checked once
        None if rows is None else rows.answers,
        ("site", data.site_id),
        lambda: check_site_in_scope(session, principal, data.site_id),
    )
    beneficiary_id = data.id or new_id()
    if (
        data.id is not None
        and not id_free
        and await get_cached(session, Beneficiary, (principal.organisation_id, data.id))
        is not None
    ):
        raise Conflict("A beneficiary with this id exists already.")
    await consent_service.check_new_ledger(
        session, principal.organisation_id, data.consents
    )
    person = str(beneficiary_id)  # made once: the events and contexts name it
    now = utcnow()
    columns: dict[str, Any] = {
        "id": beneficiary_id,
        "code": new_code(),
        "organisation_id": principal.organisation_id,
        "registered_by": principal.subject,
        "team_id": principal.team_id,
        "created_at": now,  # given, not defaulted: a default factory costs more
        "updated_at": now,
        "version": 1,
        "pii_erased_at": None,
        "merged_into_id": None,
        "merged_at": None,
        **_columns(data, keyring, beneficiary_id, person),
    }
    if rows is not None:  # a bulk writer's batch: a plain row (attached once written)
        rows.add(Beneficiary.__table__, columns)  # type: ignore[attr-defined]
        beneficiary = new_row(Beneficiary, **columns)
        add_event(  # the facts' JSON read from the columns, without a model
            session,
            OutboxEvent,
            type=EventType.beneficiary_registered,
            organisation_id=principal.organisation_id,
            entity_type="beneficiary",
            entity_id=beneficiary_id,
            facts=beneficiary_fact_data(columns, person),
        )
    else:
        beneficiary = Beneficiary(**columns)
        session.add(beneficiary)
        _emit(session, beneficiary, EventType.beneficiary_registered)
    consent_service.start_ledger(
        session, principal, beneficiary, data.consents, person=person
    )
    return beneficiary


async def update_beneficiary(
    session: AsyncSession,
    principal: Principal,
    keyring: KeyRing,
    beneficiary_id: uuid.UUID,
    data: BeneficiaryUpdate,
    expected_version: int,
) -> Beneficiary:
    """Apply a partial edit made on ``expected_version``; a stale edit is a 409
    that carries the server's copy."""
    beneficiary = await get_beneficiary(
        session, principal, beneficiary_id, for_update=True
    )
    if beneficiary.version != expected_version:
        current = await to_read(session, keyring, beneficiary, principal)
        raise VersionConflict(
            f"You edited version {expected_version}; the server has "
            f"version {beneficiary.version}.",
            current=current.model_dump(mode="json"),
        )
    patch = data.model_dump(exclude_unset=True)
    if beneficiary.pii_erased_at is not None and set(patch) & set(PII_FIELDS):
        raise Conflict(
            "This person's identifying data was erased; it cannot be re-added."
        )
    merged = current_fields(beneficiary, keyring).model_dump()
    if "date_of_birth" in patch:
        merged["estimated_age"] = None
    if "estimated_age" in patch:
        merged["date_of_birth"] = None
    if "washington_group" in patch and "disability" not in patch:
        merged["disability"] = None
    merged.update(patch)
    try:
        fields = BeneficiaryFields.model_validate(merged)
    except ValidationError as exc:
        raise Invalid(
            "The edit leaves the record inconsistent.",
            errors=[
                FieldError(loc=["body", *e["loc"]], msg=e["msg"], type=e["type"])
                for e in exc.errors()
            ],
        ) from None
    if fields.full_name is None and beneficiary.pii_erased_at is None:
        raise Invalid(
            "A registered person keeps a name; withdraw registration consent to "
            "erase it.",
            errors=[
                FieldError(loc=["body", "full_name"], msg="required", type="missing")
            ],
        )
    await check_move(session, principal, beneficiary, fields.site_id)
    await apply_fields(session, beneficiary, fields, keyring)
    await session.flush()
    return beneficiary


async def apply_fields(
    session: AsyncSession,
    beneficiary: Beneficiary,
    fields: BeneficiaryFields,
    keyring: KeyRing,
) -> None:
    """Write a full state onto the row, bump its version and emit the event."""
    erased = beneficiary.pii_erased_at is not None
    moved = fields.site_id != beneficiary.site_id
    for column, value in _columns(fields, keyring, beneficiary.id).items():
        setattr(beneficiary, column, value)
    if moved:
        await _follow_person(session, beneficiary)
    if erased:  # only the birth year was kept
        beneficiary.date_of_birth_estimated = True
    beneficiary.version += 1
    beneficiary.updated_at = utcnow()
    _emit(session, beneficiary, EventType.beneficiary_updated)


async def _follow_person(session: AsyncSession, beneficiary: Beneficiary) -> None:
    """Care records go where the person goes: their cases, referrals,
    enrolments and alerts take the new site, so the team there can continue."""
    for model in (Case, Referral, Enrolment, RiskAlert):
        await session.execute(
            update(model)
            .where(
                col(model.organisation_id) == beneficiary.organisation_id,
                col(model.beneficiary_id) == beneficiary.id,
            )
            .values(site_id=beneficiary.site_id)
        )


def current_fields(beneficiary: Beneficiary, keyring: KeyRing) -> BeneficiaryFields:
    """The row as the full state a client would send (PII decrypted)."""
    pii = decrypt_pii(beneficiary, keyring)
    estimated = (
        beneficiary.date_of_birth_estimated and beneficiary.pii_erased_at is None
    )
    return BeneficiaryFields.model_construct(
        full_name=pii["full_name"],
        phone=pii["phone"],
        address=pii["address"],
        sex=beneficiary.sex,
        date_of_birth=None if estimated else beneficiary.date_of_birth,
        estimated_age=age_on(beneficiary.date_of_birth, beneficiary.registration_date)
        if estimated
        else None,
        marital_status=beneficiary.marital_status,
        disability=beneficiary.disability,
        washington_group=WashingtonGroupShortSet.model_validate(
            beneficiary.washington_group
        )
        if beneficiary.washington_group
        else None,
        displacement_status=beneficiary.displacement_status,
        nationality=beneficiary.nationality,
        site_id=beneficiary.site_id,
        registration_date=beneficiary.registration_date,
        registration_channel=beneficiary.registration_channel,
    )


def decrypt_pii(beneficiary: Beneficiary, keyring: KeyRing) -> dict[str, str | None]:
    return {
        name: keyring.decrypt(
            getattr(beneficiary, f"{name}_enc"), _context(beneficiary.id, name)
        )
        for name in PII_FIELDS
    }


async def to_read(
    session: AsyncSession,
    keyring: KeyRing,
    beneficiary: Beneficiary,
    principal: Principal,
) -> BeneficiaryRead:
    """The person as ``principal`` may see them: possible duplicates name
    only people in the reader's scope (organisation and sites)."""
    consents = await consent_service.consents_in_force(
        session, beneficiary.organisation_id, [beneficiary.id]
    )
    duplicates = await session.execute(
        scoped(
            select(col(DuplicateCandidate.candidate_id)).join(
                Beneficiary,
                and_(
                    col(Beneficiary.organisation_id)
                    == col(DuplicateCandidate.organisation_id),
                    col(Beneficiary.id) == col(DuplicateCandidate.candidate_id),
                ),
            ),
            principal,
        ).where(
            col(DuplicateCandidate.organisation_id) == beneficiary.organisation_id,
            col(DuplicateCandidate.beneficiary_id) == beneficiary.id,
            col(Beneficiary.merged_into_id).is_(None),
        )
    )
    pii = decrypt_pii(beneficiary, keyring)
    return BeneficiaryRead(
        id=beneficiary.id,
        code=beneficiary.code,
        organisation_id=beneficiary.organisation_id,
        site_id=beneficiary.site_id,
        full_name=pii["full_name"],
        phone=pii["phone"],
        address=pii["address"],
        sex=beneficiary.sex,
        date_of_birth=beneficiary.date_of_birth,
        date_of_birth_estimated=beneficiary.date_of_birth_estimated,
        age=age_on(beneficiary.date_of_birth, utcnow().date()),
        marital_status=beneficiary.marital_status,
        disability=beneficiary.disability,
        washington_group=WashingtonGroupShortSet.model_validate(
            beneficiary.washington_group
        )
        if beneficiary.washington_group
        else None,
        displacement_status=beneficiary.displacement_status,
        nationality=beneficiary.nationality,
        registration_date=beneficiary.registration_date,
        registration_channel=beneficiary.registration_channel,
        consents={
            purpose: ConsentEntryRead.model_validate(entry)
            for purpose, entry in consents[beneficiary.id].items()
        },
        possible_duplicates=list(duplicates.scalars()),
        pii_erased=beneficiary.pii_erased_at is not None,
        merged_into_id=beneficiary.merged_into_id,
        version=beneficiary.version,
        consent_version=consent_service.ledger_version(consents[beneficiary.id]),
        created_at=beneficiary.created_at,
        updated_at=beneficiary.updated_at,
    )


def to_summary(beneficiary: Beneficiary) -> BeneficiarySummary:
    return BeneficiarySummary(
        id=beneficiary.id,
        code=beneficiary.code,
        organisation_id=beneficiary.organisation_id,
        site_id=beneficiary.site_id,
        sex=beneficiary.sex,
        age=age_on(beneficiary.date_of_birth, utcnow().date()),
        registration_date=beneficiary.registration_date,
        version=beneficiary.version,
    )


async def list_beneficiaries(
    session: AsyncSession,
    principal: Principal,
    keyring: KeyRing,
    *,
    name: str | None,
    phone: str | None,
    site_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> Page[BeneficiarySummary]:
    """Newest first; ``name``/``phone`` search through the blind indexes
    (exact match after normalisation), never by decrypting."""
    statement = scoped(select(Beneficiary), principal).where(
        col(Beneficiary.merged_into_id).is_(None)
    )
    if name is not None:
        statement = statement.where(
            col(Beneficiary.name_index).in_(
                keyring.blind_indexes("name", normalise_name(name))
            )
        )
    if phone is not None:
        statement = statement.where(
            col(Beneficiary.phone_index).in_(
                keyring.blind_indexes("phone", normalise_phone(phone))
            )
        )
    if site_id is not None:
        statement = statement.where(col(Beneficiary.site_id) == site_id)
    rows, next_cursor = await keyset_page(
        session,
        statement,
        key=col(Beneficiary.created_at),
        parse_key=aware_datetime,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=[to_summary(r) for r in rows], next_cursor=next_cursor)


def _context(beneficiary_id: uuid.UUID | str, field: str) -> str:
    return f"beneficiary:{beneficiary_id}:{field}"


def _columns(
    fields: BeneficiaryFields,
    keyring: KeyRing,
    beneficiary_id: uuid.UUID,
    person: str | None = None,
) -> dict[str, Any]:
    """The columns ``fields`` set (``person``: the id as text, if made)."""
    if person is None:
        person = str(beneficiary_id)
    date_of_birth, estimated = fields.date_of_birth, False
    if fields.estimated_age is not None:
        date_of_birth, estimated = (
            _birth_from_age(fields.registration_date, fields.estimated_age),
            True,
        )
    return {
        "full_name_enc": keyring.encrypt(
            fields.full_name, _context(person, "full_name")
        ),
        "phone_enc": keyring.encrypt(fields.phone, _context(person, "phone")),
        "address_enc": keyring.encrypt(fields.address, _context(person, "address")),
        "name_index": keyring.blind_index("name", normalise_name(fields.full_name)),
        "phone_index": keyring.blind_index("phone", normalise_phone(fields.phone)),
        "sex": fields.sex,
        "date_of_birth": date_of_birth,
        "date_of_birth_estimated": estimated,
        "marital_status": fields.marital_status,
        "disability": fields.disability,
        "washington_group": fields.washington_group.model_dump(mode="json")
        if fields.washington_group
        else None,
        "displacement_status": fields.displacement_status,
        "nationality": fields.nationality,
        "site_id": fields.site_id,
        "registration_date": fields.registration_date,
        "registration_channel": fields.registration_channel,
    }


def _birth_from_age(registration_date: date, age: int) -> date:
    year = registration_date.year - age
    try:
        return registration_date.replace(year=year)
    except ValueError:  # 29 February
        return registration_date.replace(year=year, day=28)


CANDIDATES_PER_KEY = 5
"""How many existing people one key may flag for a new person: the nearest
birth dates on each side for a name, the latest registrations for a phone.
A common name then costs a bounded read however many people share it."""


@dataclass
class _Keys:
    """A new person's duplicate keys (one per blind-index key in the ring)."""

    beneficiary: Beneficiary
    names: set[str]
    phones: set[str]


@dataclass
class _Candidate:
    id: uuid.UUID
    name_index: str | None
    phone_index: str | None
    date_of_birth: date | None


async def flag_duplicates(
    session: AsyncSession,
    keyring: KeyRing,
    people: list[tuple[Beneficiary, BeneficiaryFields]],
) -> None:
    """Same phone, or same name with a birth year within two years, in the
    same organisation, among the people registered before each new one (in
    the database, or earlier in ``people``). Indexes are compared, never
    plaintext: each new person's under every blind-index key, as others may
    not be re-indexed yet. Candidates are read by indexed keys (name with
    birth date, phone), at most ``CANDIDATES_PER_KEY`` per key and side, and
    pairs within ``people`` are found in one pass."""
    wanted = [_keys(keyring, beneficiary, fields) for beneficiary, fields in people]
    found = await _stored_candidates(session, wanted)
    by_name: dict[tuple[uuid.UUID, str], list[Beneficiary]] = {}
    by_phone: dict[tuple[uuid.UUID, str], list[Beneficiary]] = {}
    rows = collecting(session)
    for n, keys in enumerate(wanted):
        beneficiary = keys.beneficiary
        organisation_id = beneficiary.organisation_id
        earlier: list[_Candidate | Beneficiary] = []
        for name in keys.names:
            earlier += by_name.get((organisation_id, name), [])[-CANDIDATES_PER_KEY:]
        for phone in keys.phones:
            earlier += by_phone.get((organisation_id, phone), [])[-CANDIDATES_PER_KEY:]
        flagged: set[uuid.UUID] = set()
        for other in [*found.get(n, []), *earlier]:
            reasons = []
            if other.phone_index in keys.phones:
                reasons.append("same_phone")
            if other.name_index in keys.names and _close_birth(beneficiary, other):
                reasons.append("same_name_close_birth_year")
            if not reasons or other.id in flagged or other.id == beneficiary.id:
                continue
            flagged.add(other.id)
            columns: dict[str, Any] = {
                "id": new_id(),
                "organisation_id": organisation_id,
                "beneficiary_id": beneficiary.id,
                "candidate_id": other.id,
                "reasons": ",".join(reasons),
                "created_at": utcnow(),
            }
            if rows is not None:
                rows.add(DuplicateCandidate.__table__, columns)  # type: ignore[attr-defined]
            else:
                session.add(DuplicateCandidate(**columns))
        if beneficiary.name_index is not None:
            by_name.setdefault((organisation_id, beneficiary.name_index), []).append(
                beneficiary
            )
        if beneficiary.phone_index is not None:
            by_phone.setdefault((organisation_id, beneficiary.phone_index), []).append(
                beneficiary
            )


def _keys(
    keyring: KeyRing, beneficiary: Beneficiary, fields: BeneficiaryFields
) -> _Keys:
    """A person's indexes under every blind-index key. With one key in the
    ring they are the row's own, made from these fields by ``_columns`` a
    moment ago: folding the name and phone and two HMACs again was about
    7 us a person."""
    if len(keyring.blind_index_keys) == 1:
        return _Keys(
            beneficiary,
            {beneficiary.name_index} if beneficiary.name_index is not None else set(),
            {beneficiary.phone_index} if beneficiary.phone_index is not None else set(),
        )
    return _Keys(
        beneficiary,
        set(keyring.blind_indexes("name", normalise_name(fields.full_name))),
        set(keyring.blind_indexes("phone", normalise_phone(fields.phone))),
    )


async def _stored_candidates(
    session: AsyncSession, wanted: list[_Keys]
) -> dict[int, list[_Candidate]]:
    """People already stored who share a key with each new person (by the
    new person's position in ``wanted``), a bounded number per key."""
    probes: list[tuple[int, uuid.UUID, str, str, date | None]] = []
    for n, keys in enumerate(wanted):
        organisation_id = keys.beneficiary.organisation_id
        born = keys.beneficiary.date_of_birth
        probes += [(n, organisation_id, "name", k, born) for k in keys.names]
        probes += [(n, organisation_id, "phone", k, None) for k in keys.phones]
    if not probes:
        return {}
    if session.get_bind().dialect.name == "postgresql":
        rows = await _probe_lateral(session, probes)
    else:
        rows = await _probe_one_by_one(session, probes)
    new_ids = {keys.beneficiary.id for keys in wanted}
    found: dict[int, list[_Candidate]] = {}
    for n, *columns in rows:
        if columns[0] not in new_ids:
            found.setdefault(n, []).append(_Candidate(*columns))
    return found


def _birth_window(born: date) -> tuple[date, date]:
    return date(born.year - 2, 1, 1), date(born.year + 2, 12, 31)


_LATERAL = text(
    """
    SELECT p.n, c.id, c.name_index, c.phone_index, c.date_of_birth
    FROM unnest(
        CAST(:n AS integer[]), CAST(:organisation_id AS uuid[]),
        CAST(:kind AS text[]), CAST(:key AS text[]), CAST(:born AS date[])
    ) AS p(n, organisation_id, kind, key, born)
    CROSS JOIN LATERAL (
        (SELECT b.id, b.name_index, b.phone_index, b.date_of_birth
         FROM beneficiary b
         WHERE p.kind = 'name' AND b.organisation_id = p.organisation_id
           AND b.name_index = p.key AND b.date_of_birth >= p.born
           AND b.date_of_birth <= make_date(extract(year FROM p.born)::int + 2, 12, 31)
         ORDER BY b.date_of_birth LIMIT :per_key)
        UNION ALL
        (SELECT b.id, b.name_index, b.phone_index, b.date_of_birth
         FROM beneficiary b
         WHERE p.kind = 'name' AND b.organisation_id = p.organisation_id
           AND b.name_index = p.key AND b.date_of_birth < p.born
           AND b.date_of_birth >= make_date(extract(year FROM p.born)::int - 2, 1, 1)
         ORDER BY b.date_of_birth DESC LIMIT :per_key)
        UNION ALL
        (SELECT b.id, b.name_index, b.phone_index, b.date_of_birth
         FROM beneficiary b
         WHERE p.kind = 'phone' AND b.organisation_id = p.organisation_id
           AND b.phone_index = p.key
         ORDER BY b.created_at DESC LIMIT :per_key)
    ) AS c
    """
)


async def _probe_lateral(
    session: AsyncSession, probes: list[tuple[int, uuid.UUID, str, str, date | None]]
) -> list[Any]:
    """PostgreSQL: every probe in one statement, each an index range read
    with a limit (the nearest birth dates on each side, the latest phones)."""
    result = await session.execute(
        _LATERAL,
        {
            "n": [p[0] for p in probes],
            "organisation_id": [p[1] for p in probes],
            "kind": [p[2] for p in probes],
            "key": [p[3] for p in probes],
            "born": [p[4] for p in probes],
            "per_key": CANDIDATES_PER_KEY,
        },
    )
    return list(result.all())


async def _probe_one_by_one(
    session: AsyncSession, probes: list[tuple[int, uuid.UUID, str, str, date | None]]
) -> list[Any]:
    """Elsewhere (SQLite, embedded and small): the same reads, one query per
    probe and side."""
    columns = (
        col(Beneficiary.id),
        col(Beneficiary.name_index),
        col(Beneficiary.phone_index),
        col(Beneficiary.date_of_birth),
    )
    found: list[Any] = []
    for n, organisation_id, kind, key, born in probes:
        statement = select(*columns).where(
            col(Beneficiary.organisation_id) == organisation_id
        )
        if kind == "phone":
            sides = [
                statement.where(col(Beneficiary.phone_index) == key).order_by(
                    col(Beneficiary.created_at).desc()
                )
            ]
        elif born is None:
            continue
        else:
            low, high = _birth_window(born)
            named = statement.where(col(Beneficiary.name_index) == key)
            sides = [
                named.where(
                    col(Beneficiary.date_of_birth) >= born,
                    col(Beneficiary.date_of_birth) <= high,
                ).order_by(col(Beneficiary.date_of_birth)),
                named.where(
                    col(Beneficiary.date_of_birth) < born,
                    col(Beneficiary.date_of_birth) >= low,
                ).order_by(col(Beneficiary.date_of_birth).desc()),
            ]
        for side in sides:
            rows = await session.execute(side.limit(CANDIDATES_PER_KEY))
            found += [(n, *row) for row in rows.all()]
    return found


def _close_birth(a: Beneficiary, b: Beneficiary | _Candidate) -> bool:
    """Birth years within two years; a person without a birth date (none is
    registered so) is never a candidate by name alone."""
    if a.date_of_birth is None or b.date_of_birth is None:
        return False
    return abs(a.date_of_birth.year - b.date_of_birth.year) <= 2


def _emit(
    session: AsyncSession, beneficiary: Beneficiary, event_type: EventType
) -> None:
    """The person's event."""
    add_event(
        session,
        OutboxEvent,
        type=event_type,
        organisation_id=beneficiary.organisation_id,
        entity_type="beneficiary",
        entity_id=beneficiary.id,
        facts=beneficiary_facts(beneficiary),
    )
