"""The right to erasure: on a person's request, their PII goes from every
service. Here it is a withdrawal of registration consent (so nothing new can
be recorded for them), erased through the very function that withdrawal
uses; ``beneficiary.erased`` then reaches training and reporting."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from services.beneficiary.access import is_supervisor
from services.beneficiary.audit.models import audit_log
from services.beneficiary.beneficiaries import service as beneficiaries_service
from services.beneficiary.consent import service as consent_service
from services.beneficiary.consent.schemas import ConsentGiven
from services.beneficiary.subject_rights.erasure import erase_person
from shared.audit import Actor
from shared.auth import Principal
from shared.contracts.enums import ConsentPurpose
from shared.crypto import KeyRing
from shared.errors import Forbidden
from shared.subject_rights import refuse_identifying_reason, require_reason

ERASURE_FORM = "erasure-request"


class ErasureRead(BaseModel):
    """What was erased for a person, and when."""

    beneficiary_id: uuid.UUID
    code: str = Field(description="The record's new pseudonymous code.")
    erased_at: datetime
    already_erased: bool = Field(
        description="The PII was erased before (withdrawal of consent or an "
        "earlier request); anything added since was erased now and the other "
        "services were told again."
    )


async def request_erasure(
    session: AsyncSession,
    principal: Principal,
    keyring: KeyRing,
    beneficiary_id: uuid.UUID,
    actor: Actor,
    withdrawal: ConsentGiven | None = None,
) -> ErasureRead:
    """Erase a person's PII here and announce it to the other services; a
    repeated request is harmless and repairs what a lost message missed.
    ``withdrawal`` is the person's own withdrawal of registration consent
    (sent to ``/consents`` or by sync), recorded as given; it takes this path,
    so it needs the same roles, reason and audit entry as a request."""
    refuse_unless_may_erase(principal)
    beneficiary = await beneficiaries_service.get_beneficiary(
        session, principal, beneficiary_id, for_update=True
    )
    reason = require_reason(actor)
    pii = beneficiaries_service.decrypt_pii(beneficiary, keyring)
    refuse_identifying_reason(
        reason, [pii["full_name"]], [pii["phone"]], [beneficiary.code]
    )
    already = beneficiary.pii_erased_at is not None
    in_force = await consent_service.consents_in_force(
        session, beneficiary.organisation_id, [beneficiary.id]
    )
    registration = in_force[beneficiary.id].get(ConsentPurpose.registration)
    if not already and (registration is None or registration.granted):
        await consent_service.record_consents(
            session,
            principal,
            beneficiary,
            [
                withdrawal
                or ConsentGiven(
                    purpose=ConsentPurpose.registration,
                    granted=False,
                    form_version=ERASURE_FORM,
                )
            ],
            erasing=True,
        )
    if already or beneficiary.pii_erased_at is None:
        await erase_person(session, beneficiary)
    await session.flush()
    assert beneficiary.pii_erased_at is not None
    return ErasureRead(
        beneficiary_id=beneficiary.id,
        code=beneficiary.code,
        erased_at=beneficiary.pii_erased_at,
        already_erased=already,
    )


async def erase_and_audit(
    session: AsyncSession,
    actor: Actor,
    keyring: KeyRing,
    beneficiary_id: uuid.UUID,
    withdrawal: ConsentGiven | None = None,
) -> ErasureRead:
    """Every route that erases (a request, a withdrawal sent online, by sync
    or kept in a conflict) comes here: the erasure and its audit entry."""
    erased = await request_erasure(
        session, actor.principal, keyring, beneficiary_id, actor, withdrawal
    )
    audit_log.record(session, actor, "erase", "beneficiary", [erased.beneficiary_id])
    return erased


def refuse_unless_may_erase(principal: Principal) -> None:
    """Erasure, however it is asked for, is a supervisor's act."""
    if not is_supervisor(principal):
        raise Forbidden(
            "Withdrawing registration consent erases the person: a supervisor or "
            "programme manager does it, with a reason in X-Access-Reason."
        )
