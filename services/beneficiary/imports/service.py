"""Mappings and import jobs: store a mapping as a new version, start an
import (the file or the Kobo token kept encrypted until done), and run it
batch by batch through ``sync.service.apply_batch``, each batch and its
progress committed together, so a run stopped anywhere resumes without
losing or doubling a row."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import httpx
import structlog
from pydantic import ValidationError
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import QueryableAttribute, defer
from sqlmodel import col

from services.beneficiary.audit.models import AuditEntry
from services.beneficiary.imports.mapping import (
    Converted,
    MappingSpec,
    Refusal,
    Sites,
    convert,
)
from services.beneficiary.imports.models import (
    ImportJob,
    ImportMapping,
    ImportRefusal,
    ImportStatus,
    SourceKind,
)
from services.beneficiary.imports.schemas import (
    ImportCreate,
    ImportMappingCreate,
    ImportRead,
)
from services.beneficiary.imports.sources import (
    NO_LIMITS,
    FileLimits,
    KoboPull,
    Row,
    SourceFailed,
    read_file,
)
from services.beneficiary.locations.models import Location
from services.beneficiary.settings import BeneficiarySettings
from services.beneficiary.sync import service as sync_service
from services.beneficiary.sync.schemas import SyncBatch, SyncResult, SyncStatus
from shared.audit import Actor, record_access
from shared.auth import Principal, Role
from shared.contracts.enums import LocationLevel
from shared.crypto import KeyRing
from shared.db import utcnow
from shared.errors import FieldError, Forbidden, Invalid, NotFound
from shared.outbox import PUBLISH_OUTBOX_JOB
from shared.pagination import (
    Page,
    aware_datetime,
    decode_cursor,
    encode_cursor,
    keyset_page,
)
from shared.queue import JobQueue, send_deferred_jobs

log = structlog.get_logger(__name__)
RUN_IMPORT = "run_import"
TOUCHED = (SyncStatus.created, SyncStatus.updated, SyncStatus.conflict)
WITHOUT_SOURCE = (
    defer(cast(QueryableAttribute[Any], ImportJob.source_enc), raiseload=True),
    defer(cast(QueryableAttribute[Any], ImportJob.kobo_token_enc), raiseload=True),
)
"""Load options for a job read for its progress: the stored file (the whole
export, encrypted: 35 MB for 100,000 Kobo rows) is read once per run, not
with every batch's lock, every progress line or every poll of the API."""


# Mappings


async def create_mapping(
    session: AsyncSession, principal: Principal, data: ImportMappingCreate
) -> ImportMapping:
    """A mapping under its name: the next version when the name exists."""
    latest = (
        await session.execute(
            select(func.max(col(ImportMapping.version))).where(
                col(ImportMapping.organisation_id) == principal.organisation_id,
                col(ImportMapping.name) == data.name,
            )
        )
    ).scalar_one_or_none()
    row = ImportMapping(
        id=data.id or uuid.uuid4(),
        organisation_id=principal.organisation_id,
        name=data.name,
        version=(latest or 0) + 1,
        spec=data.spec.model_dump(mode="json"),
        created_by=principal.subject,
    )
    session.add(row)
    await session.flush()
    return row


async def get_mapping(
    session: AsyncSession, principal: Principal, mapping_id: uuid.UUID
) -> ImportMapping:
    row = await session.get(ImportMapping, mapping_id)
    if row is None or row.organisation_id != principal.organisation_id:
        raise NotFound("No such import mapping.")
    return row


async def list_mappings(
    session: AsyncSession, principal: Principal, cursor: str | None, limit: int
) -> Page[ImportMapping]:
    """By name, newest version first."""
    statement = select(ImportMapping).where(
        col(ImportMapping.organisation_id) == principal.organisation_id
    )
    after = decode_cursor(cursor, 2)
    if after is not None:
        statement = statement.where(
            (col(ImportMapping.name) > str(after[0]))
            | (
                (col(ImportMapping.name) == str(after[0]))
                & (col(ImportMapping.version) < int(after[1]))
            )
        )
    rows = list(
        (
            await session.execute(
                statement.order_by(
                    col(ImportMapping.name), col(ImportMapping.version).desc()
                ).limit(limit + 1)
            )
        ).scalars()
    )
    if len(rows) <= limit:
        return Page(items=rows)
    rows = rows[:limit]
    return Page(
        items=rows, next_cursor=encode_cursor([rows[-1].name, rows[-1].version])
    )


# Imports


def _source_context(import_id: uuid.UUID) -> str:
    return f"import_job:{import_id}:source"


def _token_context(import_id: uuid.UUID) -> str:
    return f"import_job:{import_id}:token"


async def start_import(
    session: AsyncSession,
    principal: Principal,
    keyring: KeyRing,
    data: ImportCreate,
    kobo_servers: list[str],
    limits: FileLimits,
) -> ImportJob:
    """An import job, queued: the file (or the Kobo token) is stored
    encrypted for the job, which runs as the caller (their roles and
    sites), so it can write nothing the caller could not. A token limited
    to one team may not: the job keeps no team, so its records would land
    outside the team the token is held to."""
    if principal.team_id is not None:
        raise Forbidden(
            "Imports run for sites, not teams: ask for a token not limited to a team."
        )
    mapping = await get_mapping(session, principal, data.mapping_id)
    job = ImportJob(
        id=data.id or uuid.uuid4(),
        organisation_id=principal.organisation_id,
        mapping_id=mapping.id,
        dry_run=data.dry_run,
        source_kind=SourceKind.kobo,
        started_by=principal.subject,
        roles=sorted(str(r) for r in principal.roles),
        site_ids=(
            sorted(str(s) for s in principal.site_ids)
            if principal.site_ids is not None
            else None
        ),
    )
    if data.file is not None:
        try:
            content = base64.b64decode(data.file.content_base64, validate=True)
        except ValueError:
            raise _invalid(["body", "file", "content_base64"], "not base64") from None
        # refuses an unreadable or oversized file now, before anything is stored
        rows = read_file(content, data.file.format, limits)
        job.source_kind = SourceKind(data.file.format)
        job.source_name = data.file.name
        job.total = len(rows)
        job.source_enc = keyring.encrypt(
            base64.b64encode(content).decode(), _source_context(job.id)
        )
    elif data.kobo is not None:
        server = data.kobo.server.rstrip("/")
        if server not in [s.rstrip("/") for s in kobo_servers]:
            raise _invalid(
                ["body", "kobo", "server"],
                "not a KoboToolbox server this platform may reach "
                "(BENEFICIARY_IMPORT_KOBO_SERVERS)",
            )
        job.kobo_server = server
        job.kobo_asset_uid = data.kobo.asset_uid
        job.kobo_token_enc = keyring.encrypt(data.kobo.token, _token_context(job.id))
    session.add(job)
    await session.flush()
    return job


def _invalid(loc: list[str | int], msg: str) -> Invalid:
    return Invalid(
        "The import cannot start.", errors=[FieldError(loc=loc, msg=msg, type="value")]
    )


def _readable(principal: Principal) -> Select[ImportJob]:
    """A manager limited to some sites or to a team sees the imports they
    started; a manager of the whole organisation sees all of its imports."""
    statement = (
        select(ImportJob)
        .options(*WITHOUT_SOURCE)
        .where(col(ImportJob.organisation_id) == principal.organisation_id)
    )
    if principal.site_ids is not None or principal.team_id is not None:
        statement = statement.where(col(ImportJob.started_by) == principal.subject)
    return statement


async def get_import(
    session: AsyncSession,
    principal: Principal,
    import_id: uuid.UUID,
    *,
    lock: bool = False,
) -> ImportJob:
    statement = _readable(principal).where(col(ImportJob.id) == import_id)
    if lock:
        statement = statement.with_for_update()
    job = (await session.execute(statement)).scalar_one_or_none()
    if job is None:
        raise NotFound("No such import.")
    return job


async def list_imports(
    session: AsyncSession, principal: Principal, cursor: str | None, limit: int
) -> Page[ImportJob]:
    rows, next_cursor = await keyset_page(
        session,
        _readable(principal),
        key=col(ImportJob.created_at),
        parse_key=aware_datetime,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=rows, next_cursor=next_cursor)


async def list_refusals(
    session: AsyncSession,
    principal: Principal,
    import_id: uuid.UUID,
    cursor: str | None,
    limit: int,
) -> Page[ImportRefusal]:
    """In row order."""
    job = await get_import(session, principal, import_id)
    statement = select(ImportRefusal).where(
        col(ImportRefusal.organisation_id) == job.organisation_id,
        col(ImportRefusal.import_id) == job.id,
    )
    after = decode_cursor(cursor, 2)
    if after is not None:
        try:
            row, last = int(after[0]), uuid.UUID(str(after[1]))
        except (TypeError, ValueError):
            raise Invalid("The cursor is not one this API issued.") from None
        statement = statement.where(
            (col(ImportRefusal.row_number) > row)
            | ((col(ImportRefusal.row_number) == row) & (col(ImportRefusal.id) > last))
        )
    rows = list(
        (
            await session.execute(
                statement.order_by(
                    col(ImportRefusal.row_number), col(ImportRefusal.id)
                ).limit(limit + 1)
            )
        ).scalars()
    )
    if len(rows) <= limit:
        return Page(items=rows)
    rows = rows[:limit]
    return Page(
        items=rows, next_cursor=encode_cursor([rows[-1].row_number, str(rows[-1].id)])
    )


async def resume_import(
    session: AsyncSession, principal: Principal, import_id: uuid.UUID
) -> ImportJob:
    """A failed import queued again, from the row its last batch ended at."""
    job = await get_import(session, principal, import_id, lock=True)
    if job.status == ImportStatus.failed:
        job.status = ImportStatus.queued
        job.error = None
        job.updated_at = utcnow()
        await session.flush()
    return job


def read_model(job: ImportJob) -> ImportRead:
    """The job with its rate (rows a second since it started) and the
    time left at that rate."""
    rate = eta = None
    if job.started_at is not None and job.next_row:
        elapsed = ((job.finished_at or job.updated_at) - job.started_at).total_seconds()
        if elapsed > 0:
            rate = round(job.next_row / elapsed, 1)
            if job.total is not None and job.status != ImportStatus.done:
                eta = round(max(job.total - job.next_row, 0) / rate, 1)
    return ImportRead(
        id=job.id,
        mapping_id=job.mapping_id,
        dry_run=job.dry_run,
        status=job.status,
        source_kind=job.source_kind,
        source_name=job.source_name,
        kobo_asset_uid=job.kobo_asset_uid,
        started_by=job.started_by,
        total=job.total,
        done=job.next_row,
        refused=job.refused,
        outcomes=job.outcomes,
        rows_per_second=rate,
        seconds_left=eta,
        error=job.error,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


# Running


@dataclass
class RunSettings:
    """What a run needs besides the database: batch size and the Kobo
    client's patience."""

    batch_rows: int
    kobo_timeout_seconds: float
    kobo_tries: int
    kobo_backoff_seconds: float


Progress = Callable[[ImportJob], Awaitable[None] | None]


async def run_import(
    engine: AsyncEngine,
    keyring: KeyRing,
    queue: JobQueue,
    http: httpx.AsyncClient,
    settings: RunSettings,
    import_id: uuid.UUID,
    *,
    deadline: float | None = None,
    progress: Progress | None = None,
) -> ImportStatus | None:
    """Run an import from its ``next_row`` until the rows end (done), the
    source fails (failed, resumable), or ``deadline`` (monotonic) passes
    (running: the caller queues the rest). Returns the status, None for no
    such job."""
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        job = (
            await session.execute(
                select(ImportJob)
                .where(col(ImportJob.id) == import_id)
                .with_for_update()
            )
        ).scalar_one_or_none()
        if job is None or job.status == ImportStatus.done:
            return job.status if job else None
        mapping = await session.get(ImportMapping, job.mapping_id)
        assert mapping is not None
        sites = await _sites(session)
        job.status = ImportStatus.running
        job.started_at = job.started_at or utcnow()
        job.error = None
        job.updated_at = utcnow()
    spec = MappingSpec.model_validate(mapping.spec)
    actor = Actor(
        principal=Principal(
            subject=job.started_by,
            organisation_id=job.organisation_id,
            roles=frozenset(Role(r) for r in job.roles),
            site_ids=(
                frozenset(uuid.UUID(s) for s in job.site_ids)
                if job.site_ids is not None
                else None
            ),
        ),
        reason=f"import {job.id}",
        request_id=None,
    )
    reader = _reader(job, keyring, settings, http)
    first = 1 if job.source_kind == SourceKind.kobo else 2  # a file's header

    async def fetch(start: int, may_map: asyncio.Event) -> Batch:
        rows, total, more = await reader(start, settings.batch_rows)
        await may_map.wait()
        converted = await asyncio.to_thread(
            _convert, spec, rows, start + first, job.organisation_id, sites
        )
        return rows, total, more, converted

    position = job.next_row
    may_map = asyncio.Event()
    may_map.set()
    ahead = asyncio.ensure_future(fetch(position, may_map))
    try:
        while True:
            try:
                rows, total, more, converted = await ahead
            except SourceFailed as failure:
                await _stop(engine, job.id, ImportStatus.failed, str(failure))
                log.warning("import_failed", import_id=str(job.id), error=str(failure))
                return ImportStatus.failed
            if not rows:
                await _stop(engine, job.id, ImportStatus.done, None)
                return ImportStatus.done
            may_map = asyncio.Event()
            if more:  # the next batch is read while this one is written, and
                # mapped once this one's rows go to the database (``writing``)
                ahead = asyncio.ensure_future(fetch(position + len(rows), may_map))
            moved = await _apply_rows(
                engine,
                queue,
                keyring,
                spec,
                actor,
                job,
                position,
                rows,
                converted,
                total,
                writing=may_map.set,
            )
            may_map.set()  # a batch with nothing new to write: map the next now
            if moved is None:  # another run of this job went ahead: leave it to it
                return ImportStatus.running
            position = moved.next_row
            if progress is not None:
                shown = progress(moved)
                if shown is not None:
                    await shown
            if not more:
                await _stop(engine, job.id, ImportStatus.done, None)
                return ImportStatus.done
            if deadline is not None and time.monotonic() > deadline:
                return ImportStatus.running
    finally:
        _drop(ahead)


Batch = tuple[list[Row], int | None, bool, list[Converted]]
"""A batch's rows, the source's total, whether more follow, and the rows
converted to sync changes."""


def _convert(
    spec: MappingSpec,
    rows: list[Row],
    first_row: int,
    organisation_id: uuid.UUID,
    sites: Sites,
) -> list[Converted]:
    """The rows as sync changes, each new person's registration validated
    here too (in the thread, while the batch before is written), not on the
    event loop as the batch is staged."""
    converted = [
        convert(spec, row, first_row + i, organisation_id, sites)
        for i, row in enumerate(rows)
    ]
    for c in converted:
        if c.person is not None and c.person.base_version is None:
            with suppress(ValidationError):  # refused as it is staged
                c.person._registration = sync_service.registration(c.person)
    return converted


def _drop(ahead: asyncio.Future[Batch]) -> None:
    """A batch read ahead that will not be written (the run stopped): cancel
    it, or take its failure so that it is not reported as never retrieved."""
    if not ahead.done():
        ahead.cancel()
    elif not ahead.cancelled():
        ahead.exception()


Reader = Callable[[int, int], Awaitable[tuple[list[Row], int | None, bool]]]


def _reader(
    job: ImportJob, keyring: KeyRing, settings: RunSettings, http: httpx.AsyncClient
) -> Reader:
    """Rows from ``start``: the stored file, parsed once per run, or the
    Kobo API page by page."""
    if job.source_kind == SourceKind.kobo:
        token = keyring.decrypt(job.kobo_token_enc, _token_context(job.id)) or ""
        pull = KoboPull(
            server=job.kobo_server or "",
            asset_uid=job.kobo_asset_uid or "",
            token=token,
            timeout_seconds=settings.kobo_timeout_seconds,
            tries=settings.kobo_tries,
            backoff_seconds=settings.kobo_backoff_seconds,
        )

        async def page(start: int, limit: int) -> tuple[list[Row], int | None, bool]:
            return await pull.page(http, start, limit)

        return page
    encoded = keyring.decrypt(job.source_enc, _source_context(job.id)) or ""
    rows = read_file(base64.b64decode(encoded), job.source_kind, NO_LIMITS)

    async def sliced(start: int, limit: int) -> tuple[list[Row], int | None, bool]:
        return rows[start : start + limit], len(rows), start + limit < len(rows)

    return sliced


async def _apply_rows(
    engine: AsyncEngine,
    queue: JobQueue,
    keyring: KeyRing,
    spec: MappingSpec,
    actor: Actor,
    job: ImportJob,
    position: int,
    rows: list[Row],
    converted: list[Converted],
    total: int | None,
    *,
    writing: Callable[[], object] | None = None,
) -> ImportJob | None:
    """One batch (its rows and their conversion) and its progress in one
    transaction (a dry run's writes rolled back inside it). Returns the job
    as committed (its ``next_row`` the new position: no read again for the
    progress), or None when the job's stored position is not ``position``
    (another run applied this batch). Nothing is expired at the commit: the
    session ends there, and expiring each of the batch's rows was 1.5 % of
    an import's CPU. ``writing``: called as the batch's new rows go to the
    database (``sync.service.apply_batch``)."""
    batch = SyncBatch(
        device_id=f"import:{job.id}",
        beneficiaries=[c.person for c in converted if c.person is not None],
        service_records=[c.service for c in converted if c.service is not None],
    )
    async with AsyncSession(engine, expire_on_commit=False) as session:
        async with session.begin():
            locked = (
                await session.execute(
                    select(ImportJob)
                    .options(*WITHOUT_SOURCE)
                    .where(col(ImportJob.id) == job.id)
                    .with_for_update()
                )
            ).scalar_one()
            if locked.next_row != position or locked.status == ImportStatus.done:
                return None
            results: list[SyncResult] = []
            if batch.beneficiaries or batch.service_records:
                if job.dry_run:
                    trial = await session.begin_nested()
                    results = await sync_service.apply_batch(
                        session, actor, keyring, batch, writing=writing
                    )
                    await trial.rollback()
                    session.info.pop("jobs_after_commit", None)
                else:
                    results = await sync_service.apply_batch(
                        session, actor, keyring, batch, writing=writing
                    )
                    touched = [
                        r.id
                        for r in results
                        if r.entity_type == "beneficiary" and r.status in TOUCHED
                    ]
                    if touched:
                        record_access(
                            session,
                            AuditEntry,
                            actor,
                            action="import",
                            entity_type="beneficiary",
                            entity_ids=touched,
                        )
            refusals = _refusals(spec, converted, results)
            session.add_all(
                ImportRefusal(
                    organisation_id=job.organisation_id,
                    import_id=job.id,
                    row_number=r.row_number,
                    field=r.field[:255],
                    reason=r.reason[:1000],
                )
                for r in refusals
            )
            outcomes = {k: dict(v) for k, v in locked.outcomes.items()}
            for result in results:
                kind = outcomes.setdefault(result.entity_type, {})
                kind[result.status] = kind.get(result.status, 0) + 1
            locked.outcomes = outcomes
            locked.refused += len({r.row_number for r in refusals})
            locked.next_row = position + len(rows)
            locked.total = total if total is not None else locked.total
            locked.updated_at = utcnow()
        if not job.dry_run:
            await send_deferred_jobs(session, queue)
            if any(
                r.status in (SyncStatus.created, SyncStatus.updated) for r in results
            ):
                await queue.enqueue(
                    PUBLISH_OUTBOX_JOB, job_id=f"beneficiary:{PUBLISH_OUTBOX_JOB}"
                )
    return locked


def _refusals(
    spec: MappingSpec, converted: list[Converted], results: list[SyncResult]
) -> list[Refusal]:
    """The mapping's refusals, and the records ``apply_batch`` rejected, by
    row: a result names its record's id, which names the row."""
    refusals = [r for c in converted for r in c.refusals]
    columns: dict[str, str] = {}
    for part in (spec.service, spec.person):
        if part is not None:
            columns.update({str(k): v for k, v in part.fields.items()})
    if spec.sites is not None:
        columns["site_id"] = spec.sites.field
    rows: dict[tuple[str, uuid.UUID], list[int]] = {}
    for c in converted:  # a submission repeated in the file: one row each
        for entity, change in (
            ("beneficiary", c.person),
            ("service_record", c.service),
        ):
            if change is not None:
                rows.setdefault((entity, change.id), []).append(c.row_number)
    for result in results:
        row_number = rows[(result.entity_type, result.id)].pop(0)
        if result.status != SyncStatus.rejected:
            continue
        kind = "person" if result.entity_type == "beneficiary" else "service"
        if not result.errors:
            refusals.append(Refusal(row_number, kind, result.detail or "refused"))
        for error in result.errors:
            name = next((str(p) for p in reversed(error.loc) if p != "data"), kind)
            refusals.append(
                Refusal(
                    row_number,
                    columns.get(name, name),
                    f"{kind}: {error.msg}" if error.msg else result.detail or "",
                )
            )
    return sorted(refusals, key=lambda r: r.row_number)


async def _sites(session: AsyncSession) -> Sites:
    """Every site by P-code, and by name where the name is unique."""
    rows = (
        await session.execute(
            select(col(Location.id), col(Location.pcode), col(Location.name)).where(
                col(Location.level) == LocationLevel.site
            )
        )
    ).all()
    names: dict[str, list[uuid.UUID]] = {}
    for site_id, _, name in rows:
        names.setdefault(name.strip().lower(), []).append(site_id)
    return Sites(
        by_pcode={pcode: site_id for site_id, pcode, _ in rows if pcode},
        by_name={name: ids[0] for name, ids in names.items() if len(ids) == 1},
    )


async def _stop(
    engine: AsyncEngine, import_id: uuid.UUID, status: ImportStatus, error: str | None
) -> None:
    """Done (the file and the token dropped: nothing to resume) or failed
    (both kept, to resume)."""
    async with AsyncSession(engine) as session, session.begin():
        job = await session.get(
            ImportJob, import_id, with_for_update=True, options=WITHOUT_SOURCE
        )
        assert job is not None
        job.status = status
        job.error = error[:2000] if error else None
        job.updated_at = utcnow()
        if status == ImportStatus.done:
            job.finished_at = job.updated_at
            job.source_enc = job.kobo_token_enc = None


async def stalled_imports(
    engine: AsyncEngine, seconds: float
) -> list[tuple[uuid.UUID, datetime]]:
    """Imports queued or running whose progress has not moved for ``seconds``."""
    before = utcnow() - timedelta(seconds=seconds)
    async with AsyncSession(engine) as session, session.begin():
        rows = await session.execute(
            select(col(ImportJob.id), col(ImportJob.updated_at)).where(
                col(ImportJob.status).in_([ImportStatus.queued, ImportStatus.running]),
                col(ImportJob.updated_at) < before,
            )
        )
        return [(r[0], r[1]) for r in rows]


def file_limits(settings: BeneficiarySettings) -> FileLimits:
    """The limits an imported file is held to, from the settings."""
    return FileLimits(
        max_file_bytes=settings.import_max_file_bytes,
        max_rows=settings.import_max_rows,
        max_unpacked_bytes=settings.import_max_unpacked_bytes,
    )
