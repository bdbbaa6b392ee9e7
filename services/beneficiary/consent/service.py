"""Consent rules, the low-level check every write relies on: appending to a
ledger (replays and stale offline grants sorted out), what is in force for
whom, and ``require_consent()`` before any new record. A withdrawal of
registration consent erases the person through ``subject_rights.erasure``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    bindparam,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.beneficiary.beneficiaries.models import (
    Beneficiary,
)
from services.beneficiary.consent.models import ConsentEntry
from services.beneficiary.consent.schemas import ConsentEntryRead, ConsentGiven
from services.beneficiary.db import OutboxEvent
from services.beneficiary.subject_rights.erasure import erase_person
from shared.auth import Principal
from shared.bulk import Rows, collecting, unsaved
from shared.contracts.enums import ConsentPurpose
from shared.contracts.events import ConsentFacts, EventType
from shared.db import (
    by_ids_param,
    fetch_rows,
    get_many_cached,
    new_id,
    sorted_ids,
    utcnow,
)
from shared.errors import Conflict, ConsentMissing, Forbidden, VersionConflict
from shared.outbox import add_event


async def record_consents(
    session: AsyncSession,
    principal: Principal,
    beneficiary: Beneficiary,
    entries: Sequence[ConsentGiven],
    *,
    erasing: bool = False,
) -> list[ConsentEntry]:
    """Append to a known person's ledger (an entry whose client id the ledger
    holds is a replay and is not added again). Withdrawing consent to
    registration erases the person's PII at once, so only the erasure path
    (``subject_rights``) may pass it, with ``erasing``. Nothing is recorded
    for a person already erased, who is registered anew if they come back."""
    if beneficiary.pii_erased_at is not None:
        raise Conflict(
            "This person's identifying data was erased; register them anew if "
            "they consent again."
        )
    if not erasing and any(withdraws_registration(e) for e in entries):
        raise Forbidden(
            "Withdrawing registration consent is an erasure: "
            "POST /v1/beneficiaries/{id}/erasure, or /consents by a supervisor."
        )
    known = await _known_entries(session, beneficiary, entries)
    _cache(session).pop((beneficiary.organisation_id, beneficiary.id), None)
    last = await session.scalar(
        select(func.max(col(ConsentEntry.sequence))).where(
            col(ConsentEntry.organisation_id) == beneficiary.organisation_id,
            col(ConsentEntry.beneficiary_id) == beneficiary.id,
        )
    )
    recorded = []
    for entry in entries:
        if entry.id in known:
            recorded.append(known[entry.id])
            continue
        last = (last or 0) + 1
        recorded.append(_append(session, principal, beneficiary, entry, last))
        if withdraws_registration(entry):
            await erase_person(session, beneficiary)
    await session.flush()
    return recorded


def withdraws_registration(entry: ConsentGiven) -> bool:
    return entry.purpose == ConsentPurpose.registration and not entry.granted


async def _known_entries(
    session: AsyncSession, beneficiary: Beneficiary, entries: Sequence[ConsentGiven]
) -> dict[uuid.UUID, ConsentEntry]:
    """The person's ledger entries with these client ids: a replay. An id of
    another person's entry, or of one that said something else, is refused
    (reusing the id of a grant must not turn a withdrawal into a no-op)."""
    ids = [entry.id for entry in entries if entry.id is not None]
    if not ids:
        return {}
    rows = await session.execute(
        select(ConsentEntry).where(
            col(ConsentEntry.organisation_id) == beneficiary.organisation_id,
            col(ConsentEntry.id).in_(ids),
        )
    )
    known = {row.id: row for row in rows.scalars()}
    for entry in entries:
        row = known.get(entry.id) if entry.id is not None else None
        if row is not None and (
            row.beneficiary_id != beneficiary.id
            or (row.purpose, row.granted, row.form_version, row.agency)
            != (entry.purpose, entry.granted, entry.form_version, entry.agency)
        ):
            raise Conflict("A consent entry with this id exists already.")
    return known


async def check_new_ledger(
    session: AsyncSession,
    organisation_id: uuid.UUID,
    entries: Sequence[ConsentGiven],
) -> None:
    """A new person's entries may not reuse ids another person's ledger holds
    in the same organisation (another organisation's ids are not seen)."""
    ids = {entry.id for entry in entries if entry.id is not None}
    checked, taken = _entry_ids(session, organisation_id)
    if ids <= checked:
        clash = bool(ids & taken)
    else:
        clash = bool(ids) and bool(
            await session.scalar(
                select(func.count()).where(
                    col(ConsentEntry.organisation_id) == organisation_id,
                    col(ConsentEntry.id).in_(ids),
                )
            )
        )
    if clash:
        raise Conflict("A consent entry with this id exists already.")


async def look_up_entry_ids(
    session: AsyncSession, organisation_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> None:
    """Which of a batch's consent entry ids the organisation holds, in one
    query, so that ``check_new_ledger`` answers each new person without one.
    Ledgers started afterwards in the session count as taken; a rolled-back
    savepoint forgets it all (``forget_consents``)."""
    checked, taken = _entry_ids(session, organisation_id)
    missing = set(ids) - checked
    if not missing:
        return
    rows = await _entries(session, organisation_id, col(ConsentEntry.id), missing)
    taken.update(row.id for row in rows)
    checked.update(missing)


def _entry_ids(
    session: AsyncSession, organisation_id: uuid.UUID
) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
    """(ids looked up, ids taken) of the organisation's consent entries."""
    known: dict[uuid.UUID, tuple[set[uuid.UUID], set[uuid.UUID]]]
    known = session.info.setdefault("consent_entry_ids", {})
    return known.setdefault(organisation_id, (set(), set()))


def start_ledger(
    session: AsyncSession,
    principal: Principal,
    beneficiary: Beneficiary,
    entries: Sequence[ConsentGiven],
    *,
    person: str | None = None,
) -> list[ConsentEntry]:
    """The ledger of a person registered now (``check_new_ledger`` first),
    added to the session unflushed and remembered as what is in force
    (``person``: their id as text, if made already)."""
    rows = collecting(session)
    if rows is None:
        recorded = [
            _append(session, principal, beneficiary, entry, sequence)
            for sequence, entry in enumerate(entries, start=1)
        ]
    else:
        recorded = _stage_ledger(
            session, rows, principal, beneficiary, entries, person=person
        )
    _cache(session)[(beneficiary.organisation_id, beneficiary.id)] = {
        e.purpose: e for e in recorded
    }
    return recorded


def _stage_ledger(
    session: AsyncSession,
    rows: Rows,
    principal: Principal,
    beneficiary: Beneficiary,
    entries: Sequence[ConsentGiven],
    first: int = 1,
    *,
    person: str | None = None,
) -> list[ConsentEntry]:
    """``_append`` for each entry (numbered from ``first``) while a bulk
    writer collects: plain rows and events' JSON, with what every entry
    shares (the person, the clock, the ids known) read once."""
    person_id, organisation_id = beneficiary.id, beneficiary.organisation_id
    if person is None:
        person = str(person_id)
    checked, taken = _entry_ids(session, organisation_id)
    recorded_at = utcnow()
    table = ConsentEntry.__table__  # type: ignore[attr-defined]
    recorded = []
    for sequence, entry in enumerate(entries, start=first):
        entry_id = entry.id or new_id()
        columns: dict[str, Any] = {
            "id": entry_id,
            "beneficiary_id": person_id,
            "organisation_id": organisation_id,
            "purpose": entry.purpose,
            "granted": entry.granted,
            "form_version": entry.form_version,
            "agency": entry.agency,
            "recorded_by": principal.subject,
            "recorded_at": recorded_at,
            "sequence": sequence,
        }
        checked.add(entry_id)  # looked up, and taken
        taken.add(entry_id)
        rows.add(table, columns)
        recorded.append(unsaved(ConsentEntry, columns))
        add_event(
            session,
            OutboxEvent,
            type=EventType.consent_recorded,
            organisation_id=organisation_id,
            entity_type="beneficiary",
            entity_id=person_id,
            facts={  # ConsentFacts' JSON, without a model per entry
                "beneficiary_id": person,
                "purpose": str(entry.purpose),
                "granted": entry.granted,
            },
        )
    return recorded


def _append(
    session: AsyncSession,
    principal: Principal,
    beneficiary: Beneficiary,
    entry: ConsentGiven,
    sequence: int,
) -> ConsentEntry:
    rows = collecting(session)
    if rows is not None:  # a bulk writer's batch: a plain row, read back as is
        staged = _stage_ledger(session, rows, principal, beneficiary, [entry], sequence)
        return staged[0]
    columns: dict[str, Any] = {
        "id": entry.id or new_id(),
        "beneficiary_id": beneficiary.id,
        "organisation_id": beneficiary.organisation_id,
        "purpose": entry.purpose,
        "granted": entry.granted,
        "form_version": entry.form_version,
        "agency": entry.agency,
        "recorded_by": principal.subject,
        "recorded_at": utcnow(),  # given, not defaulted: a default factory costs more
        "sequence": sequence,
    }
    for known in _entry_ids(session, beneficiary.organisation_id):
        known.add(columns["id"])  # looked up, and taken
    row = ConsentEntry(**columns)
    session.add(row)
    add_event(
        session,
        OutboxEvent,
        type=EventType.consent_recorded,
        organisation_id=beneficiary.organisation_id,
        entity_type="beneficiary",
        entity_id=beneficiary.id,
        facts=ConsentFacts(
            beneficiary_id=beneficiary.id, purpose=entry.purpose, granted=entry.granted
        ),
    )
    return row


@dataclass
class LedgerCheck:
    """Consents sent for a person the server knows, sorted against the
    ledger: what to record now, what is stale (for a supervisor, or a 409),
    and a withdrawal of registration (an erasure)."""

    to_record: list[ConsentGiven] = field(default_factory=list)
    stale: list[ConsentGiven] = field(default_factory=list)
    withdraws_registration: ConsentGiven | None = None


def ledger_version(in_force: dict[ConsentPurpose, ConsentEntry]) -> int:
    """The newest entry's sequence: the ledger's version as a device saw it."""
    return max((entry.sequence for entry in in_force.values()), default=0)


def against_ledger(
    in_force: dict[ConsentPurpose, ConsentEntry],
    entries: Sequence[ConsentGiven],
    seen: int,
) -> LedgerCheck:
    """Sort a device's entries against what is in force now, given ``seen``,
    the ledger version the device last received (0: none). An entry equal to
    what is in force changes nothing. A withdrawal is recorded: a person's no
    beats any grant. A grant is recorded only when no decision for its
    purpose was recorded after the device's copy; otherwise it is stale and
    goes to a supervisor, so a replayed or week-old batch never re-grants
    what the person withdrew since."""
    if seen > ledger_version(in_force):  # a version that never was: trust none
        seen = 0
    check = LedgerCheck()
    for entry in entries:
        current = in_force.get(entry.purpose)
        if current is not None and (
            current.granted,
            current.form_version,
            current.agency,
        ) == (entry.granted, entry.form_version, entry.agency):
            continue
        if withdraws_registration(entry):
            check.withdraws_registration = entry
        elif entry.granted and current is not None and current.sequence > seen:
            check.stale.append(entry)
        else:
            check.to_record.append(entry)
    return check


async def refuse_stale_grants(
    session: AsyncSession,
    beneficiary: Beneficiary,
    entries: Sequence[ConsentGiven],
    seen: int,
) -> None:
    """An online form sent with the ledger version it was filled on: a grant
    for a purpose decided since is refused with what is in force now."""
    in_force = (
        await consents_in_force(session, beneficiary.organisation_id, [beneficiary.id])
    )[beneficiary.id]
    if against_ledger(in_force, entries, seen).stale:
        raise VersionConflict(
            f"The person's consents changed after version {seen}; confirm with "
            "them and send the form again with the current version.",
            current={
                "consent_version": ledger_version(in_force),
                "consents": {
                    purpose: ConsentEntryRead.model_validate(entry).model_dump(
                        mode="json"
                    )
                    for purpose, entry in in_force.items()
                },
            },
        )


async def drop_recorded(
    session: AsyncSession, beneficiary: Beneficiary, entries: Sequence[ConsentGiven]
) -> list[ConsentGiven]:
    """Entries whose client id the person's ledger holds already (a replay)
    are dropped; an id of another person's entry is refused."""
    known = await _known_entries(session, beneficiary, entries)
    return [entry for entry in entries if entry.id not in known]


async def consents_in_force(
    session: AsyncSession,
    organisation_id: uuid.UUID,
    beneficiary_ids: Sequence[uuid.UUID],
) -> dict[uuid.UUID, dict[ConsentPurpose, ConsentEntry]]:
    """The newest entry per purpose for each of the organisation's
    beneficiaries (remembered for the rest of the session; recording consent
    forgets it)."""
    cache = _cache(session)
    missing = [b for b in beneficiary_ids if (organisation_id, b) not in cache]
    if missing:
        rows = await _entries(
            session,
            organisation_id,
            col(ConsentEntry.beneficiary_id),
            missing,
            many=True,
        )
        for b in missing:
            cache[(organisation_id, b)] = {}
        for entry in sorted(rows, key=lambda e: e.sequence):
            cache[(organisation_id, entry.beneficiary_id)][entry.purpose] = entry
    return {b: cache[(organisation_id, b)] for b in beneficiary_ids}


def forget_consents(session: AsyncSession) -> None:
    """Drop remembered consents (after a savepoint rolled back)."""
    _cache(session).clear()
    session.info.pop("consent_entry_ids", None)


async def _granted(
    session: AsyncSession,
    organisation_id: uuid.UUID,
    beneficiary_ids: Sequence[uuid.UUID],
) -> dict[uuid.UUID, dict[ConsentPurpose, bool]]:
    """``consents_in_force`` as whether each purpose is granted: what
    ``require_consent`` asks. On PostgreSQL a ledger the session does not
    remember is read as plain rows by the driver itself (``fetch_rows``),
    by the same statement, and not remembered (the session remembers ORM
    entries); a ledger it remembers (recorded or read in this session) is
    its answer."""
    if session.get_bind().dialect.name != "postgresql":
        return {
            b: {p: entry.granted for p, entry in entries.items()}
            for b, entries in (
                await consents_in_force(session, organisation_id, beneficiary_ids)
            ).items()
        }
    cache = _cache(session)
    missing = sorted({b for b in beneficiary_ids if (organisation_id, b) not in cache})
    read: dict[uuid.UUID, dict[ConsentPurpose, bool]] = {b: {} for b in missing}
    if missing:
        rows = await fetch_rows(
            session,
            _entries_statement(session, col(ConsentEntry.beneficiary_id), many=True),
            {"org": organisation_id, "ids": missing},
        )
        for row in sorted(rows, key=lambda row: row["sequence"]):
            read[row["beneficiary_id"]][ConsentPurpose(row["purpose"])] = row["granted"]
    return {
        b: read[b]
        if b in read
        else {p: entry.granted for p, entry in cache[(organisation_id, b)].items()}
        for b in beneficiary_ids
    }


async def _entries(
    session: AsyncSession,
    organisation_id: uuid.UUID,
    column: Any,
    ids: Iterable[uuid.UUID],
    *,
    many: bool = False,
) -> list[ConsentEntry]:
    """The organisation's entries whose ``column`` (their id, or with
    ``many`` their person's) is among ``ids``, each id read through its
    index (``by_ids_param``), by a statement built once per kind."""
    rows = await session.scalars(
        _entries_statement(session, column, many=many),
        {"org": organisation_id, "ids": sorted_ids(ids)},
    )
    return list(rows)


def _entries_statement(session: AsyncSession, column: Any, *, many: bool) -> Any:
    """``_entries``' statement, built once per dialect, column and ``many``."""
    dialect = session.get_bind().dialect.name
    statement = _ENTRIES.get((dialect, column.key, many))
    if statement is None:
        statement = _ENTRIES[(dialect, column.key, many)] = by_ids_param(
            dialect,
            select(ConsentEntry).where(
                col(ConsentEntry.organisation_id) == bindparam("org")
            ),
            column,
            many=many,
        )
    return statement


_ENTRIES: dict[tuple[str, str, bool], Any] = {}
"""``_entries``' statements by dialect, column and ``many``."""

_Ledgers = dict[tuple[uuid.UUID, uuid.UUID], dict[ConsentPurpose, ConsentEntry]]


def _cache(session: AsyncSession) -> _Ledgers:
    """Consents in force by (organisation, beneficiary id)."""
    cache: _Ledgers = session.info.setdefault("consents_in_force", {})
    return cache


async def list_consent_ledger(
    session: AsyncSession, beneficiary: Beneficiary
) -> list[ConsentEntry]:
    rows = await session.execute(
        select(ConsentEntry)
        .where(
            col(ConsentEntry.organisation_id) == beneficiary.organisation_id,
            col(ConsentEntry.beneficiary_id) == beneficiary.id,
        )
        .order_by(col(ConsentEntry.sequence))
    )
    return list(rows.scalars())


async def consenting(
    session: AsyncSession,
    organisation_id: uuid.UUID,
    beneficiary_ids: Sequence[uuid.UUID],
    *purposes: ConsentPurpose,
) -> set[uuid.UUID]:
    """The people among ``beneficiary_ids`` whom ``require_consent`` would
    let through for ``purposes``, checked together (a batch's records, whose
    ledgers they do not change); for anyone else call ``require_consent``,
    which says why not."""
    ids = list(dict.fromkeys(beneficiary_ids))
    people = await get_many_cached(
        session, Beneficiary, [(organisation_id, b) for b in ids]
    )
    unerased = [
        p.id for p in people if p.pii_erased_at is None and p.merged_into_id is None
    ]
    in_force = await consents_in_force(session, organisation_id, unerased)
    needed = list(dict.fromkeys((ConsentPurpose.registration, *purposes)))
    return {
        b
        for b, entries in in_force.items()
        if all(p in entries and entries[p].granted for p in needed)
    }


async def require_consent(
    session: AsyncSession,
    organisation_id: uuid.UUID,
    beneficiary_ids: Sequence[uuid.UUID],
    *purposes: ConsentPurpose,
) -> None:
    """Refuse the action unless every person (of ``organisation_id``)
    consents to all ``purposes`` now, and to registration, without which
    nothing is recorded about them; an erased person (by request or by
    retention) gets nothing new."""
    people = await get_many_cached(
        session, Beneficiary, [(organisation_id, b) for b in beneficiary_ids]
    )
    if any(person.pii_erased_at is not None for person in people):
        raise ConsentMissing(
            "This person's identifying data was erased: nothing new is recorded "
            "about them."
        )
    merged = next((p for p in people if p.merged_into_id is not None), None)
    if merged is not None:
        raise Conflict(
            "This record was merged into another person's record; record it there.",
            current={"merged_into_id": str(merged.merged_into_id)},
        )
    in_force = await _granted(session, organisation_id, beneficiary_ids)
    for purpose in dict.fromkeys((ConsentPurpose.registration, *purposes)):
        missing = [
            str(b) for b, granted in in_force.items() if not granted.get(purpose)
        ]
        if missing:
            raise ConsentMissing(
                f"No consent in force for '{purpose}' from: {', '.join(missing)}."
            )
