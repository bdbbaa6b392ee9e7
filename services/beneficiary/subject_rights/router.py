"""``POST /v1/beneficiaries/{id}/erasure`` and the subject access export."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from services.beneficiary.access import SupervisorActor
from services.beneficiary.audit.models import audit_log
from services.beneficiary.beneficiaries import service as beneficiaries_service
from services.beneficiary.db import OnceDep
from services.beneficiary.organisations.service import OrganisationLanguage
from services.beneficiary.subject_rights import export
from services.beneficiary.subject_rights import service as rights_service
from services.beneficiary.subject_rights.export import SubjectAccessExport
from services.beneficiary.subject_rights.service import ErasureRead
from shared.app import RuntimeDep
from shared.db import SessionDep
from shared.errors import Invalid, NotFound, Unavailable, problem_responses
from shared.subject_rights import (
    NO_STORE,
    document_response,
    ids_to_name,
    require_reason,
)

router = APIRouter(prefix="/v1/beneficiaries", tags=["erasure and subject access"])
DOCUMENT_LEAVES_OUT: Any = {
    "generated_at": True,
    "generated_by": True,
    "person": {"consents"},  # the ledger has them
    "service_records": {
        "__all__": {"beneficiary_id", "organisation_id", "lead_organisation_id"}
    },
    "materials": {"__all__": {"organisation_id"}},
    "feedback_responses": {"__all__": {"organisation_id"}},
    "cases": {"__all__": {"case": {"beneficiary_id", "organisation_id"}}},
    "referrals": {"__all__": {"beneficiary_id"}},
    "enrolments": {"__all__": {"beneficiary_id"}},
    "risk_alerts": {"__all__": {"beneficiary_id"}},
}
"""Repeats and internal ids the printed document does without."""


@router.post(
    "/{beneficiary_id}/erasure",
    response_model=ErasureRead,
    responses=problem_responses(NotFound, Invalid),
)
async def request_erasure(
    beneficiary_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: SupervisorActor,
    once: OnceDep,
) -> ErasureRead:
    """Erase the person's names, phone, address and every free text about
    them, here and (through events) in training and reporting, which drop
    every link to their id. Their non-identifying facts stay, so services
    given are still counted; they are no longer counted as a person.
    Supervisors and programme managers; the X-Access-Reason header is
    required and must not name the person (the audit log keeps it). A
    replay (same Idempotency-Key) re-reads the erasure."""
    principal = actor.principal

    async def erase() -> ErasureRead:
        return await rights_service.erase_and_audit(
            session, actor, runtime.keyring, beneficiary_id
        )

    async def load(existing: uuid.UUID) -> ErasureRead:
        """The erasure read again: the person was erased before the replay."""
        person = await beneficiaries_service.get_beneficiary(
            session, principal, existing
        )
        assert person.pii_erased_at is not None
        return ErasureRead(
            beneficiary_id=person.id,
            code=person.code,
            erased_at=person.pii_erased_at,
            already_erased=True,
        )

    async def render(erased: ErasureRead) -> ErasureRead:
        return erased

    erased = await once.answer(
        principal,
        f"POST /v1/beneficiaries/{beneficiary_id}/erasure",
        None,
        erase,
        load,
        render,
        audit=None,  # erase_and_audit stages the "erase" row with the erasure
        identify=lambda done: done.beneficiary_id,
    )
    response.headers.update(NO_STORE)
    return erased


@router.get(
    "/{beneficiary_id}/subject-access",
    response_model=SubjectAccessExport,
    responses={
        **problem_responses(NotFound, Invalid, Unavailable),
        200: {"content": {"text/html": {}}},
    },
)
async def export_subject_access(
    beneficiary_id: uuid.UUID,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: SupervisorActor,
    language: OrganisationLanguage,
    format: Annotated[
        Literal["json", "html"],
        Query(
            description="json, or html: a readable document to print, in the "
            "language asked for (lang, else Accept-Language, else the "
            "organisation's default language)."
        ),
    ] = "json",
) -> Response:
    """Everything held about the person in every service (their record with
    PII, consents, services with the material handed out and the feedback
    given after them, cases with assessments, plans, follow-ups and
    safety plans, referrals, enrolments, risk alerts, practice groups in
    training, and who accessed their records), for a request of theirs.
    Supervisors and programme managers; X-Access-Reason is required and the
    export is audited. 503 (Retry-After) when the training service cannot
    answer: an export is complete or not given."""
    async with session.begin():
        await beneficiaries_service.get_beneficiary(
            session, actor.principal, beneficiary_id
        )
    require_reason(actor)
    training = await export.training_part(runtime, actor.principal, beneficiary_id)

    async def fetch() -> SubjectAccessExport:
        beneficiary = await beneficiaries_service.get_beneficiary(
            session, actor.principal, beneficiary_id
        )
        return await export.export_person(
            session, actor.principal, runtime.keyring, beneficiary, training
        )

    found = await audit_log.read(
        session,
        actor,
        "subject_access",
        "beneficiary",
        fetch,
        lambda _: [beneficiary_id],
    )
    if format == "html":
        sections = found.model_dump(mode="json", exclude=DOCUMENT_LEAVES_OUT)
        async with session.begin():
            names = await export.names_of(session, ids_to_name(sections))
        return document_response(
            language.text("sar.title", code=found.person.code),
            [
                language.text("sar.made", when=language.date(found.generated_at)),
                language.text("sar.scope"),
            ],
            sections,
            language,
            names,
        )
    return JSONResponse(found.model_dump(mode="json"), headers=NO_STORE)
