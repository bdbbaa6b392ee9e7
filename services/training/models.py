"""Every table of the training service, imported once for metadata users."""

from services.training.cohorts.models import (
    Attendance,
    Cohort,
    CohortEnrolment,
    CohortSession,
)
from services.training.courses.models import Course
from services.training.db import (
    AuditEntry,
    FeedCursor,
    IdempotencyRecord,
    OutboxCounter,
    OutboxEvent,
)
from services.training.feedback.models import TraineeFeedback
from services.training.mentoring.models import (
    ActionPoint,
    MentoringPlan,
    MentoringVisit,
)
from services.training.practice.models import (
    FidelityReview,
    PracticeGroup,
    PracticeSession,
)
from services.training.results.models import (
    Certification,
    CompetencyAssessment,
    KnowledgeTest,
    PublishedResult,
)
from services.training.supervision.models import SupervisionSession
from services.training.trainees.models import Trainee

__all__ = [
    "TraineeFeedback",
    "ActionPoint",
    "MentoringPlan",
    "MentoringVisit",
    "Attendance",
    "AuditEntry",
    "Certification",
    "CompetencyAssessment",
    "KnowledgeTest",
    "Cohort",
    "CohortEnrolment",
    "CohortSession",
    "Course",
    "FeedCursor",
    "FidelityReview",
    "IdempotencyRecord",
    "OutboxCounter",
    "OutboxEvent",
    "PracticeGroup",
    "PracticeSession",
    "PublishedResult",
    "SupervisionSession",
    "Trainee",
]
