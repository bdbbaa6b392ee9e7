"""HTTP API for imports: store a mapping (a new version per name), start an
import or a dry run, follow its progress, read its refused rows, resume one
that failed. Programme managers (and admins) import; a token limited to some
sites writes into those sites only, as sync would."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.beneficiary.access import ManagerActor
from services.beneficiary.audit.models import audit_log
from services.beneficiary.db import OnceDep
from services.beneficiary.imports import service as imports_service
from services.beneficiary.imports.jobs import run_import
from services.beneficiary.imports.models import ImportJob, ImportMapping, ImportStatus
from services.beneficiary.imports.schemas import (
    ImportCreate,
    ImportMappingCreate,
    ImportMappingRead,
    ImportRead,
    ImportRefusalRead,
)
from services.beneficiary.settings import settings_of
from shared.app import RuntimeDep
from shared.audit import Actor
from shared.db import SessionDep
from shared.errors import (
    Forbidden,
    Invalid,
    NotFound,
    PayloadTooLarge,
    problem_responses,
)
from shared.idempotency import Once
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from shared.queue import defer_job

router = APIRouter(tags=["imports"])
R = TypeVar("R", bound=BaseModel)


async def _answer_job(
    once: Once,
    session: AsyncSession,
    actor: Actor,
    route: str,
    body: ImportCreate | None,
    act: Callable[[], Awaitable[ImportJob]],
    action: str,
) -> ImportRead:
    """Start or resume an import once per key, audited; the answer is the job
    as it stands (a replay loads the job the first request touched)."""
    principal = actor.principal

    async def load(existing: uuid.UUID) -> ImportJob:
        return await imports_service.get_import(session, principal, existing)

    async def render(job: ImportJob) -> ImportRead:
        return imports_service.read_model(job)

    return await once.answer(
        principal,
        route,
        body,
        act,
        load,
        render,
        audit=audit_log.trail(actor, action, "import_job"),
    )


@router.post(
    "/v1/import-mappings",
    status_code=201,
    response_model=ImportMappingRead,
    responses=problem_responses(Forbidden, Invalid),
)
async def create_import_mapping(
    body: ImportMappingCreate, session: SessionDep, actor: ManagerActor, once: OnceDep
) -> ImportMappingRead:
    """Store how a form's submissions become people and service records.
    The same name again is its next version; imports name the version."""
    principal = actor.principal

    async def create() -> ImportMapping:
        return await imports_service.create_mapping(session, principal, body)

    async def load(existing: uuid.UUID) -> ImportMapping:
        return await imports_service.get_mapping(session, principal, existing)

    async def render(row: ImportMapping) -> ImportMappingRead:
        return ImportMappingRead.model_validate(row)

    return await once.answer(
        principal,
        "POST /v1/import-mappings",
        body,
        create,
        load,
        render,
        audit=audit_log.trail(actor, "create", "import_mapping"),
    )


@router.get(
    "/v1/import-mappings",
    response_model=Page[ImportMappingRead],
    responses=problem_responses(Forbidden),
)
async def list_import_mappings(
    session: SessionDep,
    actor: ManagerActor,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[ImportMappingRead]:
    """The organisation's import mappings, newest version of each."""
    async with session.begin():
        page = await imports_service.list_mappings(
            session, actor.principal, cursor, limit
        )
        return page.map(ImportMappingRead.model_validate)


@router.get(
    "/v1/import-mappings/{mapping_id}",
    response_model=ImportMappingRead,
    responses=problem_responses(NotFound, Forbidden),
)
async def get_import_mapping(
    mapping_id: uuid.UUID, session: SessionDep, actor: ManagerActor
) -> ImportMappingRead:
    """One import mapping version."""
    async with session.begin():
        row = await imports_service.get_mapping(session, actor.principal, mapping_id)
        return ImportMappingRead.model_validate(row)


@router.post(
    "/v1/imports",
    status_code=202,
    response_model=ImportRead,
    responses=problem_responses(NotFound, Forbidden, Invalid, PayloadTooLarge),
)
async def start_import(
    body: ImportCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: ManagerActor,
    once: OnceDep,
) -> ImportRead:
    """Import a CSV/XLSX export (base64, up to the body limit; larger files
    with the CLI) or pull a KoboToolbox form, with a mapping. It runs as a
    job: follow it at ``GET /v1/imports/{id}``. A dry run writes nothing and
    lists every row it would refuse; the real run gives each record its
    submission's id, so importing the same submissions again changes
    nothing."""
    principal = actor.principal
    settings = settings_of(runtime)

    async def start() -> ImportJob:
        job = await imports_service.start_import(
            session,
            principal,
            runtime.keyring,
            body,
            settings.import_kobo_servers,
            imports_service.file_limits(settings),
        )
        defer_job(session, run_import.__name__, import_id=str(job.id))
        return job

    return await _answer_job(
        once, session, actor, "POST /v1/imports", body, start, "create"
    )


@router.get(
    "/v1/imports",
    response_model=Page[ImportRead],
    responses=problem_responses(Forbidden),
)
async def list_imports(
    session: SessionDep,
    actor: ManagerActor,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[ImportRead]:
    """Newest first."""
    async with session.begin():
        page = await imports_service.list_imports(
            session, actor.principal, cursor, limit
        )
        return page.map(imports_service.read_model)


@router.get(
    "/v1/imports/{import_id}",
    response_model=ImportRead,
    responses=problem_responses(NotFound, Forbidden),
)
async def get_import(
    import_id: uuid.UUID, session: SessionDep, actor: ManagerActor
) -> ImportRead:
    """Progress: total, done, refused, rate and time left."""
    async with session.begin():
        job = await imports_service.get_import(session, actor.principal, import_id)
        return imports_service.read_model(job)


@router.get(
    "/v1/imports/{import_id}/refusals",
    response_model=Page[ImportRefusalRead],
    responses=problem_responses(NotFound, Forbidden),
)
async def list_import_refusals(
    import_id: uuid.UUID,
    session: SessionDep,
    actor: ManagerActor,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[ImportRefusalRead]:
    """Every refused row: row number, field (the form's column) and reason."""
    async with session.begin():
        page = await imports_service.list_refusals(
            session, actor.principal, import_id, cursor, limit
        )
        return page.map(ImportRefusalRead.model_validate)


@router.post(
    "/v1/imports/{import_id}/resume",
    status_code=202,
    response_model=ImportRead,
    responses=problem_responses(NotFound, Forbidden),
)
async def resume_import(
    import_id: uuid.UUID, session: SessionDep, actor: ManagerActor, once: OnceDep
) -> ImportRead:
    """Go on with a failed import (its source stopped answering) from the
    row its last batch ended at. Safe to send twice."""
    principal = actor.principal

    async def resume() -> ImportJob:
        job = await imports_service.resume_import(session, principal, import_id)
        if job.status != ImportStatus.done:
            defer_job(
                session,
                run_import.__name__,
                _job_id=f"run_import:{import_id}:resume:{job.updated_at.isoformat()}",
                import_id=str(import_id),
            )
        return job

    return await _answer_job(
        once,
        session,
        actor,
        f"POST /v1/imports/{import_id}/resume",
        None,
        resume,
        "resume",
    )
