"""Safe sharing: record-level exports for a named partner only under a
data-sharing agreement (purpose, fields, expiry), only of consented
records, every one logged."""

from __future__ import annotations

import io
import uuid
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from services.beneficiary.access import (
    ManagerActor,
    OrganisationManager,
    OversightActor,
)
from services.beneficiary.audit.models import audit_log
from services.beneficiary.db import OnceDep
from services.beneficiary.protection.sharing import service as sharing_service
from services.beneficiary.protection.sharing.fields import Value
from services.beneficiary.protection.sharing.models import SharingAgreement
from services.beneficiary.protection.sharing.schemas import (
    SharedRecords,
    SharingAgreementCreate,
    SharingAgreementRead,
    SharingExportRead,
)
from services.beneficiary.protection.sharing.service import AgreementNotInForce, Shared
from shared.app import RuntimeDep
from shared.audit import Actor, Trail
from shared.db import SessionDep
from shared.errors import Forbidden, Invalid, NotFound, problem_responses
from shared.idempotency import Once
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from shared.spreadsheet import write_csv_row

router = APIRouter(prefix="/v1/sharing-agreements", tags=["data protection"])


NO_STORE = {"Cache-Control": "no-store"}
AGREEMENT = "sharing_agreement"


class ExportFormat(StrEnum):
    """The file format of a sharing export."""

    json = "json"
    csv = "csv"


@router.post(
    "",
    status_code=201,
    response_model=SharingAgreementRead,
    responses=problem_responses(Forbidden, Invalid),
)
async def create_agreement(
    body: SharingAgreementCreate,
    session: SessionDep,
    actor: OrganisationManager,
    once: OnceDep,
) -> SharingAgreementRead:
    """Record what may go to a partner, why, and until when (programme
    managers and admins, with an organisation-wide token). Fields come from a
    fixed allow-list."""

    async def create() -> SharingAgreement:
        agreement = await sharing_service.create_agreement(
            session, actor.principal, body
        )
        return agreement

    return await _agreement_once(
        once, actor, "", body, create, audit_log.trail(actor, "create", AGREEMENT)
    )


@router.get("", response_model=Page[SharingAgreementRead])
async def list_agreements(
    session: SessionDep,
    actor: OversightActor,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[SharingAgreementRead]:
    """The organisation's agreements, newest first, with their status."""
    async with session.begin():
        return await sharing_service.list_agreements(
            session, actor.principal, cursor=cursor, limit=limit
        )


@router.get(
    "/{agreement_id}",
    response_model=SharingAgreementRead,
    responses=problem_responses(NotFound),
)
async def get_agreement(
    agreement_id: uuid.UUID, session: SessionDep, actor: OversightActor
) -> SharingAgreementRead:
    """One agreement of the caller's organisation."""
    async with session.begin():
        agreement = await sharing_service.get_agreement(
            session, actor.principal, agreement_id
        )
    return sharing_service.to_read(agreement)


@router.post(
    "/{agreement_id}/revoke",
    response_model=SharingAgreementRead,
    responses=problem_responses(NotFound, Forbidden),
)
async def revoke_agreement(
    agreement_id: uuid.UUID,
    session: SessionDep,
    actor: OrganisationManager,
    once: OnceDep,
) -> SharingAgreementRead:
    """End an agreement at once: no export under it from now on."""

    async def revoke() -> SharingAgreement:
        agreement = await sharing_service.revoke_agreement(
            session, actor.principal, agreement_id
        )
        return agreement

    return await _agreement_once(
        once,
        actor,
        f"/{agreement_id}/revoke",
        None,
        revoke,
        audit_log.trail(actor, "revoke", AGREEMENT),
    )


async def _agreement_once(
    once: Once,
    actor: Actor,
    path: str,
    body: BaseModel | None,
    act: Callable[[], Awaitable[SharingAgreement]],
    audit: Trail[SharingAgreement] | None,
) -> SharingAgreementRead:
    """Run ``act`` once per Idempotency-Key; a replay answers the agreement."""
    session = once.session
    principal = actor.principal

    async def render(agreement: SharingAgreement) -> SharingAgreementRead:
        return sharing_service.to_read(agreement)

    return await once.answer(
        principal,
        f"POST /v1/sharing-agreements{path}",
        body,
        act,
        lambda existing: sharing_service.get_agreement(session, principal, existing),
        render,
        audit=audit,
    )


@router.post(
    "/{agreement_id}/exports",
    response_model=SharedRecords,
    responses={
        **problem_responses(NotFound, AgreementNotInForce),
        200: {"content": {"text/csv": {}}},
    },
)
async def export_shared_records(
    agreement_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: ManagerActor,
    once: OnceDep,
    export_format: Annotated[ExportFormat, Query(alias="format")] = ExportFormat.json,
) -> Response | SharedRecords:
    """The agreed fields of every person in your scope who consents to data
    sharing now (never an erased record), as JSON or CSV; 409 unless the
    agreement is in force today. Each export is logged, audited per person
    and notified to the data protection focal point. Send X-Access-Reason.
    A retry with the same Idempotency-Key is the same export (no second log
    entry or notice), its records as people consent at the retry: anyone who
    withdrew since is left out, and it is audited again."""

    async def first() -> Shared:
        return await sharing_service.export_shared_records(
            session, actor, runtime.keyring, agreement_id
        )

    async def again(export_id: uuid.UUID) -> Shared:
        return await sharing_service.repeat_export(
            session, actor, runtime.keyring, agreement_id, export_id
        )

    async def render(shared: Shared) -> Shared:
        return shared

    agreement, export, records = await once.answer(
        actor.principal,
        f"POST /v1/sharing-agreements/{agreement_id}/exports",
        {"format": export_format},
        first,
        again,
        render,
        audit=None,  # the service audits each person shared, on a replay too
        identify=lambda shared: shared[1].id,
    )
    headers = {**NO_STORE, "X-Sharing-Export-Id": str(export.id)}
    if export_format == ExportFormat.csv:
        return Response(
            _csv(export.fields, records),
            media_type="text/csv; charset=utf-8",
            headers={
                **headers,
                "Content-Disposition": (
                    f'attachment; filename="sharing-export-{export.id}.csv"'
                ),
            },
        )
    response.headers.update(headers)
    return SharedRecords(
        export=SharingExportRead.model_validate(export),
        partner=agreement.partner,
        purpose=agreement.purpose,
        fields=export.fields,
        records=records,
    )


@router.get(
    "/{agreement_id}/exports",
    response_model=Page[SharingExportRead],
    responses=problem_responses(NotFound),
)
async def list_exports(
    agreement_id: uuid.UUID,
    session: SessionDep,
    actor: OversightActor,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[SharingExportRead]:
    """Every export made under an agreement: who, when, how many, which
    fields, and the reason given."""
    async with session.begin():
        return await sharing_service.list_exports(
            session, actor.principal, agreement_id, cursor=cursor, limit=limit
        )


def _csv(fields: list[str], records: list[dict[str, Value]]) -> str:
    """One header row, then one row per person; text is written so that no
    spreadsheet runs it as a formula (``shared.spreadsheet``)."""
    out = io.StringIO()
    write_csv_row(out, fields)
    for record in records:
        write_csv_row(out, [record[f] for f in fields])
    return out.getvalue()
