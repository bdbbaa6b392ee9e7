"""Request and response models of trainees' feedback: a trainee form,
answers that fit it, and the cohort (and session) it follows. Nothing in a
response names the trainee who gave it.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.taxonomy.feedback import Answers, FeedbackForm, FormKey, check_answers


class TraineeFeedbackCreate(BaseModel):
    """An anonymous response to a trainee form after a cohort's session
    (``session_number``) or after the cohort as a whole."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "form": "trainee_satisfaction@1.0",
                    "cohort_id": "0f8e8a66-7d1c-4a55-9f55-3f1e7a0b9c21",
                    "session_number": 3,
                    "answers": {
                        "overall_satisfied": 5,
                        "content_relevant": 4,
                        "would_recommend": True,
                    },
                }
            ]
        },
    )

    id: uuid.UUID | None = Field(
        default=None, description="A client-chosen id, for offline retries."
    )
    form: FormKey
    cohort_id: uuid.UUID
    session_number: int | None = Field(default=None, ge=0, le=500)
    answers: Answers

    @model_validator(mode="after")
    def _fits(self) -> TraineeFeedbackCreate:
        check_answers(self.form, self.answers, "trainee")
        return self


class TraineeFeedbackRead(BaseModel):
    """A trainee's response as recorded, with its cohort's course and place."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "9a1d0d7e-5a8e-4f61-8f0e-2b7c4c9e6d11",
                    "organisation_id": "58a9d726-0b8d-480a-ba96-80279eee9332",
                    "cohort_id": "0f8e8a66-7d1c-4a55-9f55-3f1e7a0b9c21",
                    "session_number": 3,
                    "form": "trainee_satisfaction@1.0",
                    "answers": {"overall_satisfied": 5, "would_recommend": True},
                    "answered_on": "2026-03-04",
                    "course_id": "4c3a1f0e-8b2d-4e6f-9a7b-1c2d3e4f5a6b",
                    "site_id": None,
                    "project_id": None,
                    "created_at": "2026-03-04T15:00:00Z",
                }
            ]
        },
    )

    id: uuid.UUID
    organisation_id: uuid.UUID
    cohort_id: uuid.UUID
    session_number: int | None
    form: str
    answers: dict[str, int | bool]
    answered_on: date
    course_id: uuid.UUID
    site_id: uuid.UUID | None
    project_id: uuid.UUID | None
    created_at: datetime


class TraineeFormList(BaseModel):
    """The trainee feedback forms, with their items and scales."""

    items: list[FeedbackForm]
