"""Tables of results: pre- and post-test scores, competency ratings (the
overall level is the lowest item's), certifications, and the last result
published per trainee and cohort, so certifying again sends only what changed.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field

from services.training.db import Table
from shared.db import UTCDateTime, organisation_key, same_organisation, utcnow


class KnowledgeTestKind(StrEnum):
    """Whether a knowledge test was taken before or after the course."""

    pre = "pre"
    post = "post"


class KnowledgeTest(Table, table=True):
    """A trainee's pre- or post-test score (percentage) in a cohort."""

    __tablename__ = "knowledge_test"
    __table_args__ = (
        UniqueConstraint("cohort_id", "trainee_id", "kind", "organisation_id"),
        same_organisation("cohort_id", "cohort"),
        same_organisation("trainee_id", "trainee"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID
    cohort_id: uuid.UUID = Field(index=True)
    trainee_id: uuid.UUID = Field(index=True)
    kind: KnowledgeTestKind
    score: float
    taken_on: date


class CompetencyAssessment(Table, table=True):
    """Items rated on levels; the overall level is the lowest item level."""

    __tablename__ = "competency_assessment"
    __table_args__ = (
        organisation_key(),
        same_organisation("cohort_id", "cohort"),
        same_organisation("trainee_id", "trainee"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(primary_key=True, index=True)
    cohort_id: uuid.UUID | None = None
    trainee_id: uuid.UUID = Field(index=True)
    tool: str = Field(max_length=64)
    mode: str = Field(max_length=32)
    context: str = Field(max_length=32)
    assessed_on: date
    assessor: str = Field(max_length=255)
    ratings: dict[str, Any] = Field(sa_type=JSON)
    harmful_items: list[str] = Field(default_factory=list, sa_type=JSON)
    overall_level: int
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Certification(Table, table=True):
    """A trainee who met the course's criteria in a cohort."""

    __tablename__ = "certification"
    __table_args__ = (
        UniqueConstraint("cohort_id", "trainee_id", "organisation_id"),
        same_organisation("cohort_id", "cohort"),
        same_organisation("trainee_id", "trainee"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(index=True)
    cohort_id: uuid.UUID = Field(index=True)
    trainee_id: uuid.UUID = Field(index=True)
    certified_on: date
    certified_by: str = Field(max_length=255)


class PublishedResult(Table, table=True):
    """The last result published for a trainee in a cohort, so certifying
    again publishes only what changed."""

    __tablename__ = "published_result"
    __table_args__ = (
        UniqueConstraint("cohort_id", "trainee_id", "organisation_id"),
        same_organisation("cohort_id", "cohort"),
        same_organisation("trainee_id", "trainee"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID
    cohort_id: uuid.UUID = Field(index=True)
    trainee_id: uuid.UUID
    completed: bool
    certified: bool
    pre_test: float | None = None
    post_test: float | None = None
    competency_level: int | None = None
