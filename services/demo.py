"""The demo programme of the embedded default: a small but realistic MHPSS
programme, recorded through the services' public HTTP API so it follows every
rule real data follows and exercises the paths a field app or an importer
uses. Names are invented; the data is drawn from a seeded random generator,
so every install gets the same programme, dated back from the day it was
first loaded.

The programme: a lead organisation and its implementing partner (with a
partnership covering Ninewa), about 360 people registered over 15 months at
five sites in Dahuk and Ninewa, their individual services (PFA,
counselling, PM+, psychiatric consultations, referrals to basic services),
monthly group activities with attendance (leaflets in Arabic and Kurdish,
school bags and recreational kits handed out at some, participants'
satisfaction slips after each), awareness sessions counted anonymously,
coordination meetings, referrals, one followed case (PHQ-9 and
GAD-7 at baseline, follow-up and closure, with PM+ sessions) and a few
shorter ones, and a training programme: a Group IPT facilitators' cohort
with attendance, knowledge tests, competency assessments and certification,
trainees' feedback, a training-of-trainers cohort, a supervised practice
group with fidelity reviews whose sessions are recorded as the group
activities they were, and monthly supervision.

Every write carries a client id derived from its name (or a natural key such
as a session number), so loading again, after an interruption or not,
creates nothing twice. A complete load is recognised by its last write."""

from __future__ import annotations

import asyncio
import random
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx

from shared.auth import LocalSigningKey, Role
from shared.pagination import MAX_LIMIT
from shared.settings import ServiceSettings
from shared.taxonomy.competency import competency_tools
from shared.taxonomy.fidelity import checklists

TOKEN_HOURS = 12
"""Lifetime of the demo tokens, written anew at each start of the stack."""
SEED = 16
"""The random generator's seed: the same programme on every install."""
MONTHS = 15
DAYS = 456
"""The programme's length: 15 months back from the day of the first load."""
NAMESPACE = uuid.UUID("6f1c2a53-3f0e-4c55-9a51-0d6f4f0b7e16")
CONCURRENCY = 4
"""Writes in flight at once while loading."""
LEAD = "IOM Iraq MHPSS (demo)"
PARTNER = "Sunrise Community Organisation (demo)"
FORM = "2024-1"

FEMALE = [
    "Layla", "Noor", "Shirin", "Zainab", "Hana", "Rawan", "Dilan", "Sara",
    "Maryam", "Aveen", "Jiyan", "Fatima", "Rozhin", "Huda", "Ban", "Nasreen",
    "Lana", "Sidra", "Amira", "Gulistan", "Shaima", "Evin", "Rana", "Suaad",
]  # fmt: skip
MALE = [
    "Omar", "Yousif", "Ali", "Karwan", "Ahmed", "Hussein", "Rebwar", "Mustafa",
    "Saman", "Khalid", "Hassan", "Dilshad", "Bilal", "Azad", "Mohammed",
    "Sherzad", "Zaid", "Hogr", "Ibrahim", "Ammar", "Salim", "Jasim", "Adel",
]  # fmt: skip


@dataclass(frozen=True)
class Site:
    name: str
    partner: bool
    people: int
    displacement: tuple[tuple[str, int], ...]
    """Displacement statuses with their weights."""
    staff: tuple[str, ...]


CAMP = (("idp", 85), ("refugee", 6), ("returnee", 4), ("host_community", 5))
TOWN = (("host_community", 45), ("idp", 25), ("returnee", 22), ("refugee", 8))
RETURN_AREA = (("returnee", 50), ("idp", 22), ("host_community", 28))
SITES = [
    Site("Qadia camp", False, 95, CAMP, ("staff-01", "staff-02", "staff-03")),
    Site("Khanke Town", False, 65, TOWN, ("staff-04", "staff-05")),
    Site("Dahuk City", False, 50, TOWN, ("staff-06", "staff-07")),
    Site("Mosul City", False, 45, RETURN_AREA, ("staff-08",)),
    Site("Hamdaniyah", True, 60, RETURN_AREA, ("sunrise-01", "sunrise-02")),
    Site("Mosul City", True, 45, RETURN_AREA, ("sunrise-03",)),
]
PATHWAYS = [  # (activities in order, weight): what a person is given
    (["pfa"], 22),
    (["pfa", "individual_counselling", "individual_counselling"], 18),
    (["individual_counselling"] * 4, 16),
    (["pm_plus_individual"] * 5, 12),
    (["emotional_support_session", "case_management_follow_up"], 8),
    (["pfa", "referral_basic_services"], 10),
    (["individual_counselling", "psychiatric_consultation"], 5),
    (["family_psychoeducation", "individual_counselling"], 9),
]
GROUPS = ["recreational_activity", "guided_group_discussion", "womens_sports_mhpss",
          "peer_support_group", "life_skills"]  # fmt: skip
REFERRAL_AREAS = ["livelihoods", "health", "protection", "legal", "education",
                  "specialised_mental_health", "shelter"]  # fmt: skip


def client_id(*parts: object) -> str:
    """The client id of one demo record, the same on every load."""
    return str(uuid.uuid5(NAMESPACE, "/".join(str(p) for p in parts)))


LEAD_ID = client_id("organisation", "lead")
PARTNER_ID = client_id("organisation", "partner")
LAST_SUPERVISION = client_id("supervision", "last")
"""The load's last write: when it exists, the demo is complete."""


def demo_tokens(settings: ServiceSettings, orgs: dict[str, str]) -> dict[str, str]:
    """One token per demo user, each of one organisation; no machine account:
    the service role reads every organisation's change feed."""
    key = LocalSigningKey.load_or_create(settings.data_dir)

    def token(sub: str, org: str, *roles: Role) -> str:
        return key.issue(
            subject=sub,
            organisation_id=uuid.UUID(org),
            roles=roles,
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
            ttl=timedelta(hours=TOKEN_HOURS),
        )

    return {
        "admin": token("demo-admin", orgs["lead"], Role.admin),
        "case_worker": token("demo-case-worker", orgs["lead"], Role.case_worker),
        "supervisor": token("demo-supervisor", orgs["lead"], Role.supervisor),
        "partner_case_worker": token(
            "demo-partner-worker", orgs["partner"], Role.case_worker
        ),
        "auditor": token("demo-auditor", orgs["lead"], Role.auditor),
        "me_officer": token("demo-me-officer", orgs["lead"], Role.me_officer),
        "programme_manager": token(
            "demo-programme-manager", orgs["lead"], Role.programme_manager
        ),
        "trainer": token("demo-trainer", orgs["lead"], Role.trainer),
    }


class DemoError(RuntimeError):
    """A demo write the API refused: the demo no longer follows its rules."""


@dataclass
class Person:
    id: str
    partner: bool
    site: str
    """Location id."""
    sex: str
    born: date
    registered: date
    staff: tuple[str, ...]
    services: list[tuple[str, date]] = field(default_factory=list)


@dataclass
class Loader:
    """One load of the demo through the HTTP API of a running stack."""

    client: httpx.AsyncClient
    tokens: dict[str, str]
    today: date
    """The day of the first load: every date counts back from it."""
    rng: random.Random = field(default_factory=lambda: random.Random(SEED))
    sites: dict[str, str] = field(default_factory=dict)
    governorates: dict[str, str] = field(default_factory=dict)
    people: list[Person] = field(default_factory=list)

    def day(self, days_ago: int) -> date:
        return self.today - timedelta(days=days_ago)

    async def write(
        self, method: str, path: str, token: str, body: Any, key: str | None = None
    ) -> Any:
        """A write; a record this load made before (409, or 428 for a list
        such as attendance that is set already) is taken as done, so loading
        again completes an interrupted load without doubles."""
        headers = {"Authorization": f"Bearer {self.tokens[token]}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        response = await self.client.request(method, path, json=body, headers=headers)
        if response.status_code == 409 or (
            method == "PUT" and response.status_code == 428
        ):
            return None
        if response.status_code >= 300:
            raise DemoError(
                f"demo: {method} {path} -> {response.status_code} {response.text}"
            )
        return response.json() if response.content else None

    async def read(self, path: str, token: str, **params: Any) -> Any:
        response = await self.client.get(
            path,
            params=params,
            headers={"Authorization": f"Bearer {self.tokens[token]}"},
        )
        if response.status_code >= 300:
            raise DemoError(f"demo: GET {path} -> {response.status_code}")
        return response.json()

    async def post_all(self, writes: list[tuple[str, str, dict[str, Any]]]) -> None:
        """Independent writes a few at a time, as several devices send them;
        their bodies are drawn before, so the programme stays the same."""
        limit = asyncio.Semaphore(CONCURRENCY)

        async def post(path: str, token: str, body: dict[str, Any]) -> None:
            async with limit:
                await self.write("POST", path, token, body)

        await asyncio.gather(*(post(*w) for w in writes))

    async def load(self) -> None:
        await self.partnership()
        await self.places()
        await self.register()
        await self.groups()
        await self.handouts_and_feedback()
        await self.anonymous()
        await self.referrals()
        await self.cases()
        await self.training()

    async def partnership(self) -> None:
        """The lead's programme manager agrees the partner's work in Ninewa
        for the whole programme, which approves the partner."""
        existing = await self.read(
            "/beneficiary/v1/partnerships",
            "programme_manager",
            partner_organisation_id=PARTNER_ID,
        )
        if existing["items"]:
            return
        ninewa = await self.read(
            "/beneficiary/v1/locations", "admin", level="governorate", limit=MAX_LIMIT
        )
        location = next(g["id"] for g in ninewa["items"] if g["pcode"] == "IQG15")
        await self.write(
            "POST",
            "/beneficiary/v1/partnerships",
            "programme_manager",
            {
                "partner_organisation_id": PARTNER_ID,
                "start": str(self.day(DAYS + 30)),
                "end": str(self.day(-365)),
                "location_ids": [location],
            },
            key=client_id("partnership"),
        )

    async def places(self) -> None:
        found = await self.read(
            "/beneficiary/v1/locations", "admin", level="site", limit=MAX_LIMIT
        )
        wanted = {s.name for s in SITES}
        self.sites = {s["name"]: s["id"] for s in found["items"] if s["name"] in wanted}
        missing = wanted - set(self.sites)
        if missing:
            raise DemoError(f"demo: sites missing from the gazetteer: {missing}")

    def person_body(self, site: Site, number: int) -> tuple[dict[str, Any], Person]:
        rng = self.rng
        sex = "female" if rng.random() < 0.56 else "male"
        band = rng.choices(["child", "adult", "older"], [28, 64, 8])[0]
        age = {
            "child": rng.randint(10, 17),
            "adult": rng.randint(18, 59),
            "older": rng.randint(60, 78),
        }[band]
        registered = self.day(rng.randint(14, DAYS - 5))
        born = registered - timedelta(days=age * 365 + rng.randint(0, 364))
        marital: str | None
        if band == "child":
            marital = "single" if age >= 15 else None
        else:
            statuses = ["married", "single", "widowed", "divorced", "separated"]
            weights = [60, 24, 8, 5, 3] if band == "adult" else [55, 2, 40, 2, 1]
            marital = rng.choices(statuses, weights)[0]
        displacement = rng.choices(
            [d for d, _ in site.displacement], [w for _, w in site.displacement]
        )[0]
        first = rng.choice(FEMALE if sex == "female" else MALE)
        name = f"{first} {rng.choice(MALE)} {rng.choice(MALE)}"
        phone = (
            f"+964 75{rng.randint(0, 9)} {rng.randint(100, 999)} "
            f"{rng.randint(1000, 9999)}"
            if band != "child" and rng.random() < 0.7
            else None
        )
        consents = [
            {"purpose": "registration", "granted": True, "form_version": FORM},
            {"purpose": "services", "granted": True, "form_version": FORM},
        ]
        if rng.random() < 0.9:
            consents.append(
                {"purpose": "referral", "granted": True, "form_version": FORM}
            )
        org = "partner" if site.partner else "lead"
        person = Person(
            id=client_id("person", org, site.name, number),
            partner=site.partner,
            site=self.sites[site.name],
            sex=sex,
            born=born,
            registered=registered,
            staff=site.staff,
        )
        data = {
            "full_name": name,
            "phone": phone,
            "sex": sex,
            "date_of_birth": str(born),
            "marital_status": marital,
            "disability": rng.choices(["no", "yes", "not_disclosed"], [80, 12, 8])[0],
            "displacement_status": displacement,
            "nationality": "SYR" if displacement == "refugee" else "IRQ",
            "site_id": person.site,
            "registration_date": str(registered),
            "registration_channel": rng.choices(
                ["outreach", "walk_in", "referral", "hotline"], [50, 25, 20, 5]
            )[0],
        }
        return {"id": person.id, "data": data, "consents": consents}, person

    def services_of(self, person: Person) -> list[dict[str, Any]]:
        rng = self.rng
        activities = rng.choices([p for p, _ in PATHWAYS], [w for _, w in PATHWAYS])[0]
        staff = rng.choice(person.staff)
        on = person.registered
        changes = []
        for number, activity in enumerate(activities):
            if on >= self.today:
                break
            person.services.append((activity, on))
            changes.append(
                {
                    "id": client_id("service", person.id, number),
                    "data": {
                        "beneficiary_id": person.id,
                        "activity_code": activity,
                        "service_date": str(on),
                        "site_id": person.site,
                        "modality": "in_person"
                        if rng.random() < 0.85
                        else "remote_phone",
                        "staff_id": staff,
                        "duration_minutes": rng.choice([30, 45, 45, 60, 60, 90]),
                    },
                }
            )
            on += timedelta(days=rng.randint(7, 21))
        return changes

    async def register(self) -> None:
        """People and their individual services, sent as a field app sends
        them: in offline-sync batches (replaying one changes nothing)."""
        for site in SITES:
            batch: dict[str, list[dict[str, Any]]] = {
                "beneficiaries": [],
                "service_records": [],
            }
            for number in range(site.people):
                change, person = self.person_body(site, number)
                self.people.append(person)
                batch["beneficiaries"].append(change)
                batch["service_records"] += self.services_of(person)
            worker = "partner_case_worker" if site.partner else "case_worker"
            answer = await self.write(
                "POST",
                "/beneficiary/v1/sync",
                worker,
                {"device_id": f"demo-{site.name}", **batch},
            )
            refused = [
                r
                for r in answer["results"]
                if r["status"] not in ("created", "unchanged", "updated")
            ]
            if refused:
                raise DemoError(f"demo: sync refused {refused[:3]}")

    async def groups(self) -> None:
        """Each site's group activity every month, with the registered people
        who came and others counted, and a coordination meeting every other
        month."""
        rng = self.rng
        writes: list[tuple[str, str, dict[str, Any]]] = []
        for index, site in enumerate(SITES):
            here = [p for p in self.people if p.site == self.sites[site.name]]
            here = [p for p in here if p.partner == site.partner]
            worker = "partner_case_worker" if site.partner else "case_worker"
            for month in range(MONTHS):
                on = self.day(DAYS - 10 - 30 * month - rng.randint(0, 12))
                known = [p for p in here if p.registered <= on]
                attendees = rng.sample(known, min(len(known), rng.randint(4, 12)))
                activity = GROUPS[(month + index) % len(GROUPS)]
                writes.append(
                    (
                        "/beneficiary/v1/group-activities",
                        worker,
                        {
                            "id": client_id("group", index, month),
                            "activity_code": activity,
                            "activity_date": str(on),
                            "site_id": self.sites[site.name],
                            "facilitator_staff_ids": list(site.staff[:2]),
                            "duration_minutes": rng.choice([60, 90, 120]),
                            "attendee_ids": [p.id for p in attendees],
                            "anonymous_attendees": [
                                {
                                    "sex": "female",
                                    "age_group": "18_plus",
                                    "count": rng.randint(2, 9),
                                },
                                {
                                    "sex": "male",
                                    "age_group": "0_17",
                                    "count": rng.randint(1, 6),
                                },
                            ],
                        },
                    )
                )
                if month % 2 == 0 and not site.partner:
                    writes.append(
                        (
                            "/beneficiary/v1/group-activities",
                            worker,
                            {
                                "id": client_id("meeting", index, month),
                                "activity_code": "coordination_meeting",
                                "activity_date": str(on + timedelta(days=2)),
                                "site_id": self.sites[site.name],
                                "facilitator_staff_ids": [site.staff[0]],
                                "duration_minutes": 90,
                                "anonymous_attendees": [
                                    {
                                        "sex": "female",
                                        "age_group": "18_plus",
                                        "count": rng.randint(3, 8),
                                    },
                                    {
                                        "sex": "male",
                                        "age_group": "18_plus",
                                        "count": rng.randint(3, 8),
                                    },
                                ],
                            },
                        )
                    )
        await self.post_all(writes)

    async def handouts_and_feedback(self) -> None:
        """Leaflets in Arabic and Kurdish every third month (the latest
        included), school bags and
        recreational kits now and then at the monthly group activities, and
        a few participants' satisfaction slips after each. A generator of
        its own, so the rest of the programme is drawn as before."""
        rng = random.Random(SEED + 1)
        writes: list[tuple[str, str, dict[str, Any]]] = []
        for index, site in enumerate(SITES):
            worker = "partner_case_worker" if site.partner else "case_worker"
            kurdish = "kmr" if self.governorate_of(site) == "Duhok" else "ckb"
            for month in range(MONTHS):
                group = client_id("group", index, month)
                lines: list[tuple[str, int, str | None]] = []
                if month % 3 == 2:  # the last month too
                    lines += [
                        ("leaflet", rng.randint(15, 40), "ar"),
                        ("leaflet", rng.randint(10, 30), kurdish),
                    ]
                if month % 4 == 1:
                    lines.append(("school_bag", rng.randint(20, 60), None))
                if month % 5 == 2:
                    lines.append(("recreational_kit", rng.randint(2, 6), None))
                for number, (item, quantity, language) in enumerate(lines):
                    body: dict[str, Any] = {
                        "id": client_id("material", index, month, number),
                        "group_activity_id": group,
                        "item_code": item,
                        "quantity": quantity,
                    }
                    if language:
                        body["language"] = language
                    writes.append(
                        ("/beneficiary/v1/material-distributions", worker, body)
                    )
                for number in range(rng.randint(3, 6)):
                    writes.append(
                        (
                            "/beneficiary/v1/feedback-responses",
                            worker,
                            {
                                "id": client_id("feedback", index, month, number),
                                "form": "participant_satisfaction@1.0",
                                "group_activity_id": group,
                                "answers": {
                                    "overall_satisfied": rng.choice([3, 4, 4, 5, 5]),
                                    "felt_respected": rng.choice([3, 4, 5, 5]),
                                    "found_useful": rng.choice([2, 3, 4, 5, 5]),
                                    "felt_safe": rng.random() < 0.9,
                                    "would_recommend": rng.random() < 0.85,
                                },
                            },
                        )
                    )
        await self.post_all(writes)

    def governorate_of(self, site: Site) -> str:
        """Dahuk's sites are in Duhok (Badini leaflets), the rest in Ninewa."""
        return (
            "Duhok"
            if site.name in ("Qadia camp", "Khanke Town", "Dahuk City")
            else "Ninewa"
        )

    async def anonymous(self) -> None:
        """Awareness sessions every other month at each site, counted by sex
        and age group only."""
        rng = self.rng
        writes: list[tuple[str, str, dict[str, Any]]] = []
        for index, site in enumerate(SITES):
            worker = "partner_case_worker" if site.partner else "case_worker"
            for month in range(0, MONTHS, 2):
                activity = "mli_awareness_session" if month % 4 else "awareness_session"
                counts = [
                    (sex, age, rng.randint(low, high))
                    for sex, age, low, high in [
                        ("female", "18_plus", 12, 35),
                        ("male", "18_plus", 8, 30),
                        ("female", "0_17", 3, 15),
                        ("male", "0_17", 3, 15),
                    ]
                ]
                writes.append(
                    (
                        "/beneficiary/v1/anonymous-services",
                        worker,
                        {
                            "id": client_id("anonymous", index, month),
                            "activity_code": activity,
                            "service_date": str(
                                self.day(DAYS - 20 - 30 * month - rng.randint(0, 8))
                            ),
                            "site_id": self.sites[site.name],
                            "counts": [
                                {"sex": sex, "age_group": age, "count": count}
                                for sex, age, count in counts
                            ],
                        },
                    )
                )
        await self.post_all(writes)

    async def referrals(self) -> None:
        """Those whose pathway included a referral, and a few others, referred
        on the day of a service (people who consented to referral only)."""
        rng = self.rng
        lead = [p for p in self.people if not p.partner and p.services]
        chosen = [
            p for p in lead if any(a.startswith("referral") for a, _ in p.services)
        ]
        chosen += rng.sample([p for p in lead if p not in chosen], 12)
        for number, person in enumerate(chosen):
            area = rng.choice(REFERRAL_AREAS)
            if any(a == "psychiatric_consultation" for a, _ in person.services):
                area = "specialised_mental_health"
            await self.write(
                "POST",
                "/beneficiary/v1/referrals",
                "case_worker",
                {
                    "beneficiary_id": person.id,
                    "kind": "internal"
                    if area == "specialised_mental_health"
                    else "external",
                    "area": area,
                    "receiving_party": "Partner service in the area",
                    "sent_on": str(person.services[-1][1]),
                },
                key=client_id("referral", number),
            )

    async def cases(self) -> None:
        """One case followed from intake to closure (PHQ-9 and GAD-7 three
        times, PM+ sessions), and shorter cases with a PHQ-9 follow-up."""
        featured = next(
            p
            for p in self.people
            if not p.partner
            and p.sex == "female"
            and p.registered <= self.day(200)
            and self.adult(p)
        )
        opened = self.day(140)
        case = client_id("case", "featured")
        await self.open_case(featured, case, opened, ["low_mood", "anxiety", "grief"])
        for timepoint, days, phq, gad in [
            ("baseline", 140, [3, 2, 2, 3, 2, 2, 2, 2], [3, 2, 2, 2, 2, 2, 2]),
            ("follow_up", 98, [2, 2, 1, 2, 1, 1, 1, 1], [2, 1, 1, 2, 1, 1, 1]),
            ("closure", 56, [1, 1, 1, 1, 0, 0, 1, 0], [1, 1, 0, 1, 0, 0, 1]),
        ]:
            await self.assess(case, timepoint, self.day(days), "phq9", [*phq, 0])
            await self.assess(case, timepoint, self.day(days), "gad7", gad)
        enrolment = client_id("enrolment", "featured")
        await self.write(
            "POST",
            "/beneficiary/v1/enrolments",
            "case_worker",
            {
                "id": enrolment,
                "beneficiary_id": featured.id,
                "intervention": "pm_plus",
                "case_id": case,
                "enrolled_on": str(self.day(133)),
            },
        )
        for number in range(1, 6):
            await self.write(
                "POST",
                f"/beneficiary/v1/enrolments/{enrolment}/sessions",
                "case_worker",
                {
                    "session_number": number,
                    "attended_on": str(self.day(133 - 7 * (number - 1))),
                    "duration_minutes": 90,
                },
            )
        await self.write(
            "POST",
            f"/beneficiary/v1/enrolments/{enrolment}/finish",
            "case_worker",
            {"on": str(self.day(98))},
        )
        others = [
            p
            for p in self.people
            if not p.partner
            and p is not featured
            and p.registered <= self.day(150)
            and self.adult(p)
        ][:6]
        for number, person in enumerate(others):
            case = client_id("case", number)
            opened = self.day(150 - 10 * number)
            await self.open_case(person, case, opened, ["low_mood"])
            baseline = [2, 2, 2, 2, 2, 2, 2, 1, 0]  # 15
            follow_up = [1, 1, 1, 1, 1, 1, 1, 0, 0] if number % 3 else baseline
            await self.assess(case, "baseline", opened, "phq9", baseline)
            await self.assess(
                case, "follow_up", opened + timedelta(days=60), "phq9", follow_up
            )

    def adult(self, person: Person) -> bool:
        """Old enough for the adult instruments throughout the demo."""
        return person.born <= self.day(DAYS + 19 * 365)

    async def open_case(
        self, person: Person, case: str, opened: date, problems: list[str]
    ) -> None:
        await self.write(
            "POST",
            "/beneficiary/v1/cases",
            "case_worker",
            {
                "id": case,
                "beneficiary_id": person.id,
                "presenting_problems": problems,
                "risk_level": "medium",
                "iasc_layer_needed": "focused_non_specialized",
                "case_worker": "demo-case-worker",
                "supervisor": "demo-supervisor",
                "intake_notes": "Demo case: referred after a PFA session.",
                "opened_on": str(opened),
            },
        )

    async def assess(
        self, case: str, timepoint: str, on: date, instrument: str, answers: list[int]
    ) -> None:
        await self.write(
            "POST",
            f"/beneficiary/v1/cases/{case}/assessments",
            "case_worker",
            {
                "id": client_id("assessment", case, instrument, timepoint),
                "instrument": instrument,
                "timepoint": timepoint,
                "administered_on": str(on),
                "responses": {str(i + 1): a for i, a in enumerate(answers)},
            },
        )

    async def training(self) -> None:
        """Staff of both organisations and of the health directorate trained
        as Group IPT facilitators, two of them as trainers, then practising
        under supervision."""
        rng = self.rng
        trainees: list[tuple[str, dict[str, Any]]] = []
        for site in SITES:
            for staff in site.staff:
                partner = site.partner
                trainees.append(
                    (
                        staff,
                        {
                            "audience": "cso" if partner else "own_staff",
                            "staff_id": staff,
                            "affiliation_organisation_id": PARTNER_ID
                            if partner
                            else None,
                            "affiliation": PARTNER if partner else LEAD,
                            "role": "psychosocial worker",
                        },
                    )
                )
        for number in range(4):
            trainees.append(
                (
                    f"moh-{number}",
                    {
                        "audience": "government",
                        "affiliation": "Directorate of Health, Dahuk",
                        "role": "nurse",
                    },
                )
            )
        ids: dict[str, str] = {}
        for name, spec in trainees:
            sex = "female" if rng.random() < 0.6 else "male"
            first = rng.choice(FEMALE if sex == "female" else MALE)
            ids[name] = client_id("trainee", name)
            await self.write(
                "POST",
                "/training/v1/trainees",
                "trainer",
                {
                    "id": ids[name],
                    "full_name": f"{first} {rng.choice(MALE)}",
                    "sex": sex,
                    "profession": "social worker",
                    **{k: v for k, v in spec.items() if v is not None},
                },
            )
        tool = "helping_skills_core@1.0"
        foundational = await self.cohort(
            "foundational",
            "Group IPT facilitators",
            list(ids.values()),
            [self.day(d) for d in (250, 249, 248, 247, 246)],
            {"min_attendance_share": 0.8, "min_post_test_score": 60},
        )
        tests = [(t, rng.randint(35, 60), rng.randint(55, 95)) for t in ids.values()]
        for kind, taken, column in [("pre", 250, 1), ("post", 246, 2)]:
            await self.write(
                "POST",
                f"/training/v1/cohorts/{foundational}/knowledge-tests",
                "trainer",
                {
                    "kind": kind,
                    "taken_on": str(self.day(taken)),
                    "results": [
                        {"trainee_id": t[0], "score": t[column]} for t in tests
                    ],
                },
            )
        await self.write(
            "POST",
            f"/training/v1/cohorts/{foundational}/certify",
            "trainer",
            {"on": str(self.day(240))},
        )
        await self.trainee_feedback(foundational, len(ids))
        trainers = [ids["staff-01"], ids["staff-04"]]
        tot = await self.cohort(
            "tot",
            "Group IPT training of trainers",
            trainers,
            [self.day(d) for d in (210, 209, 208)],
            {"min_attendance_share": 0.8},
        )
        await self.write(
            "POST",
            f"/training/v1/cohorts/{tot}/certify",
            "trainer",
            {"on": str(self.day(205))},
        )
        items = competency_tools()[tool].items
        for number, name in enumerate(["staff-02", "staff-05", "sunrise-01"]):
            await self.write(
                "POST",
                "/training/v1/competency-assessments",
                "trainer",
                {
                    "id": client_id("competency", name),
                    "trainee_id": ids[name],
                    "cohort_id": foundational,
                    "tool": tool,
                    "mode": "live",
                    "context": "supervision",
                    "assessed_on": str(self.day(200 - 10 * number)),
                    "ratings": {i.id: 3 if number else 4 for i in items},
                },
            )
        await self.practice(tot, trainers)
        await self.supervision([ids[s] for s in ("staff-01", "staff-02", "staff-03")])

    async def trainee_feedback(self, cohort: str, trainees: int) -> None:
        """Most trainees' anonymous feedback on the course's last day."""
        rng = random.Random(SEED + 2)
        for number in range(trainees - 3):
            await self.write(
                "POST",
                "/training/v1/feedback-responses",
                "trainer",
                {
                    "id": client_id("trainee-feedback", number),
                    "form": "trainee_satisfaction@1.0",
                    "cohort_id": cohort,
                    "session_number": 5,
                    "answers": {
                        "overall_satisfied": rng.choice([3, 4, 4, 5, 5]),
                        "content_relevant": rng.choice([3, 4, 5, 5]),
                        "trainer_clear": rng.choice([2, 4, 4, 5]),
                        "confident_to_apply": rng.choice([3, 3, 4, 5]),
                        "would_recommend": rng.random() < 0.9,
                    },
                },
            )

    async def cohort(
        self,
        level: str,
        title: str,
        members: list[str],
        days: list[date],
        criteria: dict[str, Any],
    ) -> str:
        course = client_id("course", level)
        await self.write(
            "POST",
            "/training/v1/courses",
            "trainer",
            {
                "id": course,
                "title": title,
                "approach": "ipt_g",
                "level": level,
                "planned_hours": 6 * len(days),
                "criteria": criteria,
            },
        )
        cohort = client_id("cohort", level)
        await self.write(
            "POST",
            "/training/v1/cohorts",
            "trainer",
            {
                "id": cohort,
                "course_id": course,
                "title": f"{title}, Dahuk",
                "starts_on": str(days[0]),
                "ends_on": str(days[-1]),
                "modality": "in_person",
                "site_id": self.sites["Dahuk City"],
            },
        )
        await self.write(
            "POST",
            f"/training/v1/cohorts/{cohort}/enrolments",
            "trainer",
            {"trainee_ids": members},
        )
        for number, held_on in enumerate(days, start=1):
            await self.write(
                "POST",
                f"/training/v1/cohorts/{cohort}/sessions",
                "trainer",
                {"number": number, "held_on": str(held_on), "hours": 6},
            )
            present = [m for m in members if self.rng.random() < 0.92]
            await self.write(
                "PUT",
                f"/training/v1/cohorts/{cohort}/sessions/{number}/attendance",
                "trainer",
                {"present": present},
            )
        return cohort

    async def practice(self, tot: str, trainers: list[str]) -> None:
        """A Group IPT practice group at Qadia camp, its sessions recorded and
        reviewed for fidelity; after the pre-group meeting each session is
        also recorded as the group activity it was, so its clients are
        reached through it (once)."""
        qadia = self.sites["Qadia camp"]
        clients = [
            p.id
            for p in self.people
            if p.site == qadia and p.sex == "female" and p.registered <= self.day(200)
        ][:8]
        group = client_id("practice-group")
        await self.write(
            "POST",
            "/training/v1/practice-groups",
            "trainer",
            {
                "id": group,
                "name": "Qadia women's group",
                "cohort_id": tot,
                "facilitator_trainee_ids": trainers,
                "client_ids": clients,
                "started_on": str(self.day(190)),
            },
        )
        items = [i.id for i in checklists()["ipt_g_fidelity@1.0"].items]
        phases = ["pre_group", "initial", "middle", "middle", "termination"]
        for number, phase in enumerate(phases):
            held_on = str(self.day(190 - 14 * number))
            path = f"/training/v1/practice-groups/{group}/sessions"
            attended = clients[: 8 - number % 3]
            link: dict[str, Any] = {"attended_client_ids": attended}
            if number:
                link = {"group_session_id": client_id("practice-session", number)}
                await self.write(
                    "POST",
                    "/beneficiary/v1/group-activities",
                    "case_worker",
                    {
                        "id": link["group_session_id"],
                        "activity_code": "ipt_group_session",
                        "activity_date": held_on,
                        "site_id": qadia,
                        "facilitator_staff_ids": ["staff-01"],
                        "duration_minutes": 90,
                        "attendee_ids": attended,
                        "protocol_session": number,
                    },
                )
            await self.write(
                "POST",
                path,
                "trainer",
                {
                    "number": number,
                    "phase": phase,
                    "held_on": held_on,
                    **link,
                    "recording_ref": f"recordings/qadia-{number}.mp3",
                    "recording_sha256": client_id("recording", number)
                    .replace("-", "")
                    .ljust(64, "0"),
                },
            )
            await self.write(
                "POST",
                f"{path}/{number}/fidelity-reviews",
                "supervisor",
                {
                    "id": client_id("fidelity", number),
                    "reviewed_on": held_on,
                    "ratings": {
                        item: 1 if i < 3 - min(number, 2) else 2
                        for i, item in enumerate(items)
                    },
                },
            )

    async def supervision(self, staff: list[str]) -> None:
        """Monthly group supervision of the lead's facilitators; the last
        session is the load's last write."""
        months = list(range(6))
        for month in months:
            last = month == months[-1]
            await self.write(
                "POST",
                "/training/v1/supervision-sessions",
                "supervisor",
                {
                    "id": LAST_SUPERVISION if last else client_id("supervision", month),
                    "kind": "group",
                    "mode": "in_person",
                    "held_on": str(self.day(180 - 30 * month)),
                    "duration_minutes": 90 + 30 * (month % 2),
                    "supervisee_trainee_ids": staff,
                },
            )


async def seed(client: httpx.AsyncClient, settings: ServiceSettings) -> dict[str, str]:
    """Load the demo programme through ``client`` (a running stack's base
    URL) unless it is loaded already; return the organisation ids by role
    (lead, partner)."""
    bootstrap = LocalSigningKey.load_or_create(settings.data_dir).issue(
        subject="demo-bootstrap",
        organisation_id=uuid.UUID(int=0),
        roles=[Role.platform_admin],
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        ttl=timedelta(minutes=5),
    )
    orgs = {"lead": LEAD_ID, "partner": PARTNER_ID}
    tokens = {"platform": bootstrap, **demo_tokens(settings, orgs)}
    loader = Loader(client, tokens, today=date.min)
    platform = {"Authorization": f"Bearer {bootstrap}"}
    lead: dict[str, Any] = {}
    for body in [
        {"id": LEAD_ID, "name": LEAD, "type": "un_agency"},
        {
            "id": PARTNER_ID,
            "name": PARTNER,
            "type": "cso",
            "lead_organisation_id": LEAD_ID,
        },
    ]:
        path = f"/beneficiary/v1/organisations/{body['id']}"
        found = await client.get(path, headers=platform)
        if found.status_code == 404:
            await loader.write(
                "POST", "/beneficiary/v1/organisations", "platform", body
            )
            found = await client.get(path, headers=platform)
        if found.status_code != 200:
            raise DemoError(f"demo: GET {path} -> {found.status_code}")
        lead = lead or found.json()
    sessions = await client.get(
        "/training/v1/supervision-sessions",
        params={"limit": MAX_LIMIT},
        headers={"Authorization": f"Bearer {tokens['supervisor']}"},
    )
    if sessions.status_code != 200:
        raise DemoError(f"demo: reading supervision -> {sessions.status_code}")
    if LAST_SUPERVISION not in {s["id"] for s in sessions.json()["items"]}:
        loader.today = date.fromisoformat(lead["created_at"][:10])
        await loader.load()
    return orgs
