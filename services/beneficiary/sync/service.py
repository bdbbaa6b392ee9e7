"""Offline-first sync: batch upsert with per-record outcomes, conflicts kept
for a supervisor, and a per-client pull of changes since a cursor."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction
from sqlmodel import col

from services.beneficiary.access import is_supervisor
from services.beneficiary.beneficiaries import service as beneficiaries_service
from services.beneficiary.beneficiaries.models import Beneficiary
from services.beneficiary.beneficiaries.schemas import (
    BeneficiaryCreate,
    BeneficiaryFields,
)
from services.beneficiary.consent import service as consent_service
from services.beneficiary.consent.schemas import ConsentGiven
from services.beneficiary.db import OutboxEvent
from services.beneficiary.interventions import service as interventions_service
from services.beneficiary.service_records import service as records_service
from services.beneficiary.service_records.models import (
    AnonymousService,
    GroupActivity,
    ServiceRecord,
)
from services.beneficiary.service_records.schemas import (
    AnonymousServiceCreate,
    AnonymousServiceFields,
    AnonymousServiceRead,
    DeliveryTags,
    GroupActivityCreate,
    GroupActivityFields,
    ServiceRecordCreate,
    ServiceRecordFields,
    ServiceRecordRead,
)
from services.beneficiary.subject_rights import service as rights_service
from services.beneficiary.sync.models import (
    ConflictResolution,
    ConflictStatus,
    SyncConflict,
)
from services.beneficiary.sync.schemas import (
    AnonymousServiceChange,
    BeneficiaryChange,
    ChangesPage,
    ConflictRead,
    GroupActivityChange,
    ServiceRecordChange,
    SyncBatch,
    SyncResult,
    SyncStatus,
)
from services.beneficiary.teams import service as teams_service
from shared.audit import Actor
from shared.auth import Principal
from shared.bulk import Rows, attach, collect, collecting
from shared.crypto import KeyRing
from shared.db import (
    as_driver_id,
    forget,
    get_cached,
    new_id,
    pin,
    prefetch,
    sorted_ids,
    utcnow,
)
from shared.errors import Conflict, FieldError, NotFound, Problem
from shared.pagination import Page, aware_datetime, ordered_page

CHANGES_PAGE_EVENTS = 1000
CONSENT = "consent"
"""The entity type of a conflict that keeps a device's stale consents."""


@dataclass
class ConsentOutcome:
    """What a device's consents for a known person came to."""

    recorded: bool = False
    conflict: SyncConflict | None = None
    erased: bool = False


async def _nothing(row: Any, change: Any, device_id: str | None) -> ConsentOutcome:
    return ConsentOutcome()


async def _no_finish(staged: list[tuple[Any, Any]]) -> None:
    return None


async def _no_preparation(changes: Sequence[Any]) -> None:
    return None


@dataclass
class Staged:
    """A new record staged as plain rows (no ORM instance) for the batch."""

    id: uuid.UUID
    version: int = 1


def _as_sent(fields: BaseModel) -> Any:
    return fields.model_dump(mode="json")


def _as_is(row: Any, fields: Any) -> Any:
    return fields


def _record_edit(
    row: ServiceRecord, fields: ServiceRecordFields
) -> ServiceRecordFields:
    """An old device names one topic (``topic_code`` alone): it replaces the
    first of the record's topics, never the whole list."""
    return fields.onto(row.topic_codes)


@dataclass
class Entity:
    """How sync reads, creates and edits one kind of record. Without
    ``apply`` a record is recorded once and never edited (an edit is kept as
    a conflict); without ``stage`` each new record is created alone."""

    name: str
    fields_model: type[BaseModel]
    load: Callable[[uuid.UUID], Awaitable[Any]]
    create: Callable[[Any], Awaitable[Any]]
    state: Callable[[Any], Awaitable[BaseModel]]
    apply: Callable[[Any, Any], Awaitable[None]] | None
    read: Callable[[Any], Awaitable[dict[str, Any]]]
    stage: Callable[[Any], Awaitable[Any]] | None
    model: type[Any]
    side_ledger: Callable[[Any, Any, str | None], Awaitable[ConsentOutcome]] = _nothing
    finish: Callable[[list[tuple[Any, Any]]], Awaitable[None]] = _no_finish
    canonical: Callable[[BaseModel], Any] = _as_sent
    """The content compared, in an order that does not matter to the record."""
    prepare: Callable[[Sequence[Any]], Awaitable[None]] = _no_preparation
    """Run before the batch's changes of this kind (after the kinds before)."""
    edit: Callable[[Any, Any], Any] = _as_is
    """What a device's content means as an edit of the stored record (an old
    client's fields read against it), compared, applied or kept."""


async def _record_fields(row: ServiceRecord) -> ServiceRecordFields:
    return records_service.current_fields(row)


def registration(change: BeneficiaryChange) -> BeneficiaryCreate:
    """The change as a registration, validated as one (``model_construct``
    of the validated fields measured slower than validating them again).
    The fields are passed as they are, not dumped first: a third of the
    cost, and the same registration (a nested model is kept, not copied).

    A change may hold its registration made by this function already, in
    its private ``_registration`` (an import's, made in the thread that maps
    the next batch while one is written, off the event loop): it is taken
    once, so a record applied again after a rollback is validated anew."""
    held = change.__pydantic_private__
    if held and (ahead := held.get("_registration")) is not None:
        held["_registration"] = None
        return cast(BeneficiaryCreate, ahead)
    return BeneficiaryCreate.model_validate(
        {**change.data.__dict__, "id": change.id, "consents": change.consents}
    )


def entities(
    session: AsyncSession,
    principal: Principal,
    keyring: KeyRing,
    actor: Actor | None = None,
    confirm_above: int | None = None,
) -> dict[str, Entity]:
    """Every kind of record a batch holds."""

    async def load_beneficiary(entity_id: uuid.UUID) -> Beneficiary | None:
        try:
            return await beneficiaries_service.get_beneficiary(
                session, principal, entity_id
            )
        except NotFound:
            return None

    async def create_beneficiary(change: BeneficiaryChange) -> Beneficiary:
        return await beneficiaries_service.register_beneficiary(
            session, principal, keyring, registration(change)
        )

    async def stage_beneficiary(change: BeneficiaryChange) -> Beneficiary:
        return await beneficiaries_service.stage_registration(
            session, principal, keyring, registration(change), id_free=True
        )

    async def flag_staged(staged: list[tuple[Beneficiary, BeneficiaryChange]]) -> None:
        await beneficiaries_service.flag_duplicates(
            session, keyring, [(row, change.data) for row, change in staged]
        )

    async def apply_beneficiary(row: Beneficiary, fields: BeneficiaryFields) -> None:
        if row.pii_erased_at is not None:
            raise Conflict("This person's identifying data was erased.")
        await beneficiaries_service.check_move(session, principal, row, fields.site_id)
        await beneficiaries_service.apply_fields(session, row, fields, keyring)
        await session.flush()

    async def consents_of(
        row: Beneficiary, change: BeneficiaryChange, device_id: str | None
    ) -> ConsentOutcome:
        return await _device_consents(
            session, principal, keyring, actor, row, change, device_id
        )

    async def read_beneficiary(row: Beneficiary) -> dict[str, Any]:
        read = await beneficiaries_service.to_read(session, keyring, row, principal)
        return read.model_dump(mode="json")

    async def load_record(entity_id: uuid.UUID) -> ServiceRecord | None:
        try:
            return await records_service.get_service_record(
                session, principal, entity_id
            )
        except NotFound:
            return None

    def service_record(change: ServiceRecordChange) -> ServiceRecordCreate:
        """The change as a creation: its fields were validated as the batch
        was read, and a creation adds only the id, so nothing is validated
        again."""
        return ServiceRecordCreate.model_construct(
            change.data.model_fields_set | {"id"}, **dict(change.data), id=change.id
        )

    async def create_record(change: ServiceRecordChange) -> ServiceRecord:
        return await records_service.record_service(
            session, principal, service_record(change), locked=True
        )

    consented, check_consents = _consent_check(session, principal)

    async def stage_record(change: ServiceRecordChange) -> Staged:
        rows = collecting(session)
        assert rows is not None, "staged records are written by _Staging"
        record_id = await records_service.stage_service_row(
            session,
            principal,
            change.data,
            change.id,
            rows,
            locked=True,
            consenting=consented,
            id_free=True,
        )
        return Staged(record_id)

    async def apply_record(row: ServiceRecord, fields: ServiceRecordFields) -> None:
        if row.voided:
            raise Conflict("A voided service record cannot be edited.")
        await records_service.apply_fields(session, principal, row, fields)

    async def read_record(row: ServiceRecord) -> dict[str, Any]:
        return records_service.read_dict(row)

    async def beneficiary_fields(row: Beneficiary) -> BeneficiaryFields:
        return beneficiaries_service.current_fields(row, keyring)

    return {
        "beneficiary": Entity(
            "beneficiary",
            BeneficiaryFields,
            load_beneficiary,
            create_beneficiary,
            beneficiary_fields,
            apply_beneficiary,
            read_beneficiary,
            stage_beneficiary,
            Beneficiary,
            consents_of,
            flag_staged,
        ),
        "service_record": Entity(
            "service_record",
            ServiceRecordFields,
            load_record,
            create_record,
            _record_fields,
            apply_record,
            read_record,
            stage_record,
            ServiceRecord,
            prepare=check_consents,
            edit=_record_edit,
        ),
        **_recorded_once(session, principal, confirm_above),
    }


def _consent_check(
    session: AsyncSession, principal: Principal
) -> tuple[set[uuid.UUID], Callable[[Sequence[ServiceRecordChange]], Awaitable[None]]]:
    """The people consenting to services, and how a batch's records fill it:
    checked once for all of them (records do not change a ledger, and the
    batch's people are written by then)."""
    consented: set[uuid.UUID] = set()

    async def check(changes: Sequence[ServiceRecordChange]) -> None:
        consented.clear()
        consented.update(
            await consent_service.consenting(
                session,
                principal.organisation_id,
                [c.data.beneficiary_id for c in changes],
                *records_service.SERVICE_CONSENTS,
            )
        )

    return consented, check


def _recorded_once(
    session: AsyncSession, principal: Principal, confirm_above: int | None
) -> dict[str, Entity]:
    """Group activities (with their attendance) and anonymous services, made
    by their single-write routes' functions and never edited.
    ``confirm_above``: how many anonymous people one record may count before
    a supervisor must record it (None: every count needs one)."""
    large = 0 if confirm_above is None else confirm_above

    async def load_group(entity_id: uuid.UUID) -> GroupActivity | None:
        try:
            return await records_service.get_group_activity(
                session, principal, entity_id
            )
        except NotFound:
            return None

    async def create_group(change: GroupActivityChange) -> GroupActivity:
        data = GroupActivityCreate.model_validate(
            {**change.data.model_dump(), "id": change.id}
        )
        records_service.confirm_large_count(principal, data.anonymous_attendees, large)
        return await interventions_service.record_group_activity(
            session, principal, data
        )

    async def group_fields(row: GroupActivity) -> BaseModel:
        return await records_service.group_activity_fields(session, row)

    async def read_group(row: GroupActivity) -> dict[str, Any]:
        read = await records_service.group_activity_read(session, principal, row)
        return read.model_dump(mode="json")

    async def load_anonymous(entity_id: uuid.UUID) -> AnonymousService | None:
        try:
            return await records_service.get_anonymous_service(
                session, principal, entity_id
            )
        except NotFound:
            return None

    async def create_anonymous(change: AnonymousServiceChange) -> AnonymousService:
        data = AnonymousServiceCreate.model_validate(
            {**change.data.model_dump(), "id": change.id}
        )
        records_service.confirm_large_count(principal, data.counts, large)
        return await records_service.record_anonymous_service(session, principal, data)

    async def anonymous_fields(row: AnonymousService) -> BaseModel:
        return records_service.anonymous_service_fields(row)

    async def read_anonymous(row: AnonymousService) -> dict[str, Any]:
        return AnonymousServiceRead.model_validate(row).model_dump(mode="json")

    return {
        "group_activity": Entity(
            "group_activity",
            GroupActivityFields,
            load_group,
            create_group,
            group_fields,
            None,
            read_group,
            None,
            GroupActivity,
            canonical=_unordered(
                "attendee_ids", "anonymous_attendees", "participants_by_organisation"
            ),
        ),
        "anonymous_service": Entity(
            "anonymous_service",
            AnonymousServiceFields,
            load_anonymous,
            create_anonymous,
            anonymous_fields,
            None,
            read_anonymous,
            None,
            AnonymousService,
            canonical=_unordered("counts"),
        ),
    }


def _unordered(*lists: str) -> Callable[[BaseModel], Any]:
    """Content in which the order of ``lists`` (attendees, count cells) does
    not matter: a device may list them in any order."""

    def canonical(fields: BaseModel) -> Any:
        content = fields.model_dump(mode="json")
        for name in lists:
            content[name] = sorted(
                content[name], key=lambda item: json.dumps(item, sort_keys=True)
            )
        return content

    return canonical


async def _device_consents(
    session: AsyncSession,
    principal: Principal,
    keyring: KeyRing,
    actor: Actor | None,
    row: Beneficiary,
    change: BeneficiaryChange,
    device_id: str | None,
) -> ConsentOutcome:
    """Consent given or withdrawn offline for a known person: a replay adds
    nothing, a stale grant is kept for a supervisor, and a withdrawal of
    registration is an erasure (done now when the caller may erase and gave
    a reason, else kept for a supervisor)."""
    entries = await consent_service.drop_recorded(session, row, change.consents)
    in_force = (
        await consent_service.consents_in_force(session, row.organisation_id, [row.id])
    )[row.id]
    device = consent_service.against_ledger(in_force, entries, change.consent_version)
    outcome = ConsentOutcome(recorded=bool(device.to_record))
    if device.to_record:
        await consent_service.record_consents(session, principal, row, device.to_record)
    stale = device.stale
    withdrawal = device.withdraws_registration
    if withdrawal is not None:
        if actor is not None and is_supervisor(principal) and actor.reason:
            await rights_service.erase_and_audit(
                session, actor, keyring, row.id, withdrawal
            )
            outcome.erased = True
            return outcome
        stale = [*stale, withdrawal]
    if stale:
        outcome.conflict = await _keep_losing_version(
            session,
            principal,
            keyring,
            CONSENT,
            row,
            {"consents": [e.model_dump(mode="json") for e in stale]},
            change.consent_version,
            consent_service.ledger_version(in_force),
            device_id,
        )
    return outcome


async def apply_batch(
    session: AsyncSession,
    actor: Actor,
    keyring: KeyRing,
    batch: SyncBatch,
    *,
    confirm_above: int | None = None,
    writing: Callable[[], object] | None = None,
) -> list[SyncResult]:
    """Apply a device's batch in the caller's transaction, people first,
    then their services, group activities and anonymous services (the
    single-write routes' own service functions, each in a savepoint).

    A record new to the server passes every check first and is then written
    with the other new records of its kind, one multi-row insert per table
    (duplicate flags found in one query). Any other record (an edit, a
    conflict, a repeated id) runs alone in a savepoint, after the new records
    before it are written, so the batch's order still decides. A rejected
    record leaves no trace; the rest still commit.

    ``writing`` is called as each kind's new records go to the database:
    a caller may then start work that needs no database (an import maps
    its next batch), which fills the wait for PostgreSQL instead of
    slowing the staging."""
    principal = _with_driver_ids(actor.principal)
    kinds = entities(session, principal, keyring, actor, confirm_above)
    await _load_batch(session, principal, batch)
    results: list[SyncResult] = []
    seen: set[uuid.UUID] = set()
    batched: tuple[tuple[Entity, Sequence[Any]], ...] = (
        (kinds["beneficiary"], batch.beneficiaries),
        (kinds["service_record"], batch.service_records),
        (kinds["group_activity"], batch.group_activities),
        (kinds["anonymous_service"], batch.anonymous_services),
    )
    for entity, changes in batched:
        await entity.prepare(changes)
        staging = _Staging(session, principal, keyring, entity, results, writing)
        for change in changes:
            new = (
                entity.stage is not None
                and change.base_version is None
                and change.id not in seen
                and await get_cached(
                    session, entity.model, (principal.organisation_id, change.id)
                )
                is None
            )
            seen.add(change.id)
            if new:
                await staging.stage(change)
                continue
            await staging.write()
            results.append(
                await _apply_one(
                    session, principal, keyring, entity, change, batch.device_id
                )
            )
        await staging.write()
    return results


def _with_driver_ids(principal: Principal) -> Principal:
    """The caller with its organisation's id in asyncpg's class (as the
    batch's ids are: ``DriverId``): every row and look-up of the batch
    names it, and that class hashes and writes it in C."""
    organisation_id = as_driver_id(principal.organisation_id)
    if organisation_id is principal.organisation_id:
        return principal
    return principal.model_copy(update={"organisation_id": organisation_id})


class _Staging:
    """New records of one kind, checked and added inside one savepoint (begun
    before the first, as a savepoint flushes what is pending), then flushed
    together. Should one clash with a row another transaction wrote
    meanwhile, the savepoint is rolled back and each is applied again alone,
    so only the clashing one is rejected."""

    def __init__(
        self,
        session: AsyncSession,
        principal: Principal,
        keyring: KeyRing,
        entity: Entity,
        results: list[SyncResult],
        writing: Callable[[], object] | None = None,
    ):
        self.session, self.principal, self.keyring = session, principal, keyring
        self.entity, self.results, self.writing = entity, results, writing
        self.savepoint: AsyncSessionTransaction | None = None
        self.staged: list[tuple[int, Any, Any]] = []
        self.rows = Rows()

    async def stage(self, change: Any) -> None:
        if self.savepoint is None:
            self.savepoint = await self.session.begin_nested()
        assert self.entity.stage is not None, "only kinds that stage are staged"
        try:
            with collect(self.session, self.rows):
                row = await self.entity.stage(change)
        except (Problem, ValidationError) as exc:
            self.results.append(_rejected(self.entity, change, exc))
            return
        self.staged.append((len(self.results), change, row))
        self.results.append(_created(self.entity, row))

    async def write(self) -> None:
        savepoint, staged = self.savepoint, self.staged
        if savepoint is None:
            return
        self.savepoint, self.staged = None, []
        if self.writing is not None:
            self.writing()
        try:
            with collect(self.session, self.rows):
                await self.entity.finish([(row, change) for _, change, row in staged])
            await self.rows.write(self.session)
        except IntegrityError:
            self.rows.clear()
            await savepoint.rollback()
            for pending in list(self.session.new):  # what the rollback left
                self.session.expunge(pending)
            consent_service.forget_consents(self.session)
            for index, change, _ in staged:
                self.results[index] = await _apply_one(
                    self.session, self.principal, self.keyring, self.entity, change
                )
            return
        await savepoint.commit()
        organisation_id = self.principal.organisation_id
        for _, _, row in staged:
            if isinstance(row, Staged):  # written as a plain row: load if asked
                forget(self.session, self.entity.model, (organisation_id, row.id))
            else:  # a person written as a plain row: the session's row now
                attach(self.session, row)
                pin(self.session, row)


async def _apply_one(
    session: AsyncSession,
    principal: Principal,
    keyring: KeyRing,
    entity: Entity,
    change: Any,
    device_id: str | None = None,
) -> SyncResult:
    """One record in a savepoint of its own: created, updated, unchanged,
    conflict, or rejected with nothing written."""
    try:
        async with session.begin_nested():
            return await _upsert(session, principal, keyring, entity, change, device_id)
    except IntegrityError:
        consent_service.forget_consents(session)
        return SyncResult(
            entity_type=entity.name,
            id=change.id,
            status=SyncStatus.rejected,
            detail="The record clashes with an existing one; send it again.",
        )
    except (Problem, ValidationError) as exc:
        consent_service.forget_consents(session)
        return _rejected(entity, change, exc)


def _created(entity: Entity, row: Any) -> SyncResult:
    return SyncResult(
        entity_type=entity.name,
        id=row.id,
        status=SyncStatus.created,
        version=row.version,
    )


def _rejected(
    entity: Entity, change: Any, exc: Problem | ValidationError
) -> SyncResult:
    if isinstance(exc, Problem):
        return SyncResult(
            entity_type=entity.name,
            id=change.id,
            status=SyncStatus.rejected,
            detail=exc.detail,
            errors=exc.errors,
        )
    return SyncResult(
        entity_type=entity.name,
        id=change.id,
        status=SyncStatus.rejected,
        detail="The record is invalid.",
        errors=[
            FieldError(loc=list(e["loc"]), msg=e["msg"], type=e["type"])
            for e in exc.errors()
        ],
    )


async def _load_batch(
    session: AsyncSession, principal: Principal, batch: SyncBatch
) -> None:
    """Lock the batch's existing rows of the caller's organisation (in id
    order, so two devices never deadlock) as they are loaded, then load
    everything else the batch touches in a few queries instead of several
    per record.

    Not only the rows in the caller's site and team scope are locked: a
    batch also edits, and records services for, people it reaches through
    a break-glass grant, and those need the lock as much (a withdrawal of
    consent committing meanwhile must be seen by the consent check). Each
    record's read still checks the caller's scope."""
    person_ids = (
        {c.id for c in batch.beneficiaries}
        | {c.data.beneficiary_id for c in batch.service_records}
        | {i for c in batch.group_activities for i in c.data.attendee_ids}
    )
    record_ids = {c.id for c in batch.service_records}
    organisation_id = principal.organisation_id
    for model, ids in ((Beneficiary, person_ids), (ServiceRecord, record_ids)):
        await prefetch(session, model, [(organisation_id, i) for i in ids], lock=True)
    await consent_service.consents_in_force(
        session, organisation_id, sorted_ids(person_ids)
    )
    await consent_service.look_up_entry_ids(
        session,
        organisation_id,
        [e.id for c in batch.beneficiaries for e in c.consents or () if e.id],
    )


async def _upsert(
    session: AsyncSession,
    principal: Principal,
    keyring: KeyRing,
    entity: Entity,
    change: Any,
    device_id: str | None,
) -> SyncResult:
    row = await entity.load(change.id)
    if row is not None and getattr(row, "pii_erased_at", None) is not None:
        raise Conflict(
            "This person withdrew consent and their identifying data was erased; "
            "delete the copy on the device."
        )
    if row is not None and getattr(row, "merged_into_id", None) is not None:
        raise Conflict(
            "This record was merged into another person's record; fetch that "
            "person and delete this copy on the device.",
            current={"merged_into_id": str(row.merged_into_id)},
        )
    if row is None:
        if change.base_version is not None:
            raise NotFound(
                f"No such {entity.name} (edited offline as version "
                f"{change.base_version})."
            )
        return _created(entity, await entity.create(change))
    consents = await entity.side_ledger(row, change, device_id)
    await session.flush()
    if consents.erased:
        return SyncResult(
            entity_type=entity.name,
            id=row.id,
            status=SyncStatus.updated,
            version=row.version,
            detail="Registration consent withdrawn: identifying data erased; "
            "delete the copy on the device.",
        )
    result = await _apply_fields(
        session, principal, keyring, entity, row, change, device_id
    )
    if consents.conflict is not None and result.status != SyncStatus.conflict:
        return SyncResult(
            entity_type=entity.name,
            id=row.id,
            status=SyncStatus.conflict,
            version=row.version,
            conflict_id=consents.conflict.id,
            server_copy=await entity.read(row),
            detail="The person's consents changed on the server after the "
            f"consent_version you sent ({change.consent_version}); your "
            "consents are kept for a supervisor to resolve, not recorded.",
        )
    if consents.recorded and result.status == SyncStatus.unchanged:
        result.status = SyncStatus.updated
    return result


async def _apply_fields(
    session: AsyncSession,
    principal: Principal,
    keyring: KeyRing,
    entity: Entity,
    row: Any,
    change: Any,
    device_id: str | None,
) -> SyncResult:
    """A known record's fields: unchanged, updated, or a conflict kept (a
    record never edited once recorded keeps every other content as one).
    The content is read against the record first (``Entity.edit``), so an
    old device's edit sent again is unchanged."""
    data = entity.edit(row, change.data)
    if await _same(entity, principal, row, data):
        return SyncResult(
            entity_type=entity.name,
            id=row.id,
            status=SyncStatus.unchanged,
            version=row.version,
        )
    if change.base_version == row.version and entity.apply is not None:
        await entity.apply(row, data)
        return SyncResult(
            entity_type=entity.name,
            id=row.id,
            status=SyncStatus.updated,
            version=row.version,
        )
    conflict = await _keep_losing_version(
        session,
        principal,
        keyring,
        entity.name,
        row,
        data.model_dump(mode="json"),
        change.base_version or 0,
        row.version,
        device_id,
    )
    return SyncResult(
        entity_type=entity.name,
        id=row.id,
        status=SyncStatus.conflict,
        version=row.version,
        conflict_id=conflict.id,
        server_copy=await entity.read(row),
        detail=_conflict_detail(entity, row, change.base_version),
    )


def _conflict_detail(entity: Entity, row: Any, base_version: int | None) -> str:
    if base_version is None:
        return "A record with this id exists with other content."
    if base_version != row.version:
        return (
            "The server changed this record since your version "
            f"{base_version}; yours is kept for a supervisor to resolve."
        )
    return (
        f"A {entity.name.replace('_', ' ')} is recorded once and not edited; "
        "yours is kept for a supervisor to resolve."
    )


async def _same(
    entity: Entity, principal: Principal, row: Any, client: BaseModel
) -> bool:
    """Whether the server holds what the device sent, as the server would
    have recorded it (a team-scoped user's team filled in)."""
    if isinstance(client, DeliveryTags):
        team_id = teams_service.recorded_team(principal, client.team_id)
        client = client.model_copy(update={"team_id": team_id})
    server = entity.canonical(await entity.state(row))
    return bool(server == entity.canonical(client))


async def _keep_losing_version(
    session: AsyncSession,
    principal: Principal,
    keyring: KeyRing,
    entity_type: str,
    row: Any,
    content: dict[str, Any],
    base_version: int,
    server_version: int,
    device_id: str | None,
) -> SyncConflict:
    """Keep what the device sent, once however often it is sent again."""
    payload = json.dumps(content, sort_keys=True)
    digest = keyring.digest(payload)
    existing = (
        (
            await session.execute(
                select(SyncConflict).where(
                    col(SyncConflict.organisation_id) == principal.organisation_id,
                    col(SyncConflict.entity_id) == row.id,
                    col(SyncConflict.base_version) == base_version,
                    col(SyncConflict.payload_digest).in_(keyring.digests(payload)),
                )
            )
        )
        .scalars()
        .first()
    )
    if existing is not None:
        return existing
    conflict_id = new_id()
    conflict = SyncConflict(
        id=conflict_id,
        organisation_id=principal.organisation_id,
        entity_type=entity_type,
        entity_id=row.id,
        device_id=device_id,
        submitted_by=principal.subject,
        base_version=base_version,
        server_version=server_version,
        payload_enc=keyring.encrypt(payload, _conflict_context(conflict_id)) or "",
        payload_digest=digest,
    )
    session.add(conflict)
    await session.flush()
    return conflict


def _conflict_context(conflict_id: uuid.UUID) -> str:
    return f"sync_conflict:{conflict_id}:payload"


def conflict_read(conflict: SyncConflict, keyring: KeyRing) -> ConflictRead:
    payload = keyring.decrypt(conflict.payload_enc, _conflict_context(conflict.id))
    return ConflictRead(
        id=conflict.id,
        entity_type=conflict.entity_type,
        entity_id=conflict.entity_id,
        device_id=conflict.device_id,
        submitted_by=conflict.submitted_by,
        base_version=conflict.base_version,
        server_version=conflict.server_version,
        client_version=json.loads(payload or "{}"),
        status=conflict.status,
        resolution=conflict.resolution,
        resolved_by=conflict.resolved_by,
        resolved_at=conflict.resolved_at,
        created_at=conflict.created_at,
    )


async def list_conflicts(
    session: AsyncSession,
    principal: Principal,
    keyring: KeyRing,
    status: ConflictStatus | None,
    *,
    cursor: str | None,
    limit: int,
) -> Page[SyncConflict]:
    """Conflicts on records the caller sees (site scope), oldest first. Pages
    are filled past the conflicts on records out of scope, so a short page
    means the last."""
    statement = select(SyncConflict).where(
        col(SyncConflict.organisation_id) == principal.organisation_id
    )
    if status is not None:
        statement = statement.where(col(SyncConflict.status) == status)
    kinds = entities(session, principal, keyring)
    visible: list[SyncConflict] = []
    while True:
        scanned = await ordered_page(
            session,
            statement,
            keys=[(col(SyncConflict.created_at), aware_datetime)],
            cursor=cursor,
            limit=limit - len(visible),
        )
        for conflict in scanned.items:
            if await _kind(kinds, conflict).load(conflict.entity_id) is not None:
                visible.append(conflict)
        cursor = scanned.next_cursor
        if cursor is None or len(visible) == limit:
            return Page(items=visible, next_cursor=cursor)


def _kind(kinds: dict[str, Entity], conflict: SyncConflict) -> Entity:
    """A consent conflict is about the person."""
    if conflict.entity_type == CONSENT:
        return kinds["beneficiary"]
    return kinds[conflict.entity_type]


async def resolve_conflict(
    session: AsyncSession,
    actor: Actor,
    keyring: KeyRing,
    conflict_id: uuid.UUID,
    resolution: ConflictResolution,
) -> SyncConflict:
    """Keep the server's version, or apply the client's as a new version (for
    consents: record them, once the supervisor has confirmed them with the
    person; a withdrawal of registration erases, with a reason)."""
    principal = actor.principal
    conflict = (
        await session.execute(
            select(SyncConflict)
            .where(
                col(SyncConflict.id) == conflict_id,
                col(SyncConflict.organisation_id) == principal.organisation_id,
            )
            .with_for_update()
        )
    ).scalar_one_or_none()
    if conflict is None:
        raise NotFound("No such conflict.")
    entity = _kind(entities(session, principal, keyring), conflict)
    model = entity.model
    await session.execute(  # lock before a possible edit
        select(model)
        .where(
            col(model.organisation_id) == conflict.organisation_id,
            col(model.id) == conflict.entity_id,
        )
        .with_for_update()
    )
    row = await entity.load(conflict.entity_id)
    if row is None:
        raise NotFound("No such conflict.")
    if conflict.status == ConflictStatus.resolved:
        raise Conflict(f"This conflict was resolved already ({conflict.resolution}).")
    if resolution == ConflictResolution.apply_client:
        payload = keyring.decrypt(conflict.payload_enc, _conflict_context(conflict.id))
        content = json.loads(payload or "{}")
        if conflict.entity_type == CONSENT:
            await _apply_consents(
                session,
                actor,
                keyring,
                row,
                content["consents"],
                conflict.server_version,
            )
        else:
            fields = entity.fields_model.model_validate(content)
            if not await _same(entity, principal, row, fields):
                if entity.apply is None:
                    raise Conflict(
                        f"A {entity.name.replace('_', ' ')} is not edited once "
                        "recorded; keep the server's version."
                    )
                await entity.apply(row, fields)
    conflict.status = ConflictStatus.resolved
    conflict.resolution = resolution
    conflict.resolved_by = principal.subject
    conflict.resolved_at = utcnow()
    await session.flush()
    return conflict


async def _apply_consents(
    session: AsyncSession,
    actor: Actor,
    keyring: KeyRing,
    row: Beneficiary,
    kept: list[dict[str, Any]],
    server_version: int,
) -> None:
    """The consents of a consent conflict, recorded as confirmed now, unless
    the ledger changed again since the conflict was kept: a grant decided
    over since is refused (409), so resolving an old conflict never undoes
    a newer no."""
    entries = [ConsentGiven.model_validate(e) for e in kept]
    in_force = (
        await consent_service.consents_in_force(session, row.organisation_id, [row.id])
    )[row.id]
    check = consent_service.against_ledger(in_force, entries, server_version)
    if check.stale:
        raise Conflict(
            "The person's consents changed again after this conflict was kept; "
            "keep the server's version and record their consent anew."
        )
    if check.to_record:
        await consent_service.record_consents(
            session, actor.principal, row, check.to_record
        )
    if check.withdraws_registration is not None:
        await rights_service.erase_and_audit(
            session, actor, keyring, row.id, check.withdraws_registration
        )


async def changes_since(
    session: AsyncSession,
    principal: Principal,
    keyring: KeyRing,
    cursor: int,
) -> ChangesPage:
    """Current state of every record in scope that changed after ``cursor``
    (a change-feed position, so nothing committed late is skipped)."""
    events = list(
        (
            await session.execute(
                select(
                    col(OutboxEvent.entity_type),
                    col(OutboxEvent.entity_id),
                    col(OutboxEvent.position),
                )
                .where(
                    col(OutboxEvent.organisation_id) == principal.organisation_id,
                    col(OutboxEvent.position) > cursor,
                    col(OutboxEvent.entity_type).in_(["beneficiary", "service_record"]),
                )
                .order_by(col(OutboxEvent.position))
                .limit(CHANGES_PAGE_EVENTS)
            )
        ).all()
    )
    changed: dict[str, list[uuid.UUID]] = {"beneficiary": [], "service_record": []}
    for entity_type, entity_id, _ in events:
        if entity_id not in changed[entity_type]:
            changed[entity_type].append(entity_id)
    beneficiaries = (
        await session.execute(
            beneficiaries_service.scoped(select(Beneficiary), principal).where(
                col(Beneficiary.id).in_(changed["beneficiary"])
            )
        )
    ).scalars()
    records = (
        await session.execute(
            records_service.scoped(select(ServiceRecord), principal).where(
                col(ServiceRecord.id).in_(changed["service_record"])
            )
        )
    ).scalars()
    return ChangesPage(
        beneficiaries=[
            await beneficiaries_service.to_read(session, keyring, b, principal)
            for b in beneficiaries
        ],
        service_records=[ServiceRecordRead.model_validate(r) for r in records],
        next_cursor=events[-1][2] if events else cursor,
        has_more=len(events) == CHANGES_PAGE_EVENTS,
    )
