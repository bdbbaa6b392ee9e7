"""Event types and payloads are declared once (``shared/contracts/events.py``)
and both sides read the declaration: producers cannot write a payload other
than the type's, reporting folds or deliberately skips every type."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.beneficiary.db import OutboxEvent
from services.reporting.ingest.fold import FOLDS, NOT_FOLDED
from shared.contracts.events import (
    EVENT_FACTS,
    ConsentFacts,
    EventType,
    TraineeErasedFacts,
)
from shared.outbox import add_event


def test_every_type_has_a_payload() -> None:
    assert set(EVENT_FACTS) == set(EventType)


def test_reporting_folds_or_deliberately_skips_every_type() -> None:
    assert set(FOLDS).isdisjoint(NOT_FOLDED)
    assert set(FOLDS) | NOT_FOLDED == set(EventType)


def test_a_payload_other_than_the_declared_one_is_refused() -> None:
    session = AsyncSession()  # nothing is added: the check comes first
    with pytest.raises(TypeError, match="consent.recorded carries ConsentFacts"):
        add_event(
            session,
            OutboxEvent,
            type=EventType.consent_recorded,
            organisation_id=uuid.uuid4(),
            entity_type="beneficiary",
            entity_id=uuid.uuid4(),
            facts=TraineeErasedFacts(
                trainee_id=uuid.uuid4(), organisation_id=uuid.uuid4()
            ),
        )
    assert not session.new
    assert ConsentFacts is EVENT_FACTS[EventType.consent_recorded]


def test_a_payload_as_json_must_have_exactly_the_declared_fields() -> None:
    """A bulk writer's payload built as JSON (no model per record) is held to
    the declared model's fields: one missing or one extra is refused."""
    session = AsyncSession()
    person = str(uuid.uuid4())
    for data in (
        {"beneficiary_id": person, "purpose": "services"},
        {"beneficiary_id": person, "purpose": "services", "granted": True, "x": 1},
    ):
        with pytest.raises(TypeError, match="consent.recorded carries ConsentFacts"):
            add_event(
                session,
                OutboxEvent,
                type=EventType.consent_recorded,
                organisation_id=uuid.uuid4(),
                entity_type="beneficiary",
                entity_id=uuid.uuid4(),
                facts=data,
            )
    assert not session.new
