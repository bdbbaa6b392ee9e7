"""One small MHPSS programme recorded through the producers' HTTP APIs, with
every input fixed so that each reported figure can be worked out by hand.

Org A (lead) and its implementing partner serve 12 registered people at three
sites in two governorates (Duhok: Qadia camp and Dahuk City; Ninewa: Mosul
City) from January to June 2026; org A also trains its staff.

People (sex, birth year, marital, disability, displacement, registered, by):

    p1  F 1990 married    no            idp       2026-01-05  A
    p2  M 1985 single     yes           idp       2026-01-05  A
    p3  F 1978 widowed    no            returnee  2026-01-12  A
    p4  M 1995 married    no            host      2026-01-12  A
    p5  F 1982 divorced   not_disclosed idp       2026-02-02  A
    p6  F 2012 single     no            idp       2026-02-02  A
    p7  M 2010 single     yes           refugee   2026-02-16  A
    p8  F 2009 single     no            returnee  2026-03-02  A
    p9  M 1960 widowed    yes           host      2026-03-02  A
    p10 F 2000 married    no            idp       2025-12-15  A
    p11 F 1993 separated  no            idp       2026-02-10  partner
    p12 M 2011 (none)     no            returnee  2026-02-10  partner

Services (activity, IASC layer, date, site, staff):

    s1  p1  psychiatric_consultation  L4  2026-01-20  Qadia   staff-n
    s2  p1  individual_counselling    L3  2026-02-20  Qadia   staff-q
    s3  p2  individual_counselling    L3  2026-01-25  Qadia   staff-q
    s4  p3  pm_plus_individual        L3  2026-02-25  Dahuk   staff-q
    s5  p4  pm_plus_individual        L3  2026-03-10  Dahuk   staff-q
    s6  p5  pm_plus_individual        L3  2026-03-12  Dahuk   staff-n
    s7  p9  psychiatric_consultation  L4  2026-04-14  Mosul   (no staff)
    s8  p10 referral_basic_services   L1  2026-01-08  Qadia   staff-n
    s9  p6  pfa                       L3  2026-02-05  Qadia   staff-q
    s10 p8  individual_counselling    L3  2026-03-05  Mosul   staff-q  VOIDED
    s11 p11 individual_counselling    L3  2026-02-15  Mosul   staff-p  partner
    s12 p12 pfa                       L3  2026-06-03  Mosul   staff-p  partner
    group: recreational_activity      L2  2026-04-20  Mosul   staff-q  p6 p7 p8
    anonymous: awareness_session      L1  2026-05-20  Dahuk   (no staff)
               female adult 12, male under 18 7, male adult 5

Referrals: p1 specialised_mental_health 01-22, p2 livelihoods 02-03,
p4 legal 03-15, p7 livelihoods 04-22.

Cases: p3 PHQ-9 18 (02-25) -> 10 (04-25); p4 PHQ-9 15 (03-10) -> 12 (05-10);
p5 SRQ-20 11 (03-12) -> 6 (05-12).

Training (org A): foundational course, sessions 02-09, 02-10, 02-11 (6 h):
t1 (own_staff, staff-q), t2 (ngo), t3 (cso), t5 (ngo) at all three, t4
(government) at the first only; certified 02-14: t1 t2 t3 t5. ToT course,
sessions 03-02 and 03-03: t1 t2, certified 03-05. t6 (cso, staff-p) assessed
at competency level 3 on 05-01. A practice group (facilitators t1 t2; clients
p1 p2 p3) holds sessions on 03-10, 04-07, 05-05, reviewed at 90, 80 and 70.
Supervision: 03-20 group 90 min (t1 t2), 04-17 individual 60 min (t1),
05-15 group 120 min (t1 t2 t3).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from shared.auth import Role
from shared.taxonomy.competency import competency_tools
from shared.taxonomy.fidelity import checklists
from tests.beneficiary.api import CONSENTS, beneficiary_body
from tests.callers import Caller, Org, ok
from tests.training.api import Held, hold_cohort, trainee

QADIA = "Qadia camp"
DAHUK_CITY = "Dahuk City"
MOSUL = "Mosul City"
CONSENTS_WITH_REFERRAL = [
    *CONSENTS,
    {"purpose": "referral", "granted": True, "form_version": "2024-1"},
]


class Person(NamedTuple):
    sex: str
    born: str
    marital: str | None
    disability: str
    displacement: str
    registered: str
    site: str
    partner: bool = False


PEOPLE: dict[str, Person] = {
    "p1": Person("female", "1990-04-01", "married", "no", "idp", "2026-01-05", QADIA),
    "p2": Person("male", "1985-07-10", "single", "yes", "idp", "2026-01-05", QADIA),
    "p3": Person("female", "1978-03-03", "widowed", "no", "returnee", "2026-01-12",
                 DAHUK_CITY),
    "p4": Person("male", "1995-11-20", "married", "no", "host_community",
                 "2026-01-12", DAHUK_CITY),
    "p5": Person("female", "1982-01-30", "divorced", "not_disclosed", "idp",
                 "2026-02-02", DAHUK_CITY),
    "p6": Person("female", "2012-05-01", "single", "no", "idp", "2026-02-02", QADIA),
    "p7": Person("male", "2010-08-15", "single", "yes", "refugee", "2026-02-16",
                 MOSUL),
    "p8": Person("female", "2009-09-01", "single", "no", "returnee", "2026-03-02",
                 MOSUL),
    "p9": Person("male", "1960-02-02", "widowed", "yes", "host_community",
                 "2026-03-02", MOSUL),
    "p10": Person("female", "2000-06-06", "married", "no", "idp", "2025-12-15",
                  QADIA),
    "p11": Person("female", "1993-03-14", "separated", "no", "idp", "2026-02-10",
                  MOSUL, partner=True),
    "p12": Person("male", "2011-10-10", None, "no", "returnee", "2026-02-10", MOSUL,
                  partner=True),
}  # fmt: skip

SERVICES: dict[str, tuple[str, str, str, str, str | None]] = {
    # name: (person, activity, date, site, staff)
    "s1": ("p1", "psychiatric_consultation", "2026-01-20", QADIA, "staff-n"),
    "s2": ("p1", "individual_counselling", "2026-02-20", QADIA, "staff-q"),
    "s3": ("p2", "individual_counselling", "2026-01-25", QADIA, "staff-q"),
    "s4": ("p3", "pm_plus_individual", "2026-02-25", DAHUK_CITY, "staff-q"),
    "s5": ("p4", "pm_plus_individual", "2026-03-10", DAHUK_CITY, "staff-q"),
    "s6": ("p5", "pm_plus_individual", "2026-03-12", DAHUK_CITY, "staff-n"),
    "s7": ("p9", "psychiatric_consultation", "2026-04-14", MOSUL, None),
    "s8": ("p10", "referral_basic_services", "2026-01-08", QADIA, "staff-n"),
    "s9": ("p6", "pfa", "2026-02-05", QADIA, "staff-q"),
    "s10": ("p8", "individual_counselling", "2026-03-05", MOSUL, "staff-q"),
    "s11": ("p11", "individual_counselling", "2026-02-15", MOSUL, "staff-p"),
    "s12": ("p12", "pfa", "2026-06-03", MOSUL, "staff-p"),
}

REFERRALS = [
    ("p1", "internal", "specialised_mental_health", "2026-01-22"),
    ("p2", "external", "livelihoods", "2026-02-03"),
    ("p4", "external", "legal", "2026-03-15"),
    ("p7", "external", "livelihoods", "2026-04-22"),
]

TRAINEES: dict[str, dict[str, Any]] = {
    "t1": {"audience": "own_staff", "sex": "female", "staff_id": "staff-q"},
    "t2": {"audience": "ngo", "sex": "male"},
    "t3": {"audience": "cso", "sex": "female"},
    "t4": {"audience": "government", "sex": "male"},
    "t5": {"audience": "ngo", "sex": "female"},
    "t6": {"audience": "cso", "sex": "male", "staff_id": "staff-p"},
}


def phq9(*answers: int) -> dict[str, int]:
    """Nine answers; item 9 (self-harm) stays 0 so no risk alert is raised."""
    return {str(i + 1): a for i, a in enumerate([*answers, 0])}


def srq20(yes: int) -> dict[str, int]:
    """The first ``yes`` items answered yes (item 17, suicidal thoughts, never)."""
    return {str(i): int(i <= yes) for i in range(1, 21)}


CASES = [
    # person, instrument, baseline on, answers, follow-up on, answers
    ("p3", "phq9", "2026-02-25", phq9(3, 3, 2, 2, 2, 2, 2, 2),
     "2026-04-25", phq9(2, 2, 1, 1, 1, 1, 1, 1)),  # 18 -> 10: improved by 8
    ("p4", "phq9", "2026-03-10", phq9(2, 2, 2, 2, 2, 2, 2, 1),
     "2026-05-10", phq9(2, 2, 2, 1, 1, 1, 2, 1)),  # 15 -> 12: by 3 only
    ("p5", "srq20", "2026-03-12", srq20(11),
     "2026-05-12", srq20(6)),  # 11 -> 6: improved by 5 (threshold 3)
]  # fmt: skip


@dataclass
class Programme:
    orgs: dict[str, Org]
    sites: dict[str, str] = field(default_factory=dict)
    """Site name -> location id."""
    governorates: dict[str, str] = field(default_factory=dict)
    """Governorate name -> location id."""
    pcodes: dict[str, str] = field(default_factory=dict)
    """Governorate name -> P-code."""
    people: dict[str, str] = field(default_factory=dict)
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    trainees: dict[str, str] = field(default_factory=dict)
    series: str = ""
    """The group series of the published lines."""

    def names(self) -> dict[str, str]:
        """Location and organisation id -> name, to read tables by name."""
        return {
            **{v: k for k, v in self.sites.items()},
            **{v: k for k, v in self.governorates.items()},
            self.orgs["a"].id: "Org A",
            self.orgs["partner"].id: "Partner",
        }


async def locate(programme: Programme, caller: Caller, *sites: str) -> None:
    """Note the ids of ``sites`` (reference data) and of their governorates,
    and the governorates' P-codes."""
    locations = (await ok(await caller.get("/v1/locations", params={"limit": 500})))[
        "items"
    ]
    by_id = {loc["id"]: loc for loc in locations}
    for loc in locations:
        if loc["level"] == "site" and loc["name"] in sites:
            programme.sites[loc["name"]] = loc["id"]
            governorate = by_id[loc["parent_id"]]
            assert governorate["level"] == "governorate"
            programme.governorates[governorate["name"]] = governorate["id"]
            programme.pcodes[governorate["name"]] = governorate["pcode"]
    assert set(programme.sites) >= set(sites)


async def record_programme(
    alice: Caller,
    issue: Any,
    orgs: dict[str, Org],
    trainer: Caller,
) -> Programme:
    """Record the module docstring's programme; only HTTP calls."""
    programme = Programme(orgs=orgs)
    partner = issue(orgs["partner"], Role.case_worker, subject="pat")
    await locate(programme, alice, QADIA, DAHUK_CITY, MOSUL)
    assert set(programme.governorates) == {"Duhok", "Ninewa"}

    for name, p in PEOPLE.items():
        body = beneficiary_body(
            full_name=f"Programme {name}",
            sex=p.sex,
            date_of_birth=p.born,
            marital_status=p.marital,
            disability=p.disability,
            displacement_status=p.displacement,
            registration_date=p.registered,
            site_id=programme.sites[p.site],
            consents=CONSENTS_WITH_REFERRAL,
        )
        registered = await (partner if p.partner else alice).post(
            "/v1/beneficiaries", body
        )
        programme.people[name] = (await ok(registered))["id"]

    for name, (person, activity, on, site, staff) in SERVICES.items():
        caller = partner if PEOPLE[person].partner else alice
        programme.services[name] = await ok(
            await caller.post(
                "/v1/service-records",
                {
                    "beneficiary_id": programme.people[person],
                    "activity_code": activity,
                    "service_date": on,
                    "site_id": programme.sites[site],
                    "staff_id": staff,
                    "duration_minutes": 45,
                },
            )
        )
    voided = await alice.post(
        f"/v1/service-records/{programme.services['s10']['id']}/void",
        {"reason": "recorded for the wrong person"},
    )
    assert (await ok(voided))["voided"] is True

    group = await ok(
        await alice.post(
            "/v1/group-activities",
            {
                "activity_code": "recreational_activity",
                "activity_date": "2026-04-20",
                "site_id": programme.sites[MOSUL],
                "facilitator_staff_ids": ["staff-q"],
                "duration_minutes": 90,
                "attendee_ids": [programme.people[p] for p in ("p6", "p7", "p8")],
            },
            headers={"Idempotency-Key": f"programme-{uuid.uuid4().hex}"},
        )
    )
    assert group["served_total"] == 3
    anonymous = await ok(
        await alice.post(
            "/v1/anonymous-services",
            {
                "activity_code": "awareness_session",
                "service_date": "2026-05-20",
                "site_id": programme.sites[DAHUK_CITY],
                "counts": [
                    {"sex": "female", "age_group": "adult", "count": 12},
                    {"sex": "male", "age_group": "under_18", "count": 7},
                    {"sex": "male", "age_group": "adult", "count": 5},
                ],
            },
        )
    )
    assert anonymous["total"] == 24

    for person, kind, area, on in REFERRALS:
        await ok(
            await alice.post(
                "/v1/referrals",
                {
                    "beneficiary_id": programme.people[person],
                    "kind": kind,
                    "area": area,
                    "receiving_party": "Receiving service",
                    "sent_on": on,
                },
            )
        )

    for person, instrument, opened, baseline, followed, follow_up in CASES:
        case = await ok(
            await alice.post(
                "/v1/cases",
                {
                    "beneficiary_id": programme.people[person],
                    "presenting_problems": ["low_mood"],
                    "risk_level": "medium",
                    "iasc_layer_needed": "focused_non_specialized",
                    "case_worker": "alice",
                    "supervisor": "sam",
                    "intake_notes": "Programme test case.",
                    "opened_on": opened,
                },
            )
        )
        for timepoint, on, responses in [
            ("baseline", opened, baseline),
            ("follow_up", followed, follow_up),
        ]:
            await ok(
                await alice.post(
                    f"/v1/cases/{case['id']}/assessments",
                    {
                        "instrument": instrument,
                        "timepoint": timepoint,
                        "administered_on": on,
                        "responses": responses,
                    },
                )
            )

    await record_training(programme, trainer)
    return programme


async def record_training(programme: Programme, trainer: Caller) -> None:
    async def call(path: str, body: Any) -> Any:
        return await ok(await trainer.post(path, body))

    for name, spec in TRAINEES.items():
        body = trainee(full_name=f"Trainee {name}", **spec)
        programme.trainees[name] = (await call("/v1/trainees", body))["id"]
    t = programme.trainees

    async def cohort(
        level: str, days: list[str], attendance: list[list[str]], certify_on: str
    ) -> str:
        course = await call(
            "/v1/courses",
            {
                "title": f"IPT-G {level}",
                "approach": "ipt_g",
                "level": level,
                "planned_hours": 6 * len(days),
                "criteria": {"min_attendance_share": 0.8},
            },
        )
        found = await hold_cohort(
            trainer,
            course["id"],
            f"IPT-G {level} 2026",
            [
                Held(day, 6, None, [t[m] for m in present])
                for day, present in zip(days, attendance, strict=True)
            ],
        )
        results = await call(f"/v1/cohorts/{found}/certify", {"on": certify_on})
        certified = {r["trainee_id"] for r in results if r["certified"]}
        members = {m for present in attendance for m in present}
        assert certified == {t[m] for m in members if m != "t4"}
        return found

    every = ["t1", "t2", "t3", "t4", "t5"]
    rest = ["t1", "t2", "t3", "t5"]
    await cohort(
        "foundational",
        ["2026-02-09", "2026-02-10", "2026-02-11"],
        [every, rest, rest],
        "2026-02-14",
    )
    tot = await cohort(
        "tot", ["2026-03-02", "2026-03-03"], [["t1", "t2"], ["t1", "t2"]], "2026-03-05"
    )

    tool = "helping_skills_core@1.0"
    assessed = await call(
        "/v1/competency-assessments",
        {
            "trainee_id": t["t6"],
            "tool": tool,
            "mode": "live",
            "context": "supervision",
            "assessed_on": "2026-05-01",
            "ratings": {i.id: 3 for i in competency_tools()[tool].items},
        },
    )
    assert assessed["overall_level"] == 3

    clients = [programme.people[p] for p in ("p1", "p2", "p3")]
    group = await call(
        "/v1/practice-groups",
        {
            "name": "Qadia women's group",
            "cohort_id": tot,
            "facilitator_trainee_ids": [t["t1"], t["t2"]],
            "client_ids": clients,
            "started_on": "2026-03-10",
        },
    )
    items = [i.id for i in checklists()["ipt_g_fidelity@1.0"].items]
    for number, (phase, on, not_done) in enumerate(
        [("pre_group", "2026-03-10", 1), ("initial", "2026-04-07", 2),
         ("middle", "2026-05-05", 3)]
    ):  # fmt: skip
        path = f"/v1/practice-groups/{group['id']}/sessions"
        await call(
            path,
            {
                "number": number,
                "phase": phase,
                "held_on": on,
                "attended_client_ids": clients,
                "recording_ref": f"recordings/{number}.mp3",
                "recording_sha256": "c" * 64,
            },
        )
        ratings = {item: 0 if i < not_done else 2 for i, item in enumerate(items)}
        review = await call(
            f"{path}/{number}/fidelity-reviews",
            {"reviewed_on": on, "ratings": ratings},
        )
        assert review["adherence_score"] == 100 - 10 * not_done  # 10 items x 2

    for kind, on, minutes, supervisees in [
        ("group", "2026-03-20", 90, ["t1", "t2"]),
        ("individual", "2026-04-17", 60, ["t1"]),
        ("group", "2026-05-15", 120, ["t1", "t2", "t3"]),
    ]:
        await call(
            "/v1/supervision-sessions",
            {
                "kind": kind,
                "mode": "virtual",
                "held_on": on,
                "duration_minutes": minutes,
                "supervisee_trainee_ids": [t[s] for s in supervisees],
            },
        )


PUBLISHED_LINES = """
The published lines added on top (``record_published_lines``):

    meetings: coordination_meeting 06-02 Mosul, A, counts F 6 M 8;
              06-09 Mosul, A, counts F 4 M 5;
              06-16 Mosul, partner, group activity: p11 p12 and M 5,
              participants from the partner 3, A 2, B 1 (1 not placed)
    a group series: peer_support_group, A, Mosul, 4 sessions planned from
              06-04; sessions 06-04 p6 p7, 06-11 p6 p7 p8
    Group IPT (A): p1 grief, p2 role_transitions, p5 role_disputes enrolled
              06-01, pre-group session 06-01; group sessions 06-02, 06-05,
              06-09, 06-12, 06-16, 06-19 (p5 at the first only); p1 p2
              finished 06-26 (7 of 9), p5 dropped out 06-20
    livelihood integration (A, Dahuk City, counts):
              mli_awareness_session 06-03 F 20 M 15, 06-10 F 10 M 12;
              mli_peer_support_group 06-05 F 8 M 6, 06-12 F 8 M 6
    PFA and suicide prevention (foundational, pfa), one course, three sites:
              Dahuk City 06-01 topic pfa t7 t8, 06-02 suicide_prevention t7;
              Mosul 06-08 pfa t9 t10; Qadia 06-15 suicide_prevention t11
              t7 t8 t10 ngo at the partner, t9 government at org B,
              t11 cso at no listed organisation
    coaching: 06-20 individual, t9
    PM+ enrolments: p3 sessions 1-4 (06-01, 06-08, 06-15, 06-22), finished
              06-26; p4 session 1 (06-02), dropped out 06-20
"""

PFA_TRAINEES: dict[str, tuple[str, str, str | None]] = {
    # name: (audience, sex, employer: an org key or None)
    "t7": ("ngo", "female", "partner"),
    "t8": ("ngo", "male", "partner"),
    "t9": ("government", "female", "b"),
    "t10": ("ngo", "female", "partner"),
    "t11": ("cso", "male", None),
}


def adult_counts(female: int, male: int) -> list[dict[str, Any]]:
    """Anonymous attendees: ``female`` women and ``male`` men, 18 and over."""
    return [
        {"sex": "female", "age_group": "18_plus", "count": female},
        {"sex": "male", "age_group": "18_plus", "count": male},
    ]


async def record_published_lines(
    programme: Programme,
    alice: Caller,
    partner: Caller,
    trainer: Caller,
) -> str:
    """Record ``PUBLISHED_LINES``; returns the PFA course's id."""
    sites, people = programme.sites, programme.people

    for activity, on, site, female, male in [
        ("coordination_meeting", "2026-06-02", MOSUL, 6, 8),
        ("coordination_meeting", "2026-06-09", MOSUL, 4, 5),
        ("mli_awareness_session", "2026-06-03", DAHUK_CITY, 20, 15),
        ("mli_awareness_session", "2026-06-10", DAHUK_CITY, 10, 12),
        ("mli_peer_support_group", "2026-06-05", DAHUK_CITY, 8, 6),
        ("mli_peer_support_group", "2026-06-12", DAHUK_CITY, 8, 6),
    ]:
        await ok(
            await alice.post(
                "/v1/anonymous-services",
                {
                    "activity_code": activity,
                    "service_date": on,
                    "site_id": sites[site],
                    "counts": adult_counts(female, male),
                },
            )
        )
    await ok(
        await partner.post(
            "/v1/group-activities",
            {
                "activity_code": "coordination_meeting",
                "activity_date": "2026-06-16",
                "site_id": sites[MOSUL],
                "attendee_ids": [people["p11"], people["p12"]],
                "anonymous_attendees": [
                    {"sex": "male", "age_group": "18_plus", "count": 5}
                ],
                "participants_by_organisation": [
                    {"organisation_id": programme.orgs[key].id, "participants": n}
                    for key, n in (("partner", 3), ("a", 2), ("b", 1))
                ],
            },
        )
    )

    series = await ok(
        await alice.post(
            "/v1/group-series",
            {
                "name": "Adolescents' peer-support group",
                "activity_code": "peer_support_group",
                "topic_code": "anger_management",
                "facilitator_staff_ids": ["staff-q"],
                "site_id": sites[MOSUL],
                "planned_sessions": 4,
                "starts_on": "2026-06-04",
            },
        )
    )
    programme.series = series["id"]
    for on, present in [("2026-06-04", ["p6", "p7"]),
                        ("2026-06-11", ["p6", "p7", "p8"])]:  # fmt: skip
        await ok(
            await alice.post(
                "/v1/group-activities",
                {
                    "activity_code": "peer_support_group",
                    "activity_date": on,
                    "site_id": sites[MOSUL],
                    "attendee_ids": [people[p] for p in present],
                    "group_series_id": series["id"],
                },
            )
        )

    async def call(path: str, body: Any) -> Any:
        return await ok(await trainer.post(path, body))

    t = programme.trainees
    for name, (audience, sex, employer) in PFA_TRAINEES.items():
        body = trainee(
            full_name=f"Trainee {name}",
            audience=audience,
            sex=sex,
            affiliation_organisation_id=programme.orgs[employer].id
            if employer
            else None,
        )
        t[name] = (await call("/v1/trainees", body))["id"]
    course = await call(
        "/v1/courses",
        {
            "title": "PFA and suicide prevention",
            "approach": "pfa",
            "level": "foundational",
            "planned_hours": 6,
        },
    )
    for site, sessions in [
        (DAHUK_CITY, [("2026-06-01", "pfa", ["t7", "t8"]),
                      ("2026-06-02", "suicide_prevention", ["t7"])]),
        (MOSUL, [("2026-06-08", "pfa", ["t9", "t10"])]),
        (QADIA, [("2026-06-15", "suicide_prevention", ["t11"])]),
    ]:  # fmt: skip
        await hold_cohort(
            trainer,
            course["id"],
            f"PFA {site}",
            [Held(day, 3, topic, [t[m] for m in present])
             for day, topic, present in sessions],
            site_id=sites[site],
            starts_on="2026-06-01",
            ends_on="2026-06-30",
        )  # fmt: skip
    await call(
        "/v1/supervision-sessions",
        {
            "kind": "individual",
            "purpose": "coaching",
            "mode": "in_person",
            "held_on": "2026-06-20",
            "duration_minutes": 60,
            "supervisee_trainee_ids": [t["t9"]],
        },
    )

    for person, attended, end, on in [
        ("p3", ["2026-06-01", "2026-06-08", "2026-06-15", "2026-06-22"], "finish",
         "2026-06-26"),
        ("p4", ["2026-06-02"], "drop-out", "2026-06-20"),
    ]:  # fmt: skip
        enrolment = await ok(
            await alice.post(
                "/v1/enrolments",
                {
                    "beneficiary_id": people[person],
                    "intervention": "pm_plus",
                    "enrolled_on": attended[0],
                },
            )
        )
        for number, held_on in enumerate(attended, start=1):
            await ok(
                await alice.post(
                    f"/v1/enrolments/{enrolment['id']}/sessions",
                    {"session_number": number, "attended_on": held_on},
                )
            )
        await ok(
            await alice.post(f"/v1/enrolments/{enrolment['id']}/{end}", {"on": on})
        )
    ipt: dict[str, str] = {}
    for person, area in IPT_G_CLIENTS.items():
        enrolment = await ok(
            await alice.post(
                "/v1/enrolments",
                {
                    "beneficiary_id": people[person],
                    "intervention": "ipt_group",
                    "enrolled_on": "2026-06-01",
                    "problem_area": area,
                },
            )
        )
        ipt[person] = enrolment["id"]
        await ok(
            await alice.post(
                f"/v1/enrolments/{enrolment['id']}/sessions",
                {"session_number": 0, "attended_on": "2026-06-01"},
            )
        )
    days = ["2026-06-02", "2026-06-05", "2026-06-09", "2026-06-12", "2026-06-16",
            "2026-06-19"]  # fmt: skip
    for number, day in enumerate(days, start=1):
        present = [p for p in IPT_G_CLIENTS if number == 1 or p != "p5"]
        group = await ok(
            await alice.post(
                "/v1/group-activities",
                {
                    "activity_code": "ipt_group_session",
                    "activity_date": day,
                    "attendee_ids": [people[p] for p in present],
                },
            )
        )
        for person in present:
            await ok(
                await alice.post(
                    f"/v1/enrolments/{ipt[person]}/sessions",
                    {"session_number": number, "group_activity_id": group["id"]},
                )
            )
    for person, end, on in [("p1", "finish", "2026-06-26"),
                            ("p2", "finish", "2026-06-26"),
                            ("p5", "drop-out", "2026-06-20")]:  # fmt: skip
        await ok(await alice.post(f"/v1/enrolments/{ipt[person]}/{end}", {"on": on}))
    return str(course["id"])


IPT_G_CLIENTS = {"p1": "grief", "p2": "role_transitions", "p5": "role_disputes"}
