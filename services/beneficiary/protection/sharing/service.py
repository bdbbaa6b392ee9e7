"""Data-sharing agreements and the exports made under them.

An export applies its agreement: only the agreed fields, only the people of
the organisation (and of the caller's sites) whose consent to data sharing is
in force now and whose identifying data was not erased, and only while the
agreement is in force (``valid_from`` to ``expires_on``, both days included,
in UTC, and not revoked). Every export writes a log row, an audit entry per
person shared, and a notice to the data protection focal point."""

from __future__ import annotations

import uuid

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.beneficiary.audit.models import audit_log
from services.beneficiary.beneficiaries import service as beneficiaries_service
from services.beneficiary.beneficiaries.models import Beneficiary
from services.beneficiary.consent import service as consent_service
from services.beneficiary.consent.models import ConsentEntry
from services.beneficiary.locations.models import Location
from services.beneficiary.protection.notices.service import raise_notice
from services.beneficiary.protection.sharing.fields import (
    LOCATION_FIELDS,
    ShareContext,
    Value,
    identifying,
    shared_record,
)
from services.beneficiary.protection.sharing.models import (
    SharingAgreement,
    SharingExport,
)
from services.beneficiary.protection.sharing.schemas import (
    AgreementStatus,
    SharingAgreementCreate,
    SharingAgreementRead,
    SharingExportRead,
)
from shared.audit import Actor
from shared.auth import Principal
from shared.contracts.enums import ConsentPurpose
from shared.crypto import KeyRing
from shared.db import utcnow
from shared.errors import NotFound, Problem
from shared.pagination import Page, aware_datetime, keyset_page

CONSENT_BATCH = 500


REASON_LENGTH = 500  # AuditEntry.reason, SharingExport.reason


class AgreementNotInForce(Problem):
    slug, title, status = "agreement-not-in-force", "Agreement not in force", 409


def agreement_status(agreement: SharingAgreement) -> AgreementStatus:
    today = utcnow().date()
    if agreement.revoked_at is not None:
        return AgreementStatus.revoked
    if today < agreement.valid_from:
        return AgreementStatus.scheduled
    if today > agreement.expires_on:
        return AgreementStatus.expired
    return AgreementStatus.active


def to_read(agreement: SharingAgreement) -> SharingAgreementRead:
    return SharingAgreementRead(
        id=agreement.id,
        organisation_id=agreement.organisation_id,
        partner=agreement.partner,
        purpose=agreement.purpose,
        fields=agreement.fields,
        identifying_fields=identifying(agreement.fields),
        valid_from=agreement.valid_from,
        expires_on=agreement.expires_on,
        status=agreement_status(agreement),
        created_by=agreement.created_by,
        created_at=agreement.created_at,
        revoked_at=agreement.revoked_at,
    )


async def create_agreement(
    session: AsyncSession, principal: Principal, data: SharingAgreementCreate
) -> SharingAgreement:
    """Record the terms under which the organisation shares with a partner."""
    agreement = SharingAgreement(
        organisation_id=principal.organisation_id,
        partner=data.partner,
        purpose=data.purpose,
        fields=[str(f) for f in data.fields],
        valid_from=data.valid_from,
        expires_on=data.expires_on,
        created_by=principal.subject,
    )
    session.add(agreement)
    await session.flush()
    return agreement


async def get_agreement(
    session: AsyncSession,
    principal: Principal,
    agreement_id: uuid.UUID,
    *,
    lock: bool = False,
    share_lock: bool = False,
) -> SharingAgreement:
    """One agreement of the caller's organisation; anyone else's is a 404.

    ``lock`` (revoking) waits for exports under way, which hold
    ``share_lock``, so a revocation never lands in the middle of one."""
    statement = select(SharingAgreement).where(
        col(SharingAgreement.id) == agreement_id,
        col(SharingAgreement.organisation_id) == principal.organisation_id,
    )
    if lock or share_lock:
        statement = statement.with_for_update(read=not lock)
    agreement = (await session.execute(statement)).scalar_one_or_none()
    if agreement is None:
        raise NotFound("No such sharing agreement.")
    return agreement


async def list_agreements(
    session: AsyncSession, principal: Principal, *, cursor: str | None, limit: int
) -> Page[SharingAgreementRead]:
    """The organisation's agreements, newest first, whatever their status."""
    rows, next_cursor = await keyset_page(
        session,
        select(SharingAgreement).where(
            col(SharingAgreement.organisation_id) == principal.organisation_id
        ),
        key=col(SharingAgreement.created_at),
        parse_key=aware_datetime,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=[to_read(r) for r in rows], next_cursor=next_cursor)


async def revoke_agreement(
    session: AsyncSession, principal: Principal, agreement_id: uuid.UUID
) -> SharingAgreement:
    """End an agreement now; revoking it again changes nothing."""
    agreement = await get_agreement(session, principal, agreement_id, lock=True)
    if agreement.revoked_at is None:
        agreement.revoked_at = utcnow()
        await session.flush()
    return agreement


Shared = tuple[SharingAgreement, SharingExport, list[dict[str, Value]]]
"""An export: the agreement, its log entry and the records that left."""


async def export_shared_records(
    session: AsyncSession, actor: Actor, keyring: KeyRing, agreement_id: uuid.UUID
) -> Shared:
    """Apply the agreement and log the export; refused (nothing written)
    unless the agreement is in force today."""
    principal = actor.principal
    agreement = await _in_force(session, principal, agreement_id)
    export = SharingExport(
        agreement_id=agreement.id,
        organisation_id=agreement.organisation_id,
        exported_by=principal.subject,
        records=0,
        fields=list(agreement.fields),
        reason=actor.reason,
    )
    session.add(export)
    await session.flush()
    records = await _share(session, actor, keyring, agreement, export.fields, "")
    export.records = len(records)
    _notify(session, agreement, export, principal)
    await session.flush()
    return agreement, export, records


async def repeat_export(
    session: AsyncSession,
    actor: Actor,
    keyring: KeyRing,
    agreement_id: uuid.UUID,
    export_id: uuid.UUID,
) -> Shared:
    """A retried export (same Idempotency-Key): the same export, not a new
    one (no second log entry or notice), its fields as people consent now.
    Someone who withdrew since is left out and an agreement no longer in
    force refuses it: a retry never discloses what a fresh request could not.
    What leaves again is audited again, as the repeat it is."""
    principal = actor.principal
    agreement = await _in_force(session, principal, agreement_id)
    export = await session.get(SharingExport, export_id)
    if export is None or export.agreement_id != agreement.id:
        raise NotFound("The export this request repeats is gone.")
    records = await _share(
        session, actor, keyring, agreement, export.fields, f" (repeat of {export.id})"
    )
    return agreement, export, records


async def _in_force(
    session: AsyncSession, principal: Principal, agreement_id: uuid.UUID
) -> SharingAgreement:
    agreement = await get_agreement(session, principal, agreement_id, share_lock=True)
    status = agreement_status(agreement)
    if status != AgreementStatus.active:
        raise AgreementNotInForce(_refusal(agreement, status))
    return agreement


async def _share(
    session: AsyncSession,
    actor: Actor,
    keyring: KeyRing,
    agreement: SharingAgreement,
    fields: list[str],
    repeat: str,
) -> list[dict[str, Value]]:
    """The agreed fields of everyone in scope who consents to sharing now,
    each person audited as shared under the agreement."""
    people = await _consenting_people(session, actor.principal)
    ctx = ShareContext(
        pseudonym_salt=agreement.pseudonym_salt,
        keyring=keyring,
        today=utcnow().date(),
        locations=await _locations(session)
        if LOCATION_FIELDS.intersection(fields)
        else {},
    )
    records = [shared_record(b, fields, ctx) for b in people]
    why = f"sharing agreement {agreement.id} with {agreement.partner}{repeat}"
    if actor.reason:
        why += f": {actor.reason}"
    audit_log.record(
        session,
        actor.model_copy(update={"reason": why[:REASON_LENGTH]}),
        "share",
        "beneficiary",
        [b.id for b in people],
    )
    return records


async def list_exports(
    session: AsyncSession,
    principal: Principal,
    agreement_id: uuid.UUID,
    *,
    cursor: str | None,
    limit: int,
) -> Page[SharingExportRead]:
    """The export log of one agreement, newest first."""
    agreement = await get_agreement(session, principal, agreement_id)
    rows, next_cursor = await keyset_page(
        session,
        select(SharingExport).where(col(SharingExport.agreement_id) == agreement.id),
        key=col(SharingExport.exported_at),
        parse_key=aware_datetime,
        cursor=cursor,
        limit=limit,
    )
    return Page(
        items=[SharingExportRead.model_validate(r) for r in rows],
        next_cursor=next_cursor,
    )


def _refusal(agreement: SharingAgreement, status: AgreementStatus) -> str:
    if status == AgreementStatus.revoked:
        return "This agreement was revoked; nothing may be exported under it."
    if status == AgreementStatus.scheduled:
        return f"This agreement is in force from {agreement.valid_from} (UTC)."
    return f"This agreement expired after {agreement.expires_on} (UTC)."


async def _consenting_people(
    session: AsyncSession, principal: Principal
) -> list[Beneficiary]:
    """People in the caller's scope, not erased, whose consent to data
    sharing is in force now (the consent ledger's own rule decides; the SQL
    only skips those who never granted it)."""
    ever_granted = exists().where(
        col(ConsentEntry.organisation_id) == col(Beneficiary.organisation_id),
        col(ConsentEntry.beneficiary_id) == col(Beneficiary.id),
        col(ConsentEntry.purpose) == ConsentPurpose.data_sharing,
        col(ConsentEntry.granted).is_(True),
    )
    statement = (
        beneficiaries_service.scoped(select(Beneficiary), principal)
        .where(col(Beneficiary.pii_erased_at).is_(None), ever_granted)
        .order_by(col(Beneficiary.created_at), col(Beneficiary.id))
    )
    candidates = list((await session.execute(statement)).scalars())
    people: list[Beneficiary] = []
    for start in range(0, len(candidates), CONSENT_BATCH):
        batch = candidates[start : start + CONSENT_BATCH]
        in_force = await consent_service.consents_in_force(
            session, principal.organisation_id, [b.id for b in batch]
        )
        people.extend(b for b in batch if _consents(in_force[b.id]))
    return people


def _consents(entries: dict[ConsentPurpose, ConsentEntry]) -> bool:
    entry = entries.get(ConsentPurpose.data_sharing)
    return entry is not None and entry.granted


async def _locations(session: AsyncSession) -> dict[uuid.UUID, Location]:
    rows = await session.execute(select(Location))
    return {location.id: location for location in rows.scalars()}


def _notify(
    session: AsyncSession,
    agreement: SharingAgreement,
    export: SharingExport,
    principal: Principal,
) -> None:
    """Tell the data protection focal point: who exported what to whom, how
    many records. No PII, and not the caller's free-text reason either (it
    may name someone); the export log has it."""
    raise_notice(
        session,
        organisation_id=agreement.organisation_id,
        kind="sharing_export",
        subject=principal.subject,
        entity_id=export.id,
        detail={
            "agreement_id": str(agreement.id),
            "partner": agreement.partner,
            "export_id": str(export.id),
            "records": export.records,
            "fields": list(export.fields),
            "identifying_fields": identifying(export.fields),
            "site_scope": _site_scope(principal.site_ids),
        },
    )


def _site_scope(site_ids: frozenset[uuid.UUID] | None) -> list[str] | None:
    return None if site_ids is None else sorted(str(s) for s in site_ids)
