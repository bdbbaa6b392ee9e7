"""The beneficiary service: organisations, locations, beneficiaries, consent,
service records, offline sync and the change feed."""

from __future__ import annotations

from fastapi import FastAPI

from services.beneficiary.audit.router import router as audit_router
from services.beneficiary.beneficiaries.router import router as beneficiaries_router
from services.beneficiary.cases.care_router import router as care_router
from services.beneficiary.cases.router import router as cases_router
from services.beneficiary.db import OutboxEvent
from services.beneficiary.duplicates.router import router as duplicates_router
from services.beneficiary.feedback.router import router as feedback_router
from services.beneficiary.imports.router import router as imports_router
from services.beneficiary.interventions.router import router as enrolments_router
from services.beneficiary.locations.router import router as locations_router
from services.beneficiary.materials.router import router as materials_router
from services.beneficiary.migrations.runner import MIGRATIONS
from services.beneficiary.organisations.router import router as organisations_router
from services.beneficiary.outbox.router import router as outbox_router
from services.beneficiary.partners.router import router as partners_router
from services.beneficiary.partnerships.router import router as partnerships_router
from services.beneficiary.projects.router import router as projects_router
from services.beneficiary.protection.grants.router import router as grants_router
from services.beneficiary.protection.notices.models import ProtectionNotice
from services.beneficiary.protection.notices.router import router as notices_router
from services.beneficiary.protection.retention.router import router as retention_router
from services.beneficiary.protection.sharing.router import router as sharing_router
from services.beneficiary.referrals.router import router as referrals_router
from services.beneficiary.risk.models import RiskAlert
from services.beneficiary.risk.router import router as risk_router
from services.beneficiary.service_records.router import router as records_router
from services.beneficiary.settings import BeneficiarySettings
from services.beneficiary.subject_rights.router import router as subject_rights_router
from services.beneficiary.sync.router import router as sync_router
from services.beneficiary.teams.router import router as teams_router
from services.beneficiary.worker import JOBS, QUEUE_NAME
from shared.app import create_service_app
from shared.contracts.ingest import REPORTING_QUEUE
from shared.ops_metrics import outbox_probe, queue_probe, webhook_probe
from shared.queue import JobQueue


def create_app(
    settings: BeneficiarySettings | None = None, *, queue: JobQueue | None = None
) -> FastAPI:
    return create_service_app(
        settings or BeneficiarySettings(),
        title="MHPSS beneficiary service",
        description="Register people, their consent and every service they "
        "receive; offline sync for field apps; the change feed for reporting.",
        routers=[
            organisations_router,
            partners_router,
            teams_router,
            projects_router,
            partnerships_router,
            locations_router,
            beneficiaries_router,
            duplicates_router,
            subject_rights_router,
            records_router,
            materials_router,
            feedback_router,
            cases_router,
            retention_router,
            grants_router,
            notices_router,
            sharing_router,
            care_router,
            referrals_router,
            enrolments_router,
            risk_router,
            sync_router,
            imports_router,
            outbox_router,
            audit_router,
        ],
        jobs=JOBS,
        migrate=MIGRATIONS.upgrade,
        queue=queue,
        probes={
            "queue": queue_probe([QUEUE_NAME, REPORTING_QUEUE]),
            "outbox": outbox_probe(OutboxEvent),
            "webhooks": webhook_probe([RiskAlert, ProtectionNotice]),
        },
    )
