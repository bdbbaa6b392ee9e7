"""Every table of the reporting service, imported once for metadata users."""

from services.reporting.access.models import ApiKey
from services.reporting.db import IdempotencyRecord
from services.reporting.exports.models import Export
from services.reporting.facts.models import (
    AssessmentFact,
    AttendanceFact,
    BeneficiaryFact,
    CaseFact,
    CompetencyFact,
    FeedCursor,
    IngestCounter,
    LocationDim,
    OrganisationDim,
    PracticeSessionFact,
    ReferralFact,
    ResultFact,
    ServiceFact,
    SupervisionFact,
    TouchedPeriod,
    TraineeFact,
)

__all__ = [
    "ApiKey",
    "AssessmentFact",
    "AttendanceFact",
    "BeneficiaryFact",
    "CaseFact",
    "CompetencyFact",
    "Export",
    "FeedCursor",
    "IdempotencyRecord",
    "IngestCounter",
    "LocationDim",
    "OrganisationDim",
    "PracticeSessionFact",
    "ReferralFact",
    "ResultFact",
    "ServiceFact",
    "SupervisionFact",
    "TouchedPeriod",
    "TraineeFact",
]
