"""Every table of the beneficiary service, imported once for metadata users."""

from services.beneficiary.audit.models import AuditEntry
from services.beneficiary.beneficiaries.models import Beneficiary, DuplicateCandidate
from services.beneficiary.cases.models import (
    Assessment,
    Case,
    CasePlan,
    FollowUp,
    SafetyPlan,
)
from services.beneficiary.consent.models import ConsentEntry
from services.beneficiary.db import IdempotencyRecord, OutboxCounter, OutboxEvent
from services.beneficiary.feedback.models import FeedbackResponse
from services.beneficiary.imports.models import ImportJob, ImportMapping, ImportRefusal
from services.beneficiary.interventions.models import Enrolment, SessionAttendance
from services.beneficiary.locations.models import Location
from services.beneficiary.materials.models import MaterialDistribution
from services.beneficiary.organisations.models import Organisation
from services.beneficiary.partners.models import (
    CapacityAssessment,
    MappingExercise,
    NeedsAssessment,
    OrganisationProfile,
    SelectionApplication,
    SelectionRound,
    SelectionScore,
)
from services.beneficiary.partnerships.models import Partnership
from services.beneficiary.projects.models import Project
from services.beneficiary.protection.grants.models import AccessGrant
from services.beneficiary.protection.notices.models import ProtectionNotice
from services.beneficiary.protection.retention.models import (
    RetentionPolicy,
    RetentionRun,
)
from services.beneficiary.protection.sharing.models import (
    SharingAgreement,
    SharingExport,
)
from services.beneficiary.referrals.models import Referral
from services.beneficiary.risk.models import RiskAlert
from services.beneficiary.service_records.models import (
    AnonymousService,
    GroupActivity,
    ServiceRecord,
)
from services.beneficiary.sync.models import SyncConflict
from services.beneficiary.teams.models import Team

__all__ = [
    "FeedbackResponse",
    "MaterialDistribution",
    "CapacityAssessment",
    "MappingExercise",
    "NeedsAssessment",
    "OrganisationProfile",
    "SelectionApplication",
    "SelectionRound",
    "SelectionScore",
    "Partnership",
    "Project",
    "Team",
    "AccessGrant",
    "ProtectionNotice",
    "RetentionPolicy",
    "RetentionRun",
    "SharingAgreement",
    "SharingExport",
    "AnonymousService",
    "Assessment",
    "Case",
    "CasePlan",
    "FollowUp",
    "Referral",
    "SafetyPlan",
    "AuditEntry",
    "Beneficiary",
    "ConsentEntry",
    "DuplicateCandidate",
    "Enrolment",
    "GroupActivity",
    "IdempotencyRecord",
    "ImportJob",
    "ImportMapping",
    "ImportRefusal",
    "Location",
    "Organisation",
    "OutboxCounter",
    "OutboxEvent",
    "RiskAlert",
    "ServiceRecord",
    "SessionAttendance",
    "SyncConflict",
]
