"""Every published table from records (issue 14): a year's programme
recorded through the three services' HTTP APIs, then the figures an annual
report and two training programmes publish, each worked out by hand.

Org A (lead), its implementing partner and org B, 2026:

- Coordination meetings (``MEETINGS``): four, typed in as anonymous
  attendees with the organisations they came from.
- Livelihood integration (``AWARENESS``, ``PEER_SUPPORT``): 12 awareness
  sessions and 15 peer-support group sessions as anonymous counts, 537
  participants (234 women, 303 men).
- IPT-G cascade: a 43-hour online foundational course (``FOUNDATIONAL``,
  sessions on the four problem areas) for 26 trainees, a ToT for 8 of them
  (``TOT``), who then facilitate 4 supervised practice groups of 6, 8, 10 and
  8 clients (``SIZES``) under weekly supervision: each group a pre-group
  session and 8 group sessions recorded as group activities (36 recorded
  sessions), the clients enrolled in Group IPT with a problem area each.
- PFA and suicide prevention (``PFA``): 31 NGO staff in three cities, from
  org B, the partner or no listed organisation.
- Two more people served once (individual counselling), who are not
  practice clients.

The people are registered only where the figures need persons (the 32
practice clients and the 2 others); the rest are counts.
"""

from __future__ import annotations

from datetime import date, timedelta
from pprint import pformat
from typing import Any, NamedTuple

import httpx
import pytest
from fastapi import FastAPI

from services.training.settings import TrainingSettings
from shared.auth import Role
from tests.beneficiary.api import make_beneficiary, record_service
from tests.callers import Caller, Org, ok
from tests.reporting.helpers import table
from tests.reporting.programme import (
    DAHUK_CITY,
    MOSUL,
    Programme,
    adult_counts,
    locate,
)
from tests.training.api import (
    FIDELITY_ITEMS,
    SHA,
    Held,
    hold_cohort,
    trainee,
    training_caller,
)

START, END = "2026-01-01", "2026-12-31"
KIRKUK = "Kirkuk-Hay Al Jamia"


def day(on: date) -> str:
    return on.isoformat()


class Meeting(NamedTuple):
    recorder: str
    on: str
    site: str
    female: int
    male: int
    participants: dict[str, int]
    """Organisation key -> participants who came from it; the rest unplaced."""


MEETINGS = [
    Meeting("a", "2026-01-15", MOSUL, 6, 8, {"a": 4, "partner": 5, "b": 3}),
    Meeting("a", "2026-04-15", MOSUL, 4, 6, {"a": 3, "partner": 4, "b": 3}),
    Meeting("a", "2026-07-15", DAHUK_CITY, 5, 7, {"a": 4, "partner": 4, "b": 2}),
    Meeting("partner", "2026-10-15", MOSUL, 3, 5, {"partner": 3, "a": 3, "b": 2}),
]

# (day, women, men), twice a month from January to June: 12 x 12 = 144
# women and 12 x 16 = 192 men
AWARENESS = [(f"2026-{m:02d}-{d}", 12, 16) for m in range(1, 7) for d in ("05", "20")]
# weekly from March 2: 15 x 6 = 90 women, 6 x 8 + 9 x 7 = 111 men
PEER_SUPPORT = [
    (day(date(2026, 3, 2) + timedelta(weeks=k)), 6, 8 if k < 6 else 7)
    for k in range(15)
]

AUDIENCES = ["own_staff"] * 6 + ["ngo"] * 10 + ["cso"] * 4 + ["government"] * 6
"""The 26 IPT-G trainees by index."""
PART_TIMERS = {24, 25}
"""Two government trainees present at the first six sessions only."""
FOUNDATIONAL = [
    # 7 x 4 h + 5 x 3 h = 43 h, online
    ("2026-01-12", 4, "ipt_foundations"),
    ("2026-01-15", 4, "ipt_foundations"),
    ("2026-01-19", 4, "grief"),
    ("2026-01-22", 3, "grief"),
    ("2026-01-26", 4, "role_transitions"),
    ("2026-01-29", 3, "role_transitions"),
    ("2026-02-02", 4, "role_disputes"),
    ("2026-02-05", 3, "role_disputes"),
    ("2026-02-09", 4, "interpersonal_deficits"),
    ("2026-02-12", 3, "interpersonal_deficits"),
    ("2026-02-16", 4, "group_phases"),
    ("2026-02-19", 3, "group_phases"),
]
TOT = [0, 1, 2, 6, 7, 8, 16, 20]
"""The ToT's 8 trainees (3 own staff, 3 NGO, 1 CSO, 1 government): the
practice groups' facilitators, two to a group."""
TOT_DAYS = ["2026-03-02", "2026-03-03", "2026-03-04"]  # 6 h each, Dahuk City
COACHED = [16, 17, 18, 19]
"""The CSO trainees, coached together on 06-20."""
SUPERVISION = [day(date(2026, 4, 10) + timedelta(weeks=k)) for k in range(9)]
"""Weekly group supervision of the 8 facilitators, 60 minutes, Apr 10 - Jun 5."""

SIZES = (6, 8, 10, 8)
AREAS = ("grief", "role_transitions", "role_disputes", "interpersonal_deficits")
"""Client i of a group works on AREAS[i % 4]."""
ABSENT = {
    (0, 5): set(range(3, 9)),  # drops out after session 2 (04-30)
    (1, 6): {3},  # 8 of 9 sessions: completes
    (1, 7): {4, 5, 6},  # 6 of 9 (< 70 %): finished, not completed
    (2, 8): {8},  # 8 of 9: completes
    (2, 9): set(range(2, 9)),  # drops out after session 1 (04-25)
}
"""(group, client) -> group sessions missed; everyone else attends all."""
DROPPED = {(0, 5): "2026-04-30", (2, 9): "2026-04-25"}
FINISHED_BY_HAND = [(1, 6), (1, 7), (2, 8)]
"""Enrolments closed as finished on 06-05; those who attended every
session were finished by their last one."""
BORN_IN_GROUP_4 = [
    "2008-05-04",  # 17 at sessions 1-3 (04-16 to 04-30), 18 from session 4
    "2008-05-20",  # 17 at sessions 1-5 (to 05-14), 18 from session 6 (05-21)
    "1966-05-15",  # 59 at sessions 1-5, 60 from session 6
    "1958-02-01",
    "1961-09-09",
]
"""The first clients of group 4 (index 3); every other client is born in
1988 (aged 37 or 38 all year)."""


def pre_group(group: int) -> date:
    return date(2026, 4, 6) + timedelta(days=group)


def session_day(group: int, number: int) -> date:
    """Weekly: group 4's sessions 1-8 are 04-16, 04-23 ... 05-28, 06-04."""
    return pre_group(group) + timedelta(weeks=number)


# PFA and suicide prevention: a cohort per city, day 1 PFA (6 h), day 2
# suicide prevention (6 h); those absent on day 2 are the cohort's last.
PFA = [
    # city, first day, trainees, absent on day 2
    (DAHUK_CITY, date(2026, 5, 10), 10, 1),
    (MOSUL, date(2026, 5, 17), 11, 0),
    (KIRKUK, date(2026, 5, 24), 10, 2),
]
EMPLOYERS = ("b", "partner", None)
"""PFA trainee i works for EMPLOYERS[i % 3]: 11, 10 and 10 of the 31."""


async def record_meetings(programme: Programme, callers: dict[str, Caller]) -> None:
    for meeting in MEETINGS:
        await ok(
            await callers[meeting.recorder].post(
                "/v1/group-activities",
                {
                    "activity_code": "coordination_meeting",
                    "activity_date": meeting.on,
                    "site_id": programme.sites[meeting.site],
                    "anonymous_attendees": adult_counts(meeting.female, meeting.male),
                    "participants_by_organisation": [
                        {"organisation_id": programme.orgs[key].id, "participants": n}
                        for key, n in meeting.participants.items()
                    ],
                },
            )
        )


async def record_livelihoods(programme: Programme, alice: Caller) -> None:
    for activity, sessions in [
        ("mli_awareness_session", AWARENESS),
        ("mli_peer_support_group", PEER_SUPPORT),
    ]:
        for on, female, male in sessions:
            await ok(
                await alice.post(
                    "/v1/anonymous-services",
                    {
                        "activity_code": activity,
                        "service_date": on,
                        "site_id": programme.sites[DAHUK_CITY],
                        "counts": adult_counts(female, male),
                    },
                )
            )


async def record_ipt_training(
    programme: Programme, trainer: Caller, courses: dict[str, str]
) -> tuple[list[str], str]:
    """The online course, certified 02-27, and the ToT; returns the 26
    trainees' ids and the ToT cohort's."""
    people = [
        (
            await ok(
                await trainer.post(
                    "/v1/trainees",
                    trainee(full_name=f"IPT-G trainee {i}", audience=audience),
                )
            )
        )["id"]
        for i, audience in enumerate(AUDIENCES)
    ]
    courses["foundational"] = (
        await ok(
            await trainer.post(
                "/v1/courses",
                {
                    "title": "IPT-G foundations (online)",
                    "approach": "ipt_g",
                    "level": "foundational",
                    "planned_hours": 43,
                    "criteria": {"min_attendance_share": 0.8},
                },
            )
        )
    )["id"]
    cohort = await hold_cohort(
        trainer,
        courses["foundational"],
        "IPT-G foundations 2026",
        [
            Held(on, hours, topic, [
                p for i, p in enumerate(people) if n < 6 or i not in PART_TIMERS
            ])
            for n, (on, hours, topic) in enumerate(FOUNDATIONAL)
        ],
        modality="online",
    )  # fmt: skip
    results = await ok(
        await trainer.post(f"/v1/cohorts/{cohort}/certify", {"on": "2026-02-27"})
    )
    assert sum(r["certified"] for r in results) == 24  # 6 of 12 is under 80 %

    courses["tot"] = (
        await ok(
            await trainer.post(
                "/v1/courses",
                {
                    "title": "IPT-G training of trainers",
                    "approach": "ipt_g",
                    "level": "tot",
                    "planned_hours": 18,
                    "criteria": {
                        "min_attendance_share": 0.8,
                        "min_supervised_sessions": 9,
                        "min_mean_fidelity": 80,
                        "min_supervision_hours": 9,
                    },
                },
            )
        )
    )["id"]
    tot = await hold_cohort(
        trainer,
        courses["tot"],
        "IPT-G ToT 2026",
        [Held(on, 6, None, [people[i] for i in TOT]) for on in TOT_DAYS],
        site_id=programme.sites[DAHUK_CITY],
    )
    return people, tot


async def record_practice(
    programme: Programme,
    alice: Caller,
    trainer: Caller,
    tot_cohort: str,
    facilitators: list[str],
) -> list[list[str]]:
    """Four practice groups of the ToT cohort; each client registered,
    enrolled in Group IPT and seen at the pre-group session (an individual
    service through the enrolment), each group session recorded once as a
    group activity and linked from the practice session. Returns the
    clients' ids by group."""
    site = programme.sites[DAHUK_CITY]
    clients: list[list[str]] = []
    enrolments: dict[tuple[int, int], str] = {}
    for g, size in enumerate(SIZES):
        members = []
        for i in range(size):
            born = BORN_IN_GROUP_4[i] if g == 3 and i < 5 else "1988-03-03"
            person = await make_beneficiary(
                alice,
                date_of_birth=born,
                sex="female" if i % 2 else "male",
                registration_date="2026-04-01",
                site_id=site,
            )
            enrolment = await ok(
                await alice.post(
                    "/v1/enrolments",
                    {
                        "beneficiary_id": person["id"],
                        "intervention": "ipt_group",
                        "enrolled_on": "2026-04-06",
                        "problem_area": AREAS[i % 4],
                    },
                )
            )
            await ok(
                await alice.post(
                    f"/v1/enrolments/{enrolment['id']}/sessions",
                    {"session_number": 0, "attended_on": day(pre_group(g))},
                )
            )
            enrolments[g, i] = enrolment["id"]
            members.append(person["id"])
        clients.append(members)
        group = await ok(
            await trainer.post(
                "/v1/practice-groups",
                {
                    "name": f"IPT-G practice group {g + 1}",
                    "cohort_id": tot_cohort,
                    "facilitator_trainee_ids": facilitators[2 * g : 2 * g + 2],
                    "client_ids": members,
                    "started_on": day(pre_group(g)),
                },
            )
        )
        path = f"/v1/practice-groups/{group['id']}/sessions"
        await ok(
            await trainer.post(
                path,
                {
                    "number": 0,
                    "phase": "pre_group",
                    "held_on": day(pre_group(g)),
                    "attended_client_ids": members,
                },
            )
        )
        for number in range(1, 9):
            on = day(session_day(g, number))
            held = await ok(
                await alice.post(
                    "/v1/group-activities",
                    {
                        "activity_code": "ipt_group_session",
                        "activity_date": on,
                        "site_id": site,
                        "attendee_ids": [
                            c
                            for i, c in enumerate(members)
                            if number not in ABSENT.get((g, i), ())
                        ],
                        "protocol_session": number,
                    },
                )
            )
            await ok(
                await trainer.post(
                    path,
                    {
                        "number": number,
                        "phase": {1: "initial", 8: "termination"}.get(number, "middle"),
                        "held_on": on,
                        "group_session_id": held["id"],
                        "recording_ref": f"recordings/{g}/{number}.m4a",
                        "recording_sha256": SHA,
                    },
                )
            )
        # sessions 1 and 8 reviewed: 100 and 80 (2 of 10 items not done)
        for number, not_done in ((1, 0), (8, 2)):
            await ok(
                await trainer.post(
                    f"{path}/{number}/fidelity-reviews",
                    {
                        "reviewed_on": day(session_day(g, number)),
                        "ratings": {
                            item: 0 if k < not_done else 2
                            for k, item in enumerate(FIDELITY_ITEMS)
                        },
                    },
                )
            )
    for (g, i), on in DROPPED.items():
        await ok(await alice.post(f"/v1/enrolments/{enrolments[g, i]}/drop-out",
                                  {"on": on}))  # fmt: skip
    for g, i in FINISHED_BY_HAND:
        await ok(await alice.post(f"/v1/enrolments/{enrolments[g, i]}/finish",
                                  {"on": "2026-06-05"}))  # fmt: skip
    return clients


async def record_supervision(trainer: Caller, facilitators: list[str],
                             coached: list[str]) -> None:  # fmt: skip
    for on in SUPERVISION:
        await ok(
            await trainer.post(
                "/v1/supervision-sessions",
                {
                    "kind": "group",
                    "mode": "virtual",
                    "held_on": on,
                    "duration_minutes": 60,
                    "supervisee_trainee_ids": facilitators,
                },
            )
        )
    await ok(
        await trainer.post(
            "/v1/supervision-sessions",
            {
                "kind": "group",
                "purpose": "coaching",
                "mode": "in_person",
                "held_on": "2026-06-20",
                "duration_minutes": 60,
                "supervisee_trainee_ids": coached,
            },
        )
    )


async def record_pfa(
    programme: Programme, trainer: Caller, courses: dict[str, str]
) -> None:
    courses["pfa"] = (
        await ok(
            await trainer.post(
                "/v1/courses",
                {
                    "title": "PFA and suicide prevention",
                    "approach": "pfa",
                    "level": "foundational",
                    "planned_hours": 12,
                },
            )
        )
    )["id"]
    i = 0
    for city, first, size, absent in PFA:
        people = []
        for _ in range(size):
            employer = EMPLOYERS[i % 3]
            body = trainee(
                full_name=f"PFA trainee {i}",
                audience="ngo",
                affiliation_organisation_id=programme.orgs[employer].id
                if employer
                else None,
            )
            people.append((await ok(await trainer.post("/v1/trainees", body)))["id"])
            i += 1
        await hold_cohort(
            trainer,
            courses["pfa"],
            f"PFA and suicide prevention, {city}",
            [
                Held(day(first), 6, "pfa", people),
                Held(day(first + timedelta(days=1)), 6, "suicide_prevention",
                     people[: size - absent]),
            ],
            site_id=programme.sites[city],
        )  # fmt: skip


@pytest.mark.long
async def test_every_published_table_from_records(
    linked_training: FastAPI,
    alice: Caller,
    issue: Any,
    orgs: dict[str, Org],
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    """The module docstring's programme: every table below is the one a
    report publishes, each figure worked out by hand from the records."""
    programme = Programme(orgs=orgs)
    await locate(programme, alice, DAHUK_CITY, MOSUL, KIRKUK)
    partner = issue(orgs["partner"], Role.case_worker, subject="pat")
    trainer = training_caller(
        training_settings, training_client, orgs["a"], Role.trainer, Role.supervisor
    )
    await record_meetings(programme, {"a": alice, "partner": partner})
    await record_livelihoods(programme, alice)
    courses: dict[str, str] = {}
    trainees, tot_cohort = await record_ipt_training(programme, trainer, courses)
    facilitators = [trainees[i] for i in TOT]
    await record_practice(programme, alice, trainer, tot_cohort, facilitators)
    await record_supervision(trainer, facilitators, [trainees[i] for i in COACHED])
    # 9 sessions facilitated, mean fidelity 90, 9 hours of supervision each
    results = await ok(
        await trainer.post(f"/v1/cohorts/{tot_cohort}/certify", {"on": "2026-06-12"})
    )
    assert {r["trainee_id"] for r in results if r["certified"]} == set(facilitators)
    await record_pfa(programme, trainer, courses)
    for _ in range(2):
        person = await make_beneficiary(
            alice, date_of_birth="1990-06-15", registration_date="2026-03-01"
        )
        await record_service(alice, person["id"], service_date="2026-03-10")
    await catch_up()

    me = issue(orgs["a"], Role.me_officer)
    names = programme.names() | {
        orgs["b"].id: "Org B",
        **{course: level for level, course in courses.items()},
    }

    async def read(
        indicator: str, by: str = "", start: str = START, **filters: str
    ) -> dict[Any, Any]:
        return await table(
            reporting_client, me, indicator, start, END, by, names, **filters
        )

    livelihoods = "mli_awareness_session,mli_peer_support_group"
    ipt_g = {"activity": "ipt_group_session"}
    hpc = {"age_bands": "0-17,18-59,60+"}
    adults = {"age_bands": "0-17,18+"}
    pfa = {"course": courses["pfa"]}
    expected: list[tuple[str, str, dict[str, str], dict[Any, Any]]] = [
        # each meeting once, by the organisation that recorded it (a lead
        # sees its partner's)
        ("meetings_held", "organisation", {}, {"total": 4, "Org A": 3, "Partner": 1}),
        # 14 + 10 + 12 + 8 attendees: A 4+3+4+3, partner 5+4+4+3, B 3+3+2+2,
        # not placed 2 (01-15) + 2 (07-15)
        ("meeting_participants", "participant_organisation", {}, {
            "total": 44, "Org A": 14, "Partner": 16, "Org B": 10, "unknown": 4}),
        # sessions held once each: meetings are not sessions, pre-group
        # sessions are individual services
        ("group_sessions_held", "activity", {}, {
            "total": 59, "mli_awareness_session": 12,
            "mli_peer_support_group": 15, "ipt_group_session": 32}),
        # women 144 + 90, men 192 + 111
        ("services_delivered", "sex", {"activity": livelihoods}, {
            "total": 537, "female": 234, "male": 303}),
        # 537 / 27; 336 / 12; 201 / 15
        ("mean_group_attendance", "activity", {"activity": livelihoods}, {
            "total": 19.8889, "mli_awareness_session": 28.0,
            "mli_peer_support_group": 13.4}),
        # 12 x 28; 90 + 111; and the meetings' 44
        ("people_reached_anonymous", "activity", {}, {
            "total": 581, "coordination_meeting": 44,
            "mli_awareness_session": 336, "mli_peer_support_group": 201}),
        # a service per attendance: group sessions 42 + 60 + 72 + 64 (group
        # 1: 6 x 2 + 5 x 6; group 2: 64 - 1 - 3; group 3: 80 - 7 - 1), a
        # pre-group session each, 2 counselling; the practice sessions add
        # nothing
        ("services_delivered", "activity", {}, {
            "total": 853, "coordination_meeting": 44,
            "mli_awareness_session": 336, "mli_peer_support_group": 201,
            "ipt_group_session": 238, "ipt_pre_group_session": 32,
            "individual_counselling": 2}),
        # the 32 clients once, however many sessions; and the 2 others
        ("people_reached", "activity", {}, {
            "total": 34, "ipt_group_session": 32, "ipt_pre_group_session": 32,
            "individual_counselling": 2}),
        # a part of people reached, not to be added to it
        ("practice_clients_reached", "activity", {}, {
            "total": 32, "ipt_group_session": 32}),
        # a pre-group and 8 group sessions in each of 4 groups; recordings
        # of the group sessions only; reviews 100 and 80 in each group
        ("supervised_practice_sessions", "", {}, {"total": 36}),
        ("recorded_practice_sessions", "", {}, {"total": 32}),
        ("mean_fidelity", "", {}, {"total": 90.0}),
        # the ToT's 8 are among the online course's 26: 26 + 31 people
        ("people_trained", "course", {}, {
            "total": 57, "foundational": 26, "tot": 8, "pfa": 31}),
        ("people_trained", "training_modality", {}, {
            "total": 57, "online": 26, "in_person": 39}),
        # 24 x 43 + 2 x 22 (sessions 1-6); 8 x 18; 6 x (10 + 9 + 11 + 11 +
        # 10 + 8)
        ("training_hours", "course", {}, {
            "total": 1574, "foundational": 1076, "tot": 144, "pfa": 354}),
        ("training_sessions_held", "course", {}, {
            "total": 21, "foundational": 12, "tot": 3, "pfa": 6}),
        # the part-timers left after the second role-transitions session
        ("people_trained", "topic", {"course": courses["foundational"]}, {
            "total": 26, "ipt_foundations": 26, "grief": 26,
            "role_transitions": 26, "role_disputes": 24,
            "interpersonal_deficits": 24, "group_phases": 24}),
        ("people_trained", "site", pfa, {
            "total": 31, DAHUK_CITY: 10, MOSUL: 11, KIRKUK: 10}),
        ("people_trained", "governorate", pfa, {
            "total": 31, "Duhok": 10, "Ninewa": 11, "Kirkuk": 10}),
        # trainee i works for B (i % 3 == 0), the partner (1) or none (2)
        ("people_trained", "participant_organisation", pfa, {
            "total": 31, "Org B": 11, "Partner": 10, "unknown": 10}),
        ("people_trained", "topic", pfa, {
            "total": 31, "pfa": 31, "suicide_prevention": 28}),
        ("organisations_trained", "", pfa, {"total": 2}),
        # 24 certified on the online course (not the part-timers), the 8 on
        # the ToT among them
        ("people_certified", "course_level", {}, {
            "total": 24, "foundational": 24, "tot": 8}),
        ("tot_trainers_certified", "", {}, {"total": 8}),
        # training: 24 x 12 + 2 x 6 online, 8 x 3 ToT, 19 + 22 + 18 PFA;
        # supervision 9 x 8; coaching 4
        ("capacity_building_services", "component", {}, {
            "total": 459, "training": 383, "supervision": 72, "coaching": 4}),
        # own staff 6 x 12 + 3 x 3 + 3 x 9; NGO 10 x 12 + 3 x 3 + 59 + 3 x 9;
        # CSO 4 x 12 + 3 + 9 + 4; government 4 x 12 + 2 x 6 + 3 + 9
        ("capacity_building_services", "audience", {}, {
            "total": 459, "own_staff": 108, "ngo": 215, "cso": 64,
            "government": 72}),
        ("capacity_building_participations", "", {}, {"total": 383}),
        # weekly supervision, the coaching session left out: 9 x 1 h; 9 x 8
        # supervisee-hours over 8 supervisees x 12 months
        ("supervision_sessions", "", {}, {"total": 9}),
        ("supervision_hours", "", {}, {"total": 9.0}),
        ("supervision_hours_per_provider_month", "", {}, {"total": 0.75}),
        # finished: 27 by attending all 9, 3 closed by hand
        ("structured_enrolments", "status", {}, {
            "total": 32, "finished": 30, "dropped_out": 2}),
        # client i of a group on AREAS[i % 4]: groups of 6, 8, 10, 8
        ("structured_enrolments", "problem_area", {}, {
            "total": 32, "grief": 9, "role_transitions": 9, "role_disputes": 7,
            "interpersonal_deficits": 7}),
        # 7 of 9 sessions (70 %) or more: all but the two drop-outs (role
        # transitions) and the client at 6 of 9 (interpersonal deficits)
        ("structured_completions", "problem_area", {"intervention": "ipt_group"}, {
            "total": 29, "grief": 9, "role_transitions": 7, "role_disputes": 7,
            "interpersonal_deficits": 6}),
        ("structured_dropouts", "problem_area", {}, {
            "total": 2, "role_transitions": 2}),
        # 238 group sessions and 32 pre-group sessions
        ("structured_sessions_attended", "", {}, {"total": 270}),
        # ages on the service date, in group 4: the two who turn 18 (05-04,
        # 05-20) are 17 at 3 and 5 sessions; 60 and over: two all 8
        # sessions, the one turning 60 on 05-15 at sessions 6-8
        ("services_delivered", "age_group", {**ipt_g, **adults}, {
            "total": 238, "0_17": 8, "18_plus": 230}),
        ("services_delivered", "age_group", {**ipt_g, **hpc}, {
            "total": 238, "0_17": 8, "18_59": 211, "60_plus": 19}),
        # and their pre-group sessions on 04-09 (17, 17, 59, 68, 64); the
        # anonymous lines are 18_plus: adults, or unknown among 18-59 / 60+
        ("services_delivered", "age_group", adults, {
            "total": 853, "0_17": 10, "18_plus": 843}),
        ("services_delivered", "age_group", hpc, {
            "total": 853, "0_17": 10, "18_59": 241, "60_plus": 21,
            "unknown": 581}),
        # people at their age on their first service in the period (04-09)
        ("people_reached", "age_group", hpc, {
            "total": 34, "0_17": 2, "18_59": 30, "60_plus": 2}),
    ]  # fmt: skip
    found = {
        (indicator, by, *filters.values()): await read(indicator, by, **filters)
        for indicator, by, filters, _ in expected
    }
    wrong = {
        key: {"expected": figures, "found": found[key]}
        for key, (*_, figures) in zip(found, expected, strict=True)
        if found[key] != figures
    }
    # from 05-21: group 4's teenagers are 18 by then (sessions 6-8); those
    # at a session: 5 in group 1, 8 in group 2, 9 in group 3, 8 in group 4
    late = await read("people_reached", "age_group", "2026-05-21", **ipt_g, **adults)
    if late != (figures := {"total": 30, "18_plus": 30}):
        key = ("people_reached", "age_group", "from 2026-05-21")
        wrong[key] = {"expected": figures, "found": late}
    assert not wrong, pformat(wrong, width=100)  # every wrong figure, at once
