"""Request and response models for services delivered. Activity codes must come
from the taxonomy, durations fit in a day, and anonymous counts are bounded per
cell and in total, with each (sex, age group, disability) cell given once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from services.beneficiary.beneficiaries.schemas import RecordDate
from shared.contracts.enums import (
    AgeGroup,
    DeliveredThrough,
    DeliveryMode,
    DisabilityStatus,
    Modality,
    Sex,
)
from shared.contracts.text import Text
from shared.db import DriverId
from shared.taxonomy.activities import topics
from shared.taxonomy.iasc import IascLayer

ActivityCode = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9_]{2,64}$"),
    Field(description="A code from GET /v1/taxonomy/activities."),
]
StaffId = Annotated[
    Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
]
Minutes = Annotated[int, Field(ge=1, le=24 * 60)]


def _known_topic(code: str) -> str:
    if code not in topics():
        raise ValueError("unknown topic; allowed: " + ", ".join(sorted(topics())))
    return code


ServiceTopic = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9_]{2,64}$"),
    AfterValidator(_known_topic),
    Field(
        description="What the service was about: a code of "
        "shared/taxonomy/topics.csv (e.g. anger_management)."
    ),
]
MAX_TOPICS = 5
"""The most topics one service names (a session is about a few things)."""
ServiceTopics = Annotated[
    list[ServiceTopic],
    Field(
        max_length=MAX_TOPICS,
        description="What the service was about, up to five codes of "
        "shared/taxonomy/topics.csv, each once; an unknown code is a 422 "
        "listing the allowed ones. Reports count the service once under each "
        "topic and once in their total.",
    ),
]
_DEPRECATED: dict[str, Any] = {"deprecated": True}
"""Marks a body field deprecated in the OpenAPI (pydantic's own flag warns
on every read of the attribute)."""
_DEPRECATED_TOPIC = (
    "Deprecated: one topic, as old clients send it; use topic_codes. Sent "
    "alone (no topic_codes in the body), it stands for topic_codes "
    "[topic_code] on a new record; on an edit (PATCH, or a sync change of a "
    "known record) it names the first topic only: the stored list stays when "
    "it is its first, else its first is replaced and the others kept (null "
    "clears the list). Sent with topic_codes, it must be the first of them. "
    "Read, it is the first of topic_codes."
)


def one_topic_list(topic_code: str | None, topic_codes: list[str] | None) -> list[str]:
    """The topics a body states, old clients' single topic included."""
    if topic_codes is None:
        return [topic_code] if topic_code else []
    if len(set(topic_codes)) != len(topic_codes):
        raise ValueError("topic_codes names a topic twice")
    if topic_code is not None and topic_codes[:1] != [topic_code]:
        raise ValueError(
            "topic_code (deprecated) disagrees with topic_codes: send topic_codes"
        )
    return topic_codes


def first_topic_replaced(stored: Sequence[str], topic_code: str | None) -> list[str]:
    """The topics a record keeps when an edit names only the deprecated
    ``topic_code``: an old client knows one topic (the first, as it reads
    it), so the rest of the list is not its to drop. The stored list when
    ``topic_code`` is its first, else the list with its first replaced (the
    new code not repeated later); none when the client cleared its topic."""
    if topic_code is None:
        return []
    if list(stored[:1]) == [topic_code]:
        return list(stored)
    return [topic_code, *(code for code in stored[1:] if code != topic_code)]


def topic_code_alone(body: BaseModel) -> bool:
    """Whether a body sent ``topic_code`` without ``topic_codes``."""
    given = body.model_fields_set
    return "topic_code" in given and "topic_codes" not in given


ServiceLanguage = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z]{2,3}$"),
    Field(description="The language it was given in (ISO 639, e.g. ar, ckb)."),
]


class DeliveryTags(BaseModel):
    """Which team gave it, how, and under which project."""

    team_id: uuid.UUID | None = Field(
        default=None,
        description="A team of your organisation (GET /v1/teams); a "
        "team-scoped user's records are always its own team's.",
    )
    delivery_mode: DeliveryMode | None = Field(
        default=None,
        description="At a centre, by a mobile team or on an outreach visit.",
    )
    project_id: uuid.UUID | None = Field(
        default=None,
        description="A project your organisation leads or is a partner in "
        "(GET /v1/projects), running on the record's date.",
    )


class DeliveryTagsRead(BaseModel):
    team_id: uuid.UUID | None
    delivery_mode: DeliveryMode | None
    project_id: uuid.UUID | None


class ServiceRecordFields(DeliveryTags):
    """The full state of a service record (what a sync sends)."""

    model_config = ConfigDict(extra="forbid")

    beneficiary_id: DriverId
    activity_code: ActivityCode
    service_date: RecordDate
    site_id: uuid.UUID | None = None
    modality: Modality = Modality.in_person
    staff_id: StaffId | None = None
    duration_minutes: Minutes | None = None
    topic_code: ServiceTopic | None = Field(
        default=None, description=_DEPRECATED_TOPIC, json_schema_extra=_DEPRECATED
    )
    topic_codes: ServiceTopics | None = None
    language: ServiceLanguage | None = None

    @model_validator(mode="after")
    def _topics(self) -> Self:
        """Both topic fields state the same list once validated;
        ``model_fields_set`` still tells whether the body sent
        ``topic_codes`` (see ``topic_code_alone``)."""
        sent = "topic_codes" in self.model_fields_set
        topics = one_topic_list(self.topic_code, self.topic_codes)
        self.topic_codes = topics
        self.topic_code = topics[0] if topics else None
        if not sent:
            self.model_fields_set.discard("topic_codes")
        return self

    def onto(self, stored: Sequence[str]) -> Self:
        """This full state as an edit of a record holding ``stored`` topics:
        an old client's single topic replaces the first only."""
        if not topic_code_alone(self):
            return self
        topics = first_topic_replaced(stored, self.topic_code)
        return self.model_copy(
            update={"topic_codes": topics, "topic_code": topics[0] if topics else None}
        )


class ServiceRecordCreate(ServiceRecordFields):
    """A service delivered to a registered person."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "beneficiary_id": "81bb90a8-efe9-49dc-ae33-a9fddce37fce",
                    "activity_code": "individual_counselling",
                    "service_date": "2026-02-01",
                    "modality": "in_person",
                    "staff_id": "staff-1",
                    "duration_minutes": 50,
                    "topic_codes": ["anger_management", "sleep"],
                    "language": "ar",
                    "id": "0f3e2a14-58f5-4a44-9a1e-3b0d8c6b9e21",
                }
            ]
        }
    )

    id: uuid.UUID | None = None


class ServiceRecordUpdate(DeliveryTags):
    """A correction to a service record."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"activity_code": "pfa"}]}, extra="forbid"
    )

    activity_code: ActivityCode | None = None
    service_date: RecordDate | None = None
    site_id: uuid.UUID | None = None
    modality: Modality | None = None
    staff_id: StaffId | None = None
    duration_minutes: Minutes | None = None
    topic_code: ServiceTopic | None = Field(
        default=None, description=_DEPRECATED_TOPIC, json_schema_extra=_DEPRECATED
    )
    topic_codes: ServiceTopics | None = None
    language: ServiceLanguage | None = None


class VoidRequest(BaseModel):
    """Why a service record is voided."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "wrong day"}]}, extra="forbid"
    )

    reason: Text = Field(min_length=3, max_length=500)


class ServiceRecordRead(DeliveryTagsRead):
    """A service record."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "team_id": "2b69014d-12d6-46c0-8750-06cb70c5f54f",
                    "delivery_mode": "centre",
                    "project_id": "9740bbc3-824f-409a-87ae-5afcc5db235d",
                    "id": "8587bca6-6109-4cde-9f76-8905f7c72342",
                    "beneficiary_id": "90f2999d-8715-4725-a41c-90d7a11646c9",
                    "organisation_id": "c5e1fc24-ed24-4989-a3cc-8b071fae7a10",
                    "lead_organisation_id": "c5e1fc24-ed24-4989-a3cc-8b071fae7a10",
                    "delivered_through": "direct",
                    "activity_code": "individual_counselling",
                    "iasc_layer": "focused_non_specialized",
                    "service_date": "2026-02-01",
                    "site_id": None,
                    "modality": "in_person",
                    "staff_id": "staff-1",
                    "duration_minutes": 50,
                    "topic_code": "anger_management",
                    "topic_codes": ["anger_management", "sleep"],
                    "language": "ar",
                    "group_activity_id": None,
                    "voided": False,
                    "void_reason": None,
                    "version": 1,
                    "created_by": "user-b3aa5e",
                    "created_at": "2026-02-03T09:15:00Z",
                    "updated_at": "2026-02-03T09:15:00Z",
                }
            ]
        },
        from_attributes=True,
    )

    id: uuid.UUID
    beneficiary_id: uuid.UUID
    organisation_id: uuid.UUID
    lead_organisation_id: uuid.UUID
    delivered_through: DeliveredThrough
    activity_code: str
    iasc_layer: IascLayer
    service_date: date
    site_id: uuid.UUID | None
    modality: Modality
    staff_id: str | None
    duration_minutes: int | None
    topic_code: str | None = Field(
        default=None,
        description="Deprecated: the first of topic_codes.",
        json_schema_extra=_DEPRECATED,
    )
    topic_codes: list[str] = Field(
        default_factory=list,
        description="What it was about (its group's topic, if any).",
    )
    language: str | None = Field(
        default=None, description="The language it was given in (ISO 639)."
    )
    group_activity_id: uuid.UUID | None
    voided: bool
    void_reason: str | None
    version: int
    created_by: str
    created_at: datetime
    updated_at: datetime


# No single activity serves more people: larger figures are typing errors or
# attacks on the headline figures (a large plausible one needs a supervisor,
# BENEFICIARY_ANONYMOUS_CONFIRM_ABOVE).
ANONYMOUS_MAX_CELL = 5_000
ANONYMOUS_MAX_TOTAL = 10_000


class AnonymousCountIn(BaseModel):
    """People served without registration, counted by sex, age group and disability."""

    model_config = ConfigDict(extra="forbid")

    sex: Sex | None = None
    age_group: AgeGroup = AgeGroup.unknown
    disability: DisabilityStatus = DisabilityStatus.not_disclosed
    count: int = Field(ge=1, le=ANONYMOUS_MAX_CELL)


def _distinct_cells(counts: list[AnonymousCountIn]) -> list[AnonymousCountIn]:
    cells = [(c.sex, c.age_group, c.disability) for c in counts]
    if len(cells) != len(set(cells)):
        raise ValueError("each (sex, age_group, disability) cell may appear once")
    if sum(c.count for c in counts) > ANONYMOUS_MAX_TOTAL:
        raise ValueError(f"at most {ANONYMOUS_MAX_TOTAL} people in one record")
    return counts


class AnonymousServiceFields(DeliveryTags):
    """The full state of an anonymous service (what a sync sends): an activity
    for people who are not registered (awareness sessions, coordination
    meetings), counted by sex, age group and disability."""

    model_config = ConfigDict(extra="forbid")

    activity_code: ActivityCode
    service_date: RecordDate
    site_id: uuid.UUID | None = None
    modality: Modality = Modality.in_person
    staff_id: StaffId | None = None
    counts: list[AnonymousCountIn] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _cells(self) -> AnonymousServiceFields:
        _distinct_cells(self.counts)
        return self


class AnonymousServiceCreate(AnonymousServiceFields):
    """An activity for people who are not registered (awareness sessions,
    coordination meetings): counts by sex, age group and disability."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "activity_code": "awareness_session",
                    "service_date": "2026-02-10",
                    "site_id": "5bee242a-be00-4c7f-8670-9ac196c8dc17",
                    "counts": [
                        {"sex": "female", "age_group": "18_plus", "count": 12},
                        {"sex": "male", "age_group": "0_17", "count": 7},
                    ],
                }
            ]
        },
    )

    id: uuid.UUID | None = None


class AnonymousServiceRead(DeliveryTagsRead):
    """An activity delivered to people who were counted, not registered."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organisation_id: uuid.UUID
    lead_organisation_id: uuid.UUID
    delivered_through: DeliveredThrough
    activity_code: str
    iasc_layer: IascLayer
    service_date: date
    site_id: uuid.UUID | None
    modality: Modality
    staff_id: str | None
    group_activity_id: uuid.UUID | None
    counts: list[AnonymousCountIn]
    total: int
    voided: bool
    version: int
    created_at: datetime


TopicCode = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9_]{2,64}$"),
    AfterValidator(_known_topic),
    Field(
        description="The group's topic: a code of shared/taxonomy/topics.csv "
        "(e.g. anger_management), the list service records use."
    ),
]


LanguageCode = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z]{2,3}$"),
    Field(description="The language it was held in (ISO 639, e.g. ar, ckb)."),
]


class GroupSeriesCreate(BaseModel):
    """A group that meets over several sessions: record it once, then each
    session as a group activity naming it (``group_series_id``)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Women's peer-support group, Dahuk City",
                    "activity_code": "peer_support_group",
                    "topic_code": "stress_management",
                    "facilitator_staff_ids": ["staff-1", "staff-2"],
                    "site_id": "5bee242a-be00-4c7f-8670-9ac196c8dc17",
                    "planned_sessions": 8,
                    "starts_on": "2026-02-02",
                }
            ]
        },
    )

    id: uuid.UUID | None = None
    name: Text = Field(min_length=1, max_length=200)
    activity_code: ActivityCode
    topic_code: TopicCode | None = None
    facilitator_staff_ids: list[StaffId] = Field(default_factory=list, max_length=20)
    site_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    planned_sessions: int = Field(ge=1, le=200)
    starts_on: RecordDate


class GroupSeriesRead(BaseModel):
    """A group series with the sessions held and the people it reached."""

    id: uuid.UUID
    name: str
    activity_code: str
    topic_code: str | None
    facilitator_staff_ids: list[str]
    site_id: uuid.UUID | None
    team_id: uuid.UUID | None
    planned_sessions: int
    starts_on: date
    sessions_held: int = Field(description="Its sessions recorded, not voided.")
    people_reached: int = Field(
        description="Registered people at one of its sessions at least."
    )
    version: int
    created_at: datetime


class OrganisationParticipantsIn(BaseModel):
    """How many participants came from one organisation of the list."""

    model_config = ConfigDict(extra="forbid")

    organisation_id: uuid.UUID = Field(
        description="An organisation of GET /v1/organisations."
    )
    participants: int = Field(ge=1, le=ANONYMOUS_MAX_CELL)


class GroupActivityFields(DeliveryTags):
    """The full state of a group activity (what a sync sends): the session
    and who attended, registered (each counts as served) or counted."""

    model_config = ConfigDict(extra="forbid")

    activity_code: ActivityCode
    activity_date: RecordDate
    site_id: uuid.UUID | None = None
    modality: Modality = Modality.in_person
    duration_minutes: Minutes | None = None
    facilitator_staff_ids: list[StaffId] = Field(default_factory=list, max_length=20)
    attendee_ids: list[uuid.UUID] = Field(default_factory=list, max_length=1000)
    anonymous_attendees: list[AnonymousCountIn] = Field(
        default_factory=list, max_length=50
    )
    group_series_id: uuid.UUID | None = Field(
        default=None,
        description="The series (POST /v1/group-series) this is a session of; "
        "of the same activity.",
    )
    topic_code: TopicCode | None = None
    language: LanguageCode | None = None
    participants_by_organisation: list[OrganisationParticipantsIn] = Field(
        default_factory=list,
        max_length=100,
        description="Which organisations the attendees came from (a "
        "coordination meeting's): at most as many participants as attended; "
        "the rest are reported under an unknown organisation.",
    )
    protocol_session: int | None = Field(
        default=None,
        ge=0,
        le=100,
        description="The protocol session of a structured intervention this "
        "group session is (Group IPT's 3): each registered attendee's running "
        "enrolment whose intervention holds this session of this activity "
        "counts it as attended, through the attendee's record here (a "
        "supervised practice session links this group session by id). Stored "
        "with the group, and read the same from the API, a sync or an import.",
    )

    @model_validator(mode="after")
    def _attendance(self) -> GroupActivityFields:
        if len(set(self.attendee_ids)) != len(self.attendee_ids):
            raise ValueError("an attendee is listed twice")
        if not self.attendee_ids and not self.anonymous_attendees:
            raise ValueError("a group activity needs attendees")
        _distinct_cells(self.anonymous_attendees)
        organisations = [p.organisation_id for p in self.participants_by_organisation]
        if len(set(organisations)) != len(organisations):
            raise ValueError("an organisation is listed twice")
        attended = len(self.attendee_ids) + sum(
            c.count for c in self.anonymous_attendees
        )
        if sum(p.participants for p in self.participants_by_organisation) > attended:
            raise ValueError(
                "more participants by organisation than attendees "
                f"({attended} attended)"
            )
        return self


class GroupActivityCreate(GroupActivityFields):
    """A group session: registered attendees each count as served."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "6de441c2-2574-4ba8-b6a9-0b3662631976",
                    "activity_code": "ipt_group_session",
                    "activity_date": "2026-02-09",
                    "site_id": "5bee242a-be00-4c7f-8670-9ac196c8dc17",
                    "modality": "in_person",
                    "duration_minutes": 90,
                    "facilitator_staff_ids": ["staff-1"],
                    "attendee_ids": ["81bb90a8-efe9-49dc-ae33-a9fddce37fce"],
                    "anonymous_attendees": [
                        {"sex": "female", "age_group": "18_plus", "count": 5}
                    ],
                }
            ]
        },
    )

    id: uuid.UUID | None = None


class GroupLookupRequest(BaseModel):
    """Group sessions to look up by id."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"ids": ["6de441c2-2574-4ba8-b6a9-0b3662631976"]}]
        },
        extra="forbid",
    )

    ids: list[uuid.UUID] = Field(min_length=1, max_length=100)


class GroupAttendance(BaseModel):
    """For another service's machine account: a group session of the
    organisation it acts for, with its registered attendees' pseudonymous
    ids (nothing else about them)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "organisation_id": "58a9d726-0b8d-480a-ba96-80279eee9332",
                    "site_id": "5bee242a-be00-4c7f-8670-9ac196c8dc17",
                    "activity_code": "ipt_group_session",
                    "activity_date": "2026-02-09",
                    "attendee_ids": ["81bb90a8-efe9-49dc-ae33-a9fddce37fce"],
                }
            ]
        }
    )

    organisation_id: uuid.UUID
    site_id: uuid.UUID | None
    activity_code: str
    activity_date: date
    attendee_ids: list[uuid.UUID] = Field(
        description="Registered attendees whose records stand (not voided)."
    )


class GroupLookupResult(BaseModel):
    """Which group sessions are the organisation's, not voided."""

    found: dict[uuid.UUID, GroupAttendance] = Field(
        description="group activity id -> the session and its attendees"
    )


class GroupActivityRead(DeliveryTagsRead):
    """A group session or meeting, counted once, with its attendance."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "team_id": "563793d5-4719-4874-b90d-44d8ce6092be",
                    "delivery_mode": "outreach_visit",
                    "project_id": "8790a99b-c5ee-46be-9bd4-14564ee99459",
                    "id": "54be4f02-40b4-4beb-bb34-c2c3ee0b7eed",
                    "organisation_id": "58a9d726-0b8d-480a-ba96-80279eee9332",
                    "lead_organisation_id": "58a9d726-0b8d-480a-ba96-80279eee9332",
                    "delivered_through": "direct",
                    "activity_code": "caregiver_session",
                    "group_series_id": None,
                    "topic_code": "positive_parenting",
                    "language": "ar",
                    "iasc_layer": "community_family",
                    "activity_date": "2026-03-01",
                    "site_id": None,
                    "modality": "in_person",
                    "duration_minutes": None,
                    "facilitator_staff_ids": [],
                    "attendee_ids": ["8adeb3cc-ded5-4db8-8a0e-427ba656a5b2"],
                    "anonymous_attendees": [
                        {
                            "sex": None,
                            "age_group": "unknown",
                            "disability": "not_disclosed",
                            "count": 4,
                        }
                    ],
                    "participants_by_organisation": [],
                    "served_total": 5,
                    "version": 1,
                    "created_at": "2026-03-01T10:20:00Z",
                }
            ]
        }
    )

    id: uuid.UUID
    organisation_id: uuid.UUID
    lead_organisation_id: uuid.UUID
    delivered_through: DeliveredThrough
    activity_code: str
    iasc_layer: IascLayer
    activity_date: date
    site_id: uuid.UUID | None
    modality: Modality
    duration_minutes: int | None
    facilitator_staff_ids: list[str]
    group_series_id: uuid.UUID | None
    topic_code: str | None
    language: str | None
    protocol_session: int | None = Field(
        default=None, description="The protocol session it was recorded as."
    )
    attendee_ids: list[uuid.UUID]
    anonymous_attendees: list[AnonymousCountIn]
    participants_by_organisation: list[OrganisationParticipantsIn]
    served_total: int
    version: int
    created_at: datetime
