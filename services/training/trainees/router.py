"""HTTP API for trainees: register, list (without names or contact details),
read with contact details (every read audited), erase, and the subject access
export.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import JSONResponse

from services.training.access import ManagerActor, SubjectAccessActor, TrainingActor
from services.training.db import OnceDep, audit_log
from services.training.trainees import erasure as trainee_erasure
from services.training.trainees import service as trainees_service
from services.training.trainees import subject_access
from services.training.trainees.erasure import TraineeErasureRead
from services.training.trainees.models import Trainee
from services.training.trainees.service import (
    TraineeCreate,
    TraineeRead,
    TraineeSummary,
    TraineeUpdate,
)
from services.training.trainees.subject_access import TraineeSubjectAccess
from shared.app import RuntimeDep
from shared.concurrency import etag, expected_version
from shared.contracts.enums import TrainingAudience
from shared.db import SessionDep
from shared.errors import (
    Conflict,
    Invalid,
    NotFound,
    PreconditionRequired,
    Unavailable,
    VersionConflict,
    problem_responses,
)
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from shared.subject_rights import NO_STORE, document_response, require_reason

router = APIRouter(prefix="/v1/trainees", tags=["trainees"])


@router.post(
    "",
    status_code=201,
    response_model=TraineeRead,
    responses=problem_responses(Conflict, Invalid, Unavailable),
)
async def register_trainee(
    body: TraineeCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: TrainingActor,
    once: OnceDep,
) -> TraineeRead:
    """Register a person to train; a client id makes a retry safe."""
    principal = actor.principal

    async def render(trainee: Trainee) -> TraineeRead:
        return trainees_service.to_read(trainee, runtime.keyring)

    return await once.answer(
        principal,
        "POST /v1/trainees",
        body,
        lambda: trainees_service.register_trainee(session, principal, runtime, body),
        lambda existing: trainees_service.get_trainee(session, principal, existing),
        render,
        audit=audit_log.trail(actor, "create", "trainee"),
    )


@router.get("", response_model=Page[TraineeSummary])
async def list_trainees(
    session: SessionDep,
    actor: TrainingActor,
    audience: TrainingAudience | None = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[TraineeSummary]:
    """Your organisation's trainees, without names or contact details."""
    async with session.begin():
        page = await trainees_service.list_trainees(
            session, actor.principal, audience, cursor=cursor, limit=limit
        )
    return page.map(TraineeSummary.model_validate)


@router.get(
    "/{trainee_id}", response_model=TraineeRead, responses=problem_responses(NotFound)
)
async def get_trainee(
    trainee_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: TrainingActor,
) -> TraineeRead:
    """One trainee with contact details; every read is audit-logged. The
    ETag is the version to send as If-Match when editing."""
    trainee = await audit_log.read(
        session,
        actor,
        "read",
        "trainee",
        lambda: trainees_service.get_trainee(session, actor.principal, trainee_id),
    )
    response.headers["ETag"] = etag(trainee.version)
    return trainees_service.to_read(trainee, runtime.keyring)


@router.patch(
    "/{trainee_id}",
    response_model=TraineeRead,
    responses=problem_responses(
        NotFound, VersionConflict, PreconditionRequired, Conflict, Invalid, Unavailable
    ),
)
async def update_trainee(
    trainee_id: uuid.UUID,
    body: TraineeUpdate,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: TrainingActor,
    once: OnceDep,
    if_match: Annotated[str | None, Header()] = None,
) -> TraineeRead:
    """Edit fields of the version named in If-Match (428 without it); a stale
    edit gets 409 with the server's copy in ``current``."""
    version = expected_version(if_match)
    principal = actor.principal

    async def update() -> Trainee:
        trainee = await trainees_service.update_trainee(
            session, principal, runtime, trainee_id, body, version
        )
        return trainee

    async def render(trainee: Trainee) -> TraineeRead:
        return trainees_service.to_read(trainee, runtime.keyring)

    read = await once.answer(
        principal,
        f"PATCH /v1/trainees/{trainee_id} If-Match: {version}",
        body,
        update,
        lambda existing: trainees_service.get_trainee(session, principal, existing),
        render,
        audit=audit_log.trail(actor, "update", "trainee"),
    )
    response.headers["ETag"] = etag(read.version)
    return read


@router.post(
    "/{trainee_id}/erasure",
    response_model=TraineeErasureRead,
    responses=problem_responses(NotFound, Invalid),
)
async def erase_trainee(
    trainee_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: ManagerActor,
    once: OnceDep,
) -> TraineeErasureRead:
    """Erase the trainee's name, phone, email, affiliation, role, profession,
    staff code and the free text about them; their training facts stay, and
    reporting replaces their id with a pseudonym. Programme managers; the
    X-Access-Reason header is required and must not name the trainee. A
    replay (same Idempotency-Key) re-reads the erasure: ``already_erased``
    is then true."""
    principal = actor.principal

    async def render(erased: TraineeErasureRead) -> TraineeErasureRead:
        return erased

    erased = await once.answer(
        principal,
        f"POST /v1/trainees/{trainee_id}/erasure",
        None,
        lambda: trainee_erasure.erase_trainee(
            session, principal, runtime.keyring, trainee_id, actor
        ),
        lambda existing: trainee_erasure.erasure_of(session, principal, existing),
        render,
        audit=audit_log.trail(
            actor, "erase", "trainee", lambda done: [done.trainee_id]
        ),
        identify=lambda done: done.trainee_id,
    )
    response.headers.update(NO_STORE)
    return erased


@router.get(
    "/{trainee_id}/subject-access",
    response_model=TraineeSubjectAccess,
    responses={
        **problem_responses(NotFound, Invalid),
        200: {"content": {"text/html": {}}},
    },
)
async def export_subject_access(
    trainee_id: uuid.UUID,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: SubjectAccessActor,
    language: subject_access.DocumentLanguage,
    format: Annotated[
        Literal["json", "html"],
        Query(
            description="json, or html: a readable document to print, in the "
            "language asked for (lang, else Accept-Language, else the "
            "organisation's default language)."
        ),
    ] = "json",
) -> Response:
    """Everything the training service holds about the trainee, for a request
    of theirs. Supervisors and programme managers; X-Access-Reason is
    required and the export is audited."""

    async def export() -> TraineeSubjectAccess:
        await trainees_service.get_trainee(session, actor.principal, trainee_id)
        require_reason(actor)
        return await subject_access.export_trainee(
            session, actor.principal, runtime.keyring, trainee_id
        )

    found = await audit_log.read(
        session, actor, "subject_access", "trainee", export, lambda _: [trainee_id]
    )
    if format == "html":
        name = found.trainee.full_name
        return document_response(
            language.text("sar.trainee_title", name=name)
            if name
            else language.text("sar.trainee_title_erased"),
            [
                language.text("sar.made", when=language.date(found.generated_at)),
                language.text("sar.trainee_scope"),
            ],
            found.model_dump(mode="json", exclude={"generated_at", "generated_by"}),
            language,
        )
    return JSONResponse(found.model_dump(mode="json"), headers=NO_STORE)
