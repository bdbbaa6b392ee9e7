"""HTTP API for registered people: register (once per ``Idempotency-Key``),
list and search, read, update under ``If-Match``, and each person's consent
ledger. Every read or write of a person is audited in its transaction;
``POST /lookup`` answers other services' machine accounts with ids and
organisations only.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Header, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlmodel import col

from services.beneficiary.access import FieldActor
from services.beneficiary.audit.models import audit_log
from services.beneficiary.beneficiaries import service as beneficiaries_service
from services.beneficiary.beneficiaries.models import Beneficiary
from services.beneficiary.beneficiaries.schemas import (
    BeneficiaryCreate,
    BeneficiaryRead,
    BeneficiarySummary,
    BeneficiaryUpdate,
)
from services.beneficiary.consent import service as consent_service
from services.beneficiary.consent.models import ConsentEntry
from services.beneficiary.consent.schemas import ConsentEntryRead, ConsentGiven
from services.beneficiary.db import OnceDep
from services.beneficiary.subject_rights import service as rights_service
from shared.app import RuntimeDep
from shared.auth import MachineDep
from shared.concurrency import etag, expected_version
from shared.contracts.text import Text
from shared.db import SessionDep
from shared.errors import (
    Conflict,
    FieldError,
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

router = APIRouter(prefix="/v1/beneficiaries", tags=["beneficiaries"])


@router.post(
    "",
    status_code=201,
    response_model=BeneficiaryRead,
    responses=problem_responses(Conflict, Forbidden, Invalid),
)
async def register_beneficiary(
    body: BeneficiaryCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: FieldActor,
    once: OnceDep,
) -> BeneficiaryRead:
    """Register a person with their consent. Send an Idempotency-Key so a
    retried request cannot register them twice."""
    principal = actor.principal
    return await once.answer_versioned(
        principal,
        "POST /v1/beneficiaries",
        body,
        lambda: beneficiaries_service.register_beneficiary(
            session, principal, runtime.keyring, body
        ),
        lambda existing: beneficiaries_service.get_beneficiary(
            session, principal, existing
        ),
        lambda beneficiary: beneficiaries_service.to_read(
            session, runtime.keyring, beneficiary, principal
        ),
        audit=audit_log.trail(actor, "create", "beneficiary"),
    )


@router.get("", response_model=Page[BeneficiarySummary])
async def list_beneficiaries(
    session: SessionDep,
    runtime: RuntimeDep,
    actor: FieldActor,
    name: Annotated[Text | None, Query(max_length=200)] = None,
    phone: Annotated[Text | None, Query(max_length=32)] = None,
    site_id: uuid.UUID | None = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[BeneficiarySummary]:
    """List or search (exact name or phone, via blind indexes). Rows carry no
    PII; read one record to see it."""
    return await audit_log.read(
        session,
        actor,
        "search" if name or phone else "list",
        "beneficiary",
        lambda: beneficiaries_service.list_beneficiaries(
            session,
            actor.principal,
            runtime.keyring,
            name=name,
            phone=phone,
            site_id=site_id,
            cursor=cursor,
            limit=limit,
        ),
        lambda page: [b.id for b in page.items],
    )


@router.get(
    "/{beneficiary_id}",
    response_model=BeneficiaryRead,
    responses=problem_responses(NotFound),
)
async def get_beneficiary(
    beneficiary_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: FieldActor,
) -> BeneficiaryRead:
    """One record with its PII; every read is written to the audit log."""

    async def fetch() -> BeneficiaryRead:
        beneficiary = await beneficiaries_service.get_beneficiary(
            session, actor.principal, beneficiary_id
        )
        return await beneficiaries_service.to_read(
            session, runtime.keyring, beneficiary, actor.principal
        )

    read = await audit_log.read(
        session, actor, "read", "beneficiary", fetch, lambda _: [beneficiary_id]
    )
    response.headers["ETag"] = etag(read.version)
    return read


@router.patch(
    "/{beneficiary_id}",
    response_model=BeneficiaryRead,
    responses=problem_responses(
        NotFound, VersionConflict, PreconditionRequired, Invalid
    ),
)
async def update_beneficiary(
    beneficiary_id: uuid.UUID,
    body: BeneficiaryUpdate,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: FieldActor,
    once: OnceDep,
    if_match: Annotated[str | None, Header()] = None,
) -> BeneficiaryRead:
    """Edit fields of the version named in If-Match; a stale edit gets 409
    with the server's copy in ``current``."""
    version = expected_version(if_match)
    principal = actor.principal

    async def update() -> Beneficiary:
        beneficiary = await beneficiaries_service.update_beneficiary(
            session, principal, runtime.keyring, beneficiary_id, body, version
        )
        return beneficiary

    read = await once.answer(
        principal,
        f"PATCH /v1/beneficiaries/{beneficiary_id} If-Match: {version}",
        body,
        update,
        lambda existing: beneficiaries_service.get_beneficiary(
            session, principal, existing
        ),
        lambda beneficiary: beneficiaries_service.to_read(
            session, runtime.keyring, beneficiary, principal
        ),
        audit=audit_log.trail(actor, "update", "beneficiary"),
    )
    response.headers["ETag"] = etag(read.version)
    return read


@router.get(
    "/{beneficiary_id}/consents",
    response_model=Page[ConsentEntryRead],
    responses=problem_responses(NotFound),
)
async def list_consents(
    beneficiary_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: FieldActor,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[ConsentEntryRead]:
    """The whole consent ledger, oldest first. Its ETag is the ledger's
    version (``consent_version``): send it as If-Match when recording."""

    async def fetch() -> list[ConsentEntry]:
        beneficiary = await beneficiaries_service.get_beneficiary(
            session, actor.principal, beneficiary_id
        )
        return await consent_service.list_consent_ledger(session, beneficiary)

    entries = await audit_log.read(
        session,
        actor,
        "read_consents",
        "beneficiary",
        fetch,
        lambda _: [beneficiary_id],
    )
    response.headers["ETag"] = etag(entries[-1].sequence if entries else 0)
    return listed_page(
        [ConsentEntryRead.model_validate(e) for e in entries],
        key=lambda e: str(e.id),
        cursor=cursor,
        limit=limit,
    )


@router.post(
    "/{beneficiary_id}/consents",
    status_code=201,
    response_model=list[ConsentEntryRead],
    responses=problem_responses(
        NotFound, Invalid, Forbidden, VersionConflict, Conflict
    ),
)
async def record_consents(
    beneficiary_id: uuid.UUID,
    body: Annotated[
        list[ConsentGiven],
        Body(
            min_length=1,
            max_length=10,
            examples=[
                [
                    {
                        "id": "3f0c9a52-1d8e-4b7a-9e55-6c2f1b8d7a04",
                        "purpose": "data_sharing",
                        "granted": False,
                        "form_version": "2024-1",
                    }
                ]
            ],
        ),
    ],
    session: SessionDep,
    runtime: RuntimeDep,
    actor: FieldActor,
    once: OnceDep,
    if_match: Annotated[str | None, Header()] = None,
) -> list[ConsentEntryRead]:
    """Grant or withdraw purposes, one entry per purpose. A grant needs
    If-Match with the ledger's ETag (``consent_version``) the form was filled
    on: a grant for a purpose decided since is a 409 with the consents in
    force, and nothing is recorded, so a retried or stale form never grants
    again what the person withdrew meanwhile (428 without If-Match).
    Withdrawals need no version: a person's no always goes through.
    Withdrawals sent for a record merged into another person's are recorded
    on that person's ledger (a grant or an erasure there is a 409 naming
    them). Withdrawing 'registration' erases the person's identifying data at once,
    so it is an erasure: supervisors and programme managers only,
    X-Access-Reason required, audited as ``erase``. Withdrawing 'services'
    stops new service records. A replay (same Idempotency-Key) answers the
    entries the first request recorded."""
    if len({e.purpose for e in body}) != len(body):
        raise Invalid(
            "Send one entry per purpose.",
            errors=[FieldError(loc=["body"], msg="purpose repeated", type="value")],
        )
    withdrawal = next(
        (e for e in body if consent_service.withdraws_registration(e)), None
    )
    if withdrawal is not None:
        rights_service.refuse_unless_may_erase(actor.principal)
    needs_version = if_match is not None or any(e.granted for e in body)
    seen = expected_version(if_match) if needs_version else None
    principal = actor.principal

    target = beneficiary_id

    async def follow_merge() -> None:
        """A person's no follows them into the record they were merged into
        (a device may still hold the old record); a grant, or an erasure, is
        refused with where the person went."""
        nonlocal target
        named = await beneficiaries_service.get_beneficiary(
            session, principal, beneficiary_id
        )
        if named.merged_into_id is not None and not any(
            e.granted or e is withdrawal for e in body
        ):
            target = named.merged_into_id

    async def record() -> list[ConsentEntry]:
        await follow_merge()
        beneficiary = await beneficiaries_service.get_beneficiary(
            session, principal, target, for_update=True
        )
        if seen is not None:
            await consent_service.refuse_stale_grants(session, beneficiary, body, seen)
        others = [e for e in body if e is not withdrawal]
        entries = await consent_service.record_consents(
            session, principal, beneficiary, others
        )
        if withdrawal is not None:
            await rights_service.erase_and_audit(
                session, actor, runtime.keyring, beneficiary.id, withdrawal
            )
            ledger = await consent_service.list_consent_ledger(session, beneficiary)
            entries.append(ledger[-1])  # the withdrawal, recorded last
        return entries

    async def load(first: uuid.UUID) -> list[ConsentEntry]:
        """The entries recorded from the first request's first one on, as
        many as it could record (one per purpose sent)."""
        await follow_merge()
        person = await beneficiaries_service.get_beneficiary(session, principal, target)
        ledger = await consent_service.list_consent_ledger(session, person)
        start = next(i for i, e in enumerate(ledger) if e.id == first)
        return ledger[start : start + len(body)]

    async def render(entries: list[ConsentEntry]) -> list[ConsentEntryRead]:
        return [ConsentEntryRead.model_validate(e) for e in entries]

    return await once.answer(
        principal,
        f"POST /v1/beneficiaries/{beneficiary_id}/consents If-Match: {seen}",
        body,
        record,
        load,
        render,
        # the person the entries went to; an erasure stages its own "erase" row
        audit=audit_log.trail(actor, "consent", "beneficiary", lambda _: [target]),
        identify=lambda done: done[0].id if done else None,
    )


class LookupRequest(BaseModel):
    """People to fetch by id in one call."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"ids": ["12fc499d-565b-470a-8330-8a86e8173165"]}]
        },
        extra="forbid",
    )

    ids: list[uuid.UUID] = Field(min_length=1, max_length=1000)


class LookupResult(BaseModel):
    """Which pseudonymous ids exist, and their organisation: nothing else."""

    found: dict[uuid.UUID, uuid.UUID] = Field(
        description="beneficiary id -> organisation id"
    )


@router.post("/lookup", response_model=LookupResult)
async def lookup_beneficiaries(
    body: LookupRequest,
    session: SessionDep,
    principal: MachineDep,
) -> LookupResult:
    """For other services acting for an organisation (machine accounts only):
    which of these pseudonymous ids are that organisation's registered people.
    Nothing else is returned, and never another organisation's ids."""
    async with session.begin():
        rows = await session.execute(
            select(col(Beneficiary.id), col(Beneficiary.organisation_id)).where(
                col(Beneficiary.id).in_(body.ids),
                col(Beneficiary.organisation_id) == principal.organisation_id,
                col(Beneficiary.pii_erased_at).is_(None),
            )
        )
        return LookupResult(found=dict(rows.all()))
