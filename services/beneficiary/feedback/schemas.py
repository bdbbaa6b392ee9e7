"""Request and response models of participants' feedback: a participant
form, answers that fit it, and exactly one record it follows. Nothing in a
response names or describes the person who gave it.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.taxonomy.feedback import Answers, FeedbackForm, FormKey, check_answers


class FeedbackResponseCreate(BaseModel):
    """An anonymous response to a participant form after a group activity or
    a service: name exactly one of ``group_activity_id`` and
    ``service_record_id``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "form": "participant_satisfaction@1.0",
                    "group_activity_id": "54be4f02-40b4-4beb-bb34-c2c3ee0b7eed",
                    "answers": {
                        "overall_satisfied": 5,
                        "felt_respected": 4,
                        "felt_safe": True,
                    },
                }
            ]
        },
    )

    id: uuid.UUID | None = Field(
        default=None, description="A client-chosen id, for offline retries."
    )
    form: FormKey
    group_activity_id: uuid.UUID | None = None
    service_record_id: uuid.UUID | None = None
    answers: Answers

    @model_validator(mode="after")
    def _fits(self) -> FeedbackResponseCreate:
        if (self.group_activity_id is None) == (self.service_record_id is None):
            raise ValueError(
                "name exactly one of group_activity_id and service_record_id"
            )
        check_answers(self.form, self.answers, "participant")
        return self


class FeedbackResponseRead(BaseModel):
    """A response as recorded, with the delivery columns of its record."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "3f0c3f5e-2c53-4d9f-8f1e-6e2f1f1c7a10",
                    "organisation_id": "58a9d726-0b8d-480a-ba96-80279eee9332",
                    "form": "participant_satisfaction@1.0",
                    "answers": {"overall_satisfied": 5, "felt_safe": True},
                    "group_activity_id": "54be4f02-40b4-4beb-bb34-c2c3ee0b7eed",
                    "service_record_id": None,
                    "answered_on": "2026-03-01",
                    "activity_code": "peer_support_group",
                    "site_id": None,
                    "team_id": None,
                    "project_id": None,
                    "created_at": "2026-03-01T10:20:00Z",
                }
            ]
        },
    )

    id: uuid.UUID
    organisation_id: uuid.UUID
    form: str
    answers: dict[str, int | bool]
    group_activity_id: uuid.UUID | None
    service_record_id: uuid.UUID | None
    answered_on: date
    activity_code: str
    site_id: uuid.UUID | None
    team_id: uuid.UUID | None
    project_id: uuid.UUID | None
    created_at: datetime


class FeedbackFormList(BaseModel):
    """The feedback forms, with their items and scales."""

    items: list[FeedbackForm]
