"""Erasure and subject access between services: ids only cross.

**Forgetting a beneficiary in training.** When the beneficiary service's
``publish_outbox`` job has sequenced a ``beneficiary.erased`` event, it
enqueues, by name, on training's queue::

    forget_beneficiary(ctx, beneficiary_id: str, organisation_id: str)

with the job id ``forget:<event id>``. Training also pulls the beneficiary
change feed for ``beneficiary.erased`` (``GET /v1/events?type=...``) every
minute, so a job lost with Redis is made up for; forgetting twice does
nothing the second time.

**A beneficiary's record in training.** The beneficiary service's subject
access export asks training, with a machine token of the person's
organisation, ``GET /v1/practice-clients/{beneficiary_id}``, answered by
``ClientParticipation``: the practice groups the person is a client of and
the sessions they attended, nothing about anyone else.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Final

from pydantic import BaseModel, Field

from shared.contracts.events import EventType

TRAINING_QUEUE: Final = "training"
FORGET_BENEFICIARY_JOB: Final = "forget_beneficiary"
ERASED_EVENT: Final = EventType.beneficiary_erased


def forget_job_id(event_id: uuid.UUID) -> str:
    """One job per erasure event, however often it is enqueued."""
    return f"forget:{event_id}"


class PracticeSessionAttended(BaseModel):
    """A practice session a person attended."""

    number: int
    phase: str
    held_on: date
    attended: bool


class PracticeGroupParticipation(BaseModel):
    """One supervised-practice group the person was a client of."""

    group_id: uuid.UUID
    name: str
    approach: str = Field(description="The intervention model, e.g. ipt_g.")
    started_on: date
    sessions: list[PracticeSessionAttended]


class ClientParticipation(BaseModel):
    """What the training service holds about one beneficiary (by pseudonymous
    id): the practice groups they are a client of. Facilitators, other
    clients and reviews are other people's data and are left out."""

    beneficiary_id: uuid.UUID
    practice_groups: list[PracticeGroupParticipation]
