"""Routes of retention policies and runs."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Response

from services.beneficiary.access import (
    OrganisationManager,
    Oversight,
    organisation_wide,
)
from services.beneficiary.audit.models import audit_log
from services.beneficiary.db import OnceDep
from services.beneficiary.outbox.jobs import announce_writes
from services.beneficiary.protection.retention.models import (
    RetentionPolicy,
    RetentionRun,
)
from services.beneficiary.protection.retention.schemas import (
    RecordType,
    RetentionPolicyRead,
    RetentionPolicyWrite,
    RetentionRunCreate,
    RetentionRunRead,
    RetentionRunSummary,
)
from services.beneficiary.protection.retention.service import (
    apply_policies,
    effective_policies,
    get_run,
    list_runs,
    reset_policy,
    run_summary,
    set_policy,
)
from shared.app import RuntimeDep
from shared.auth import Principal
from shared.concurrency import etag, expected_version
from shared.db import SessionDep
from shared.errors import (
    Forbidden,
    Invalid,
    NotFound,
    PreconditionRequired,
    VersionConflict,
    problem_responses,
)
from shared.pagination import (
    DEFAULT_LIMIT,
    CursorQuery,
    LimitQuery,
    Page,
    listed_page,
)
from shared.scoping import get_in_scope

router = APIRouter(prefix="/v1/retention", tags=["data protection"])


async def _organisation_reader(principal: Oversight) -> Principal:
    return organisation_wide(principal)


Manager = OrganisationManager


RunReader = Annotated[Principal, Depends(_organisation_reader)]


@router.get("/policies", response_model=Page[RetentionPolicyRead])
async def list_retention_policies(
    session: SessionDep,
    principal: Oversight,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[RetentionPolicyRead]:
    """Your organisation's policy for every record type (its own or the
    platform default, which each programme is expected to review)."""
    async with session.begin():
        policies = await effective_policies(session, principal.organisation_id)
    return listed_page(
        [policies[t].read() for t in RecordType],
        key=lambda p: p.record_type.value,
        cursor=cursor,
        limit=limit,
    )


@router.get(
    "/policies/{record_type}",
    response_model=RetentionPolicyRead,
    responses=problem_responses(Invalid),
)
async def get_retention_policy(
    record_type: RecordType,
    response: Response,
    session: SessionDep,
    principal: Oversight,
) -> RetentionPolicyRead:
    """How long one kind of record is kept here, and whether that is the
    platform default."""
    async with session.begin():
        policies = await effective_policies(session, principal.organisation_id)
    read = policies[record_type].read()
    response.headers["ETag"] = etag(read.version)
    return read


@router.put(
    "/policies/{record_type}",
    response_model=RetentionPolicyRead,
    responses=problem_responses(
        Forbidden, Invalid, PreconditionRequired, VersionConflict
    ),
)
async def set_retention_policy(
    record_type: RecordType,
    body: RetentionPolicyWrite,
    session: SessionDep,
    actor: Manager,
    once: OnceDep,
    if_match: Annotated[str | None, Header()] = None,
) -> RetentionPolicyRead:
    """Set how long your organisation keeps one record type (programme
    managers), with If-Match naming the version you read (``"0"`` while the
    platform default applies): 428 without it, 409 with the policy in force
    when someone changed it since. Try it with a dry run before the nightly
    job applies it."""
    principal = actor.principal
    version = expected_version(if_match)

    async def load(existing: uuid.UUID) -> RetentionPolicy:
        return await get_in_scope(
            session,
            principal,
            RetentionPolicy,
            existing,
            what="retention policy",
            site_scoped=False,
        )

    async def render(_: RetentionPolicy) -> RetentionPolicyRead:
        policies = await effective_policies(session, principal.organisation_id)
        return policies[record_type].read()

    return await once.answer_versioned(
        principal,
        f"PUT /v1/retention/policies/{record_type} If-Match: {version}",
        body,
        lambda: set_policy(session, principal, record_type, body, version),
        load,
        render,
        audit=audit_log.trail(actor, "update", "retention_policy"),
    )


@router.delete(
    "/policies/{record_type}",
    response_model=RetentionPolicyRead,
    responses=problem_responses(Forbidden, Invalid),
)
async def reset_retention_policy(
    record_type: RecordType, session: SessionDep, actor: Manager
) -> RetentionPolicyRead:
    """Drop your organisation's own policy: the platform default applies."""
    principal = actor.principal
    # not Once.answer: a DELETE takes no Idempotency-Key (repeating it is harmless)
    async with session.begin():
        dropped = await reset_policy(session, principal, record_type)
        if dropped is not None:
            audit_log.record(session, actor, "update", "retention_policy", [dropped])
        policies = await effective_policies(session, principal.organisation_id)
    return policies[record_type].read()


@router.post(
    "/runs",
    status_code=201,
    response_model=RetentionRunRead,
    responses=problem_responses(Forbidden, Invalid),
)
async def start_retention_run(
    body: RetentionRunCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: Manager,
    once: OnceDep,
) -> RetentionRunRead:
    """Apply your organisation's policies now, or with ``dry_run`` only list
    the records they would affect (nothing changes). Batches commit one by
    one, so this handler does not hold one transaction; a retry with the same
    Idempotency-Key answers the first run."""
    principal = actor.principal

    async def run_policies() -> RetentionRun:
        return await apply_policies(
            runtime.engine,
            organisation_id=principal.organisation_id,
            started_by=principal.subject,
            dry_run=body.dry_run,
            request_id=actor.request_id,
        )

    # not Once.answer: a run commits batch by batch, not in one transaction
    run, replayed = await once.act(
        principal,
        "POST /v1/retention/runs",
        body,
        run_policies,
        lambda existing: get_run(session, principal, existing),
        commits_itself=True,  # a run commits batch by batch
    )
    if (
        not replayed
        and not body.dry_run
        and run.affected[RecordType.beneficiary]["count"]
    ):
        await announce_writes(runtime)
    return RetentionRunRead.model_validate(run)


@router.get(
    "/runs",
    response_model=Page[RetentionRunSummary],
    responses=problem_responses(Forbidden),
)
async def list_retention_runs(
    session: SessionDep,
    principal: RunReader,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[RetentionRunSummary]:
    """Your organisation's runs, newest first, with counts (ids: read a run)."""
    async with session.begin():
        page = await list_runs(session, principal, cursor, limit)
    return page.map(run_summary)


@router.get(
    "/runs/{run_id}",
    response_model=RetentionRunRead,
    responses=problem_responses(NotFound, Forbidden),
)
async def get_retention_run(
    run_id: uuid.UUID, session: SessionDep, principal: RunReader
) -> RetentionRunRead:
    """One retention run and what it touched."""
    async with session.begin():
        run = await get_run(session, principal, run_id)
    return RetentionRunRead.model_validate(run)
