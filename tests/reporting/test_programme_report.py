"""A small programme recorded through the producers' HTTP APIs (see
``tests/reporting/programme.py``), then every figure of the overview, feeds
and exports checked against numbers worked out by hand."""

from __future__ import annotations

import html
import io
import re
from typing import Any
from xml.etree import ElementTree

import httpx
import hxl
import pytest
import xmlschema
from fastapi import FastAPI

from services.reporting.catalogue.catalogue import indicators
from services.reporting.exports.formats import ADX_NAMESPACE, ADX_SCHEMA
from services.reporting.exports.jobs import run_export
from services.training.settings import TrainingSettings
from shared.auth import Role
from tests.callers import Caller, Org
from tests.reporting.helpers import table as read_table
from tests.reporting.programme import (
    DAHUK_CITY,
    MOSUL,
    QADIA,
    Programme,
    record_programme,
    record_published_lines,
)
from tests.training.api import training_caller

START, END = "2026-01-01", "2026-06-30"
CUT_START, CUT_END = "2026-02-10", "2026-04-27"

# Every table of the overview for January to June 2026, read by names
# (locations and organisations) instead of ids. Age is the age at the period's
# end (2026 - birth year): p6 14, p7 16, p8 17, p12 15 are 0-17.
OVERVIEW = {
    # p1-p12 each have a live service (p8 only at the group: s10 was voided)
    "People reached (registered)": {"total": 12},
    # the awareness session: 12 + 7 + 5
    "People reached without registration": {"total": 24},
    # 11 live individual services (s1-s12 but s10) + 3 group attendees + 24
    "Services delivered": {"total": 38},
    # people registered in the period by org A or its partner: p1-p9, p11,
    # p12 (p10 in 2025); a lead sees its implementing partners' figures
    "New beneficiaries registered": {"total": 11},
    "Services by IASC layer": {
        "total": 38,
        # s8 + 24 anonymous; the group x 3; s2 s3 s4 s5 s6 s9 s11 s12; s1 s7
        "cells": {
            "basic_services": 25,
            "community_family": 3,
            "focused_non_specialized": 8,
            "specialized": 2,
        },
        "shares": {
            "basic_services": 65.8,  # 25/38
            "community_family": 7.9,  # 3/38
            "focused_non_specialized": 21.1,  # 8/38
            "specialized": 5.3,  # 2/38
        },
    },
    "People reached by IASC layer": {
        "total": 12,  # p1 is on L4 and L3, p6 on L3 and L2: counted once
        # p10; p6 p7 p8; p1 p2 p3 p4 p5 p6 p11 p12; p1 p9
        "cells": {
            "basic_services": 1,
            "community_family": 3,
            "focused_non_specialized": 8,
            "specialized": 2,
        },
        "shares": {
            "basic_services": 8.3,
            "community_family": 25.0,
            "focused_non_specialized": 66.7,
            "specialized": 16.7,
        },
    },
    "People reached by sex and age": {
        "total": 12,
        # p1 p3 p5 p10 p11; p6 p8; p2 p4 p9; p7 p12 (anonymous lines are
        # not people)
        "cells": {
            ("female", "18_plus"): 5,
            ("female", "0_17"): 2,
            ("male", "18_plus"): 3,
            ("male", "0_17"): 2,
        },
        "shares": {
            "female|18_plus": 41.7,
            "female|0_17": 16.7,
            "male|18_plus": 25.0,
            "male|0_17": 16.7,
        },
        "margins": {
            ("female", "*"): 7,
            ("male", "*"): 5,
            ("*", "0_17"): 4,
            ("*", "18_plus"): 8,
        },
    },
    "People reached by disability": {
        "total": 12,
        # p2 p7 p9; p5; the rest
        "cells": {"yes": 3, "not_disclosed": 1, "no": 8},
        "shares": {"yes": 25.0, "not_disclosed": 8.3, "no": 66.7},
    },
    "People reached by displacement status": {
        "total": 12,
        # p1 p2 p5 p6 p10 p11; p3 p8 p12; p4 p9; p7
        "cells": {"idp": 6, "returnee": 3, "host_community": 2, "refugee": 1},
        "shares": {
            "idp": 50.0,
            "returnee": 25.0,
            "host_community": 16.7,
            "refugee": 8.3,
        },
    },
    "People reached by marital status": {
        "total": 12,
        # p1 p4 p10; p2 p6 p7 p8; p3 p9; p5; p11; p12 (not recorded)
        "cells": {
            "married": 3,
            "single": 4,
            "widowed": 2,
            "divorced": 1,
            "separated": 1,
            "unknown": 1,
        },
        "shares": {
            "married": 25.0,
            "single": 33.3,
            "widowed": 16.7,
            "divorced": 8.3,
            "separated": 8.3,
            "unknown": 8.3,
        },
    },
    "Services, direct and through partners": {
        "total": 38,
        "cells": {"direct": 36, "partner": 2},  # partner: s11 s12
        "shares": {"direct": 94.7, "partner": 5.3},
    },
    "Services by organisation": {
        "total": 38,
        "cells": {"Org A": 36, "Partner": 2},
        "shares": {"Org A": 94.7, "Partner": 5.3},
    },
    "Services by activity": {
        "total": 38,
        "cells": {
            "awareness_session": 24,
            "individual_counselling": 3,  # s2 s3 s11 (s10 voided)
            "pm_plus_individual": 3,  # s4 s5 s6
            "recreational_activity": 3,  # the group
            "psychiatric_consultation": 2,  # s1 s7
            "pfa": 2,  # s9 s12
            "referral_basic_services": 1,  # s8
        },
        "shares": {
            "awareness_session": 63.2,
            "individual_counselling": 7.9,
            "pm_plus_individual": 7.9,
            "recreational_activity": 7.9,
            "psychiatric_consultation": 5.3,
            "pfa": 5.3,
            "referral_basic_services": 2.6,
        },
    },
    # each once, however many attended: the group (04-20), the awareness
    # session (05-20)
    "Group sessions held": {
        "total": 2,
        "cells": {"recreational_activity": 1, "awareness_session": 1},
        "shares": {"recreational_activity": 50.0, "awareness_session": 50.0},
    },
    "Meetings held": {"total": 0},
    "People reached by governorate": {
        "total": 12,
        # Duhok: p1 p2 p10 p6 (Qadia) p3 p4 p5 (Dahuk City);
        # Ninewa: p9 p11 p12 p6 p7 p8 (Mosul); p6 in both
        "cells": {"Duhok": 7, "Ninewa": 6},
        "shares": {"Duhok": 58.3, "Ninewa": 50.0},
    },
    "Services by site": {
        "total": 38,
        # s1 s2 s3 s8 s9; s4 s5 s6 + 24; s7 s11 s12 + 3
        "cells": {"Qadia camp": 5, "Dahuk City": 27, "Mosul City": 6},
        "shares": {"Qadia camp": 13.2, "Dahuk City": 71.1, "Mosul City": 15.8},
    },
    "Referrals made": {
        "total": 4,
        "cells": {"specialised_mental_health": 1, "livelihoods": 2, "legal": 1},
        "shares": {
            "specialised_mental_health": 25.0,
            "livelihoods": 50.0,
            "legal": 25.0,
        },
    },
    # p3 PHQ-9 -8 (>= 6) and p5 SRQ-20 -5 (>= 3) improved; p4 PHQ-9 -3 did not
    "Reliable improvement (PHQ-9 or SRQ-20)": {"total": 66.6667, "ratio": (2, 3)},
    "People trained by audience": {
        "total": 5,  # t1-t5 (t4 at one session); t6 was only assessed
        "cells": {"own_staff": 1, "ngo": 2, "cso": 1, "government": 1},
        "shares": {"own_staff": 20.0, "ngo": 40.0, "cso": 20.0, "government": 20.0},
    },
    "Training sessions held": {"total": 5},  # 3 foundational, 2 ToT
    # attendances 5 x 3 - 2 (t4) + 2 x 2 = 17; supervisees 2 + 1 + 3 = 6
    "Capacity-building services by part": {
        "total": 23,
        "cells": {"training": 17, "supervision": 6},
        "shares": {"training": 73.9, "supervision": 26.1},
    },
    "People certified": {
        "total": 4,  # t1 t2 t3 t5, t1 and t2 counted once
        "cells": {"foundational": 4, "tot": 2},
        "shares": {"foundational": 100.0, "tot": 50.0},
    },
    "ToT trainers certified": {"total": 2},  # t1 t2
    "Supervised practice sessions": {"total": 3},
    "Clients reached through supervised practice sessions": {"total": 0},
    "Mean fidelity of reviewed sessions": {"total": 80.0, "ratio": (240, 3)},
    "Supervision hours": {"total": 4.5},  # 1.5 + 1 + 2
    # staff known on s1-s9, s11, s12 (not s7) and the 3 attendees: 13;
    # qualified: staff-q certified 02-14 -> s2 s4 s5 + 3 group (not s3 01-25,
    # s9 02-05); staff-p assessed level 3 on 05-01 -> s12 (not s11 02-15)
    "Services by qualified staff": {"total": 53.8462, "ratio": (7, 13)},
    # PM+ sessions s4 s5 (staff-q, certified) and s6 (staff-n)
    "Structured sessions by qualified staff": {"total": 66.6667, "ratio": (2, 3)},
    # supervisee-hours 1.5 x 2 + 1 x 1 + 2 x 3 = 10, over 3 supervisees x 6
    # months
    "Supervision hours per provider per month": {"total": 0.5556, "ratio": (10, 18)},
    "Materials distributed by item and language": {"total": 0, "cells": {}},
    "Feedback responses by form": {"total": 0, "cells": {}},
    "Share satisfied, by question": {"total": None, "cells": {}, "ratio": (0, 0)},
    "Mean rating (1 to 5), by question": {"total": None, "cells": {}, "ratio": (0, 0)},
}  # fmt: skip

# February 10 to April 27: s2 s4 s11 (not s9 02-05), s5 s6, s7 and the group.
CUT = {
    "Services delivered": {"total": 9},
    "People reached (registered)": {"total": 9},  # p1 p3 p11 p4 p5 p9 p6 p7 p8
    "People reached without registration": {"total": 0},
    # p11 p12 (the partner's, 02-10), p7 (02-16), p8 p9 (03-02)
    "New beneficiaries registered": {"total": 5},
    "Services by site": {
        "total": 9,
        "cells": {"Qadia camp": 1, "Dahuk City": 3, "Mosul City": 5},
        "shares": {"Qadia camp": 11.1, "Dahuk City": 33.3, "Mosul City": 55.6},
    },
    "Referrals made": {
        "total": 2,  # p4 03-15, p7 04-22
        "cells": {"legal": 1, "livelihoods": 1},
        "shares": {"legal": 50.0, "livelihoods": 50.0},
    },
    # only p3's follow-up (04-25) falls in the period
    "Reliable improvement (PHQ-9 or SRQ-20)": {"total": 100.0, "ratio": (1, 1)},
    "People trained by audience": {
        "total": 4,  # t4 attended on 02-09 only
        "cells": {"own_staff": 1, "ngo": 2, "cso": 1},
        "shares": {"own_staff": 25.0, "ngo": 50.0, "cso": 25.0},
    },
    "Mean fidelity of reviewed sessions": {"total": 85.0, "ratio": (170, 2)},
    "Supervision hours": {"total": 2.5},
    # s2 s4 s5 + 3 of s2 s4 s11 s5 s6 + 3 (s7 has no staff)
    "Services by qualified staff": {"total": 75.0, "ratio": (6, 8)},
    # (1.5 x 2 + 1 x 1) / (2 supervisees x 3 months, February to April)
    "Supervision hours per provider per month": {"total": 0.6667, "ratio": (4, 6)},
}


def figures(table: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """A table's figures keyed by value codes (locations and organisations
    by name), in the shape of ``OVERVIEW``."""
    values = table["values"]
    dims = values["disaggregations"]
    assert values["suppression_threshold"] is None
    assert not values["total"]["suppressed"]

    def key(cell: dict[str, Any]) -> Any:
        assert not cell["suppressed"]
        parts = tuple(names.get(cell["dims"][d], cell["dims"][d]) for d in dims)
        return parts[0] if len(parts) == 1 else parts

    found: dict[str, Any] = {"total": values["total"]["value"]}
    if dims:
        found["cells"] = {key(c): c["value"] for c in values["cells"]}
    if table["shares"]:
        found["shares"] = {
            "|".join(names.get(p, p) for p in label.split("|")): share
            for label, share in table["shares"].items()
        }
    if values["margins"]:
        found["margins"] = {key(c): c["value"] for c in values["margins"]}
    if values["total"]["denominator"] is not None:
        found["ratio"] = (values["total"]["numerator"], values["total"]["denominator"])
    return found


async def get_overview(
    client: httpx.AsyncClient, reader: Caller, start: str, end: str
) -> dict[str, Any]:
    r = await client.get(
        "/v1/overview", params={"start": start, "end": end}, headers=reader.headers()
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def recorded(
    alice: Caller,
    issue: Any,
    orgs: dict[str, Org],
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
    catch_up: Any,
) -> Programme:
    trainer = training_caller(
        training_settings, training_client, orgs["a"], Role.trainer, Role.supervisor
    )
    programme = await record_programme(alice, issue, orgs, trainer)
    assert await catch_up() > 0
    return programme


async def test_the_overview_of_a_small_programme(
    linked_training: FastAPI,
    reporting_client: httpx.AsyncClient,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
    alice: Caller,
    issue: Any,
    orgs: dict[str, Org],
    catch_up: Any,
) -> None:
    programme = await recorded(
        alice, issue, orgs, training_client, training_settings, catch_up
    )
    names = programme.names()
    me = issue(orgs["a"], Role.me_officer)

    overview = await get_overview(reporting_client, me, START, END)
    assert overview["sites_active"] == 3  # Qadia camp, Dahuk City, Mosul City
    found = {t["title"]: figures(t, names) for t in overview["tables"]}
    assert list(found) == list(OVERVIEW)
    # every wrong figure is reported together, at the end
    wrong = {
        f"{title} ({START} to {END})": {"expected": expected, "found": found[title]}
        for title, expected in OVERVIEW.items()
        if found[title] != expected
    }
    organisations = next(
        t for t in overview["tables"] if t["title"] == "Services by organisation"
    )["values"]["labels"]["organisation"]
    assert organisations[orgs["a"].id] == "Org A (lead)"
    assert organisations[orgs["partner"].id] == "Partner of A"

    cut = await get_overview(reporting_client, me, CUT_START, CUT_END)
    assert cut["sites_active"] == 3
    found = {t["title"]: figures(t, names) for t in cut["tables"]}
    wrong |= {
        f"{title} ({CUT_START} to {CUT_END})": {
            "expected": expected,
            "found": found[title],
        }
        for title, expected in CUT.items()
        if found[title] != expected
    }

    partner = await get_overview(
        reporting_client, issue(orgs["partner"], Role.me_officer), START, END
    )
    partner_found = {t["title"]: figures(t, names) for t in partner["tables"]}
    assert partner_found["Services delivered"] == {"total": 2}  # s11 s12
    assert partner_found["New beneficiaries registered"] == {"total": 2}  # p11 p12
    assert partner["sites_active"] == 1  # Mosul City

    other = await get_overview(
        reporting_client, issue(orgs["b"], Role.me_officer), START, END
    )
    assert other["sites_active"] == 0
    for table in other["tables"]:
        values = table["values"]
        assert values["cells"] == [], table["title"]
        assert table["shares"] == {}, table["title"]
        assert values["total"]["value"] in (0, None), table["title"]

    r = await reporting_client.get(
        "/v1/overview/document",
        params={"start": START, "end": END},
        headers=me.headers(),
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["content-language"] == "en"
    page = re.sub(r">\s+<", "><", r.text)
    assert '<html lang="en" dir="ltr">' in page
    definition = indicators()["services_delivered"].description
    assert f'<p class="definition">{html.escape(definition)}</p>' in page
    page = re.sub(r'<p class="definition">[^<]*</p>', "", page)  # under each title
    assert "2026-01-01 to 2026-06-30 · 3 sites active" in page
    for heading, figure in [
        ("People reached (registered)", "12 <span>people</span>"),
        ("People reached without registration", "24 <span>people</span>"),
        ("Services delivered", "38 <span>services</span>"),
        ("New beneficiaries registered", "11 <span>people</span>"),
        ("Reliable improvement (PHQ-9 or SRQ-20)", "66.7 <span>percent</span>"),
        ("ToT trainers certified", "2 <span>people</span>"),
        ("Supervision hours", "4.5 <span>hours</span>"),
    ]:
        if f'<h3>{heading}</h3><p class="figure">{figure}</p>' not in page:
            wrong[f"{heading} (document)"] = {"expected": figure}
    assert "<tr><td>Dahuk City</td><td>27</td><td>71.1 %</td></tr>" in page
    assert "<tr><td>Female, 18 and over</td>" in page
    assert "<h2>IASC intervention pyramid</h2>" in page
    assert wrong == {}
    by_governorate = next(
        t for t in overview["tables"] if t["title"] == "People reached by governorate"
    )["values"]["labels"]["governorate"]
    assert by_governorate[programme.governorates["Duhok"]] == "Duhok"
    await the_overview_in_arabic_and_kurdish(
        reporting_client, me, programme.governorates
    )

    women = await reporting_client.get(
        "/v1/overview",
        params={"start": START, "end": END, "sex": "female", "age_group": "18_plus"},
        headers=me.headers(),
    )
    assert women.status_code == 200, women.text
    narrowed = women.json()
    assert narrowed["filters"] == {"sex": ["female"], "age_group": ["18_plus"]}
    by_title = {t["title"]: t["values"] for t in narrowed["tables"]}
    assert by_title["People reached (registered)"]["total"]["value"] == 5
    assert "People trained by audience" not in by_title  # cannot be narrowed
    document = await reporting_client.get(
        "/v1/overview/document",
        params={"start": START, "end": END, "sex": "female", "lang": "ar"},
        headers=me.headers(),
    )
    assert "فقط: أنثى" in document.text


async def the_overview_in_arabic_and_kurdish(
    reporting_client: httpx.AsyncClient, me: Caller, governorates: dict[str, str]
) -> None:
    """``lang`` wins over Accept-Language; words, not codes, right to left;
    places by their names in the language."""
    r = await reporting_client.get(
        "/v1/overview/document",
        params={"start": START, "end": END, "lang": "ar"},
        headers=me.headers() | {"Accept-Language": "ckb, en;q=0.5"},
    )
    assert r.headers["content-language"] == "ar"
    page = re.sub(r">\s+<", "><", r.text)
    assert '<html lang="ar" dir="rtl">' in page
    assert "<h1>نظرة عامة على البرنامج</h1>" in page
    assert "<tr><td>أنثى، ١٨ فما فوق</td>" in page
    assert "<tr><td>دهوك</td>" in page  # people reached by governorate
    period = "من \u2066٢٠٢٦-٠١-٠١\u2069 إلى \u2066٢٠٢٦-٠٦-٣٠\u2069"
    assert f"{period} · ٣ مواقع نشطة" in page
    text = re.sub(r"<[^>]+>", " ", page.split("<body>")[1])
    for code in ("female", "18_plus", "not_disclosed", "idp", "Iasc", "unknown"):
        assert code not in text, code

    kurdish = await reporting_client.get(
        "/v1/overview",
        params={"start": START, "end": END},
        headers=me.headers() | {"Accept-Language": "ckb-IQ, ar;q=0.8"},
    )
    assert kurdish.headers["content-language"] == "ckb"
    by_sex = next(
        t
        for t in kurdish.json()["tables"]
        if t["values"]["disaggregations"][:1] == ["sex"]
    )
    assert by_sex["title"] == "کەسانی گەیشتنپێکراو بەپێی ڕەگەز و تەمەن"
    assert by_sex["values"]["labels"]["sex"]["female"] == "مێ"
    assert by_sex["values"]["labels"]["age_group"]["18_plus"] == "١٨ و سەرووتر"
    by_governorate = next(
        t
        for t in kurdish.json()["tables"]
        if t["values"]["disaggregations"] == ["governorate"]
    )["values"]["labels"]["governorate"]
    assert by_governorate[governorates["Duhok"]] == "دهۆک"
    assert by_governorate[governorates["Ninewa"]] == "نەینەوا"


def month(number: int) -> tuple[str, str]:
    ends = {1: 31, 2: 28, 3: 31, 4: 30, 5: 31, 6: 30}
    return f"2026-{number:02d}-01", f"2026-{number:02d}-{ends[number]}"


async def test_feeds_and_exports_of_a_small_programme(
    linked_training: FastAPI,
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
    alice: Caller,
    issue: Any,
    orgs: dict[str, Org],
    catch_up: Any,
) -> None:
    programme = await recorded(
        alice, issue, orgs, training_client, training_settings, catch_up
    )
    me = issue(orgs["a"], Role.me_officer)

    async def feed(indicator: str, **params: Any) -> httpx.Response:
        r = await reporting_client.get(
            f"/v1/feeds/{indicator}", params=params, headers=me.headers()
        )
        assert r.status_code == 200, r.text
        return r

    # every month something happened in: p10 registered in December 2025,
    # then services from January to June
    first = await feed("services_delivered", cursor=0)
    cursor = int(first.headers["X-Feed-Cursor"])
    assert cursor > 0
    assert [
        (row["period_start"], row["period_end"], row["value"])
        for row in first.json()["rows"]
    ] == [
        ("2025-12-01", "2025-12-31", 0),
        (*month(1), 3),  # s1 s3 s8
        (*month(2), 4),  # s2 s4 s9 s11
        (*month(3), 2),  # s5 s6 (s10 voided)
        (*month(4), 4),  # s7 + the group of 3
        (*month(5), 24),  # the awareness session
        (*month(6), 1),  # s12
    ]
    again = await feed("services_delivered", cursor=cursor)
    assert again.json()["rows"] == []
    assert int(again.headers["X-Feed-Cursor"]) == cursor

    # HXL: governorates travel as the org unit (P-code, name), sex as the
    # attributes of the value columns
    r = await feed("people_reached", cursor=0, by="governorate,sex", format="hxl")
    dataset = hxl.data(io.BytesIO(r.content)).cache()
    assert dataset.headers == [
        "indicator",
        "period_start",
        "period_end",
        "governorate",
        "governorate_label",
        "value sex=female",
        "value sex=male",
        "suppressed",
    ]
    assert dataset.display_tags == [
        "#indicator+code",
        "#date+start",
        "#date+end",
        "#adm1+code",
        "#adm1+name",
        "#reached+ind+f",
        "#reached+ind+m",
        "#meta+suppressed",
    ]
    dahuk, ninewa = programme.pcodes["Duhok"], programme.pcodes["Ninewa"]
    assert (dahuk, ninewa) == ("IQG09", "IQG15")
    assert [row.values[1:7] for row in dataset] == [
        [*month(1), dahuk, "Duhok", "2", "1"],  # p1 p10; p2
        [*month(2), dahuk, "Duhok", "3", ""],  # p1 p3 p6
        [*month(3), dahuk, "Duhok", "1", "1"],  # p5; p4
        [*month(2), ninewa, "Ninewa", "1", ""],  # p11
        [*month(4), ninewa, "Ninewa", "2", "2"],  # p6 p8; p9 p7
        [*month(6), ninewa, "Ninewa", "", "1"],  # p12
    ]
    assert {row.get("#indicator+code") for row in dataset} == {"people_reached"}
    assert {row.get("#meta+suppressed") for row in dataset} == {"false"}

    # ADX: services by sex, monthly; anonymous lines carry their own sex
    adx = await feed("services_delivered", cursor=0, by="sex", format="adx")
    assert adx.headers["content-type"].startswith("application/adx+xml")
    xmlschema.XMLSchema(ADX_SCHEMA).validate(adx.text)
    root = ElementTree.fromstring(adx.content)
    ns = {"adx": ADX_NAMESPACE}
    values = {
        (group.get("period"), value.get("MHPSS_SEX")): value.get("value")
        for group in root.findall("adx:group", ns)
        for value in group.findall("adx:dataValue", ns)
    }
    assert {g.get("orgUnit") for g in root.findall("adx:group", ns)} == {
        "MHPSS_PROGRAMME"
    }
    assert {g.get("dataSet") for g in root.findall("adx:group", ns)} == {"MHPSS"}
    assert {
        v.get("dataElement") for v in root.iterfind("adx:group/adx:dataValue", ns)
    } == {"MHPSS_SERVICES"}
    assert values == {
        ("2026-01-01/P1M", "FMLE"): "2",  # s1 s8
        ("2026-01-01/P1M", "MLE"): "1",  # s3
        ("2026-02-01/P1M", "FMLE"): "4",  # s2 s4 s9 s11
        ("2026-03-01/P1M", "FMLE"): "1",  # s6
        ("2026-03-01/P1M", "MLE"): "1",  # s5
        ("2026-04-01/P1M", "FMLE"): "2",  # p6 p8 at the group
        ("2026-04-01/P1M", "MLE"): "2",  # s7, p7 at the group
        ("2026-05-01/P1M", "FMLE"): "12",  # 12 women
        ("2026-05-01/P1M", "MLE"): "12",  # 7 boys and 5 men
        ("2026-06-01/P1M", "MLE"): "1",  # s12
    }

    # DHIS2 dataValueSets, monthly, by sex and age, as an export job
    r = await reporting_client.post(
        "/v1/exports",
        json={
            "indicator": "people_reached",
            "start": START,
            "end": END,
            "by": ["sex", "age_group"],
            "format": "dhis2",
            "monthly": True,
        },
        headers=me.headers(),
    )
    assert r.status_code == 202, r.text
    export = r.json()
    assert export["status"] == "pending"
    await run_export({"runtime": reporting_app.state.runtime}, str(export["id"]))
    status = (
        await reporting_client.get(f"/v1/exports/{export['id']}", headers=me.headers())
    ).json()
    assert (status["status"], status["rows"]) == ("ready", 10)
    r = await reporting_client.get(
        f"/v1/exports/{export['id']}/file", headers=me.headers()
    )
    assert r.status_code == 200
    body = r.json()
    assert body["dataSet"] == "MHPSS"
    assert {(v["dataElement"], v["orgUnit"]) for v in body["dataValues"]} == {
        ("MHPSS_REACHED", "MHPSS_PROGRAMME")
    }
    assert sorted(
        (v["period"], v["categoryOptionCombo"], v["value"]) for v in body["dataValues"]
    ) == [
        ("202601", "FMLE_AGE18_PLUS", "2"),  # p1 p10
        ("202601", "MLE_AGE18_PLUS", "1"),  # p2
        ("202602", "FMLE_AGE0_17", "1"),  # p6
        ("202602", "FMLE_AGE18_PLUS", "3"),  # p1 p3 p11
        ("202603", "FMLE_AGE18_PLUS", "1"),  # p5
        ("202603", "MLE_AGE18_PLUS", "1"),  # p4
        ("202604", "FMLE_AGE0_17", "2"),  # p6 p8
        ("202604", "MLE_AGE0_17", "1"),  # p7
        ("202604", "MLE_AGE18_PLUS", "1"),  # p9
        ("202606", "MLE_AGE0_17", "1"),  # p12 (May: only anonymous people)
    ]

    # a late correction: s3 (January) voided in June; the next pull of the
    # feed brings January only, corrected
    r = await alice.post(
        f"/v1/service-records/{programme.services['s3']['id']}/void",
        {"reason": "the session did not take place"},
    )
    assert r.status_code == 200, r.text
    await catch_up()
    corrected = await feed("services_delivered", cursor=cursor)
    assert [
        (row["period_start"], row["period_end"], row["value"])
        for row in corrected.json()["rows"]
    ] == [(*month(1), 2)]  # s1 s8
    later = int(corrected.headers["X-Feed-Cursor"])
    assert later > cursor
    assert (await feed("services_delivered", cursor=later)).json()["rows"] == []
    reached = await get_overview(reporting_client, me, START, END)
    totals = {
        t["title"]: t["values"]["total"]["value"]
        for t in reached["tables"]
        if not t["values"]["disaggregations"]
    }
    assert totals["Services delivered"] == 37
    assert totals["People reached (registered)"] == 11  # p2 had only s3


@pytest.mark.long
async def test_the_published_lines_of_a_small_programme(
    linked_training: FastAPI,
    alice: Caller,
    issue: Any,
    orgs: dict[str, Org],
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    """Meetings and sessions held, livelihood-integration participants by
    sex, PFA training by site, topic and participants' organisations,
    capacity building by part and audience, PM+ completion and drop-out:
    ``PUBLISHED_LINES`` on top of the programme, worked out by hand."""
    trainer = training_caller(
        training_settings, training_client, orgs["a"], Role.trainer, Role.supervisor
    )
    programme = await record_programme(alice, issue, orgs, trainer)
    partner = issue(orgs["partner"], Role.case_worker, subject="pat")
    pfa = await record_published_lines(programme, alice, partner, trainer)
    await catch_up()
    me = issue(orgs["a"], Role.me_officer)
    names = programme.names()

    async def table(indicator: str, by: str = "", **filters: str) -> dict[Any, Any]:
        """The total and the cells, places and organisations by name."""
        return await read_table(
            reporting_client, me, indicator, START, END, by, names, **filters
        )

    assert await table("meetings_held", "organisation") == {
        "total": 3,
        "Org A": 2,
        "Partner": 1,
    }
    # the 06-16 meeting placed 6 of its 7; the counted meetings placed none
    assert await table("meeting_participants", "participant_organisation") == {
        "total": 14 + 9 + 7,
        "Partner": 3,
        "Org A": 2,
        orgs["b"].id: 1,
        "unknown": 14 + 9 + 1,
    }
    assert await table("group_attendance", "unit") == {
        "total": 30 + 3 + 24 + 85 + 5 + 13,
        "meeting": 14 + 9 + 7,
        # recreational, awareness, livelihoods, the series, Group IPT
        "session": 3 + 24 + 85 + 5 + 3 + 2 * 5,
    }
    assert await table("group_sessions_held", "activity") == {
        "total": 14,
        "ipt_group_session": 6,
        "recreational_activity": 1,
        "awareness_session": 1,
        "mli_awareness_session": 2,
        "mli_peer_support_group": 2,
        "peer_support_group": 2,
    }
    # the series: 2 of 4 sessions held, 3 people reached (p6 at both)
    series = programme.series
    assert await table("group_sessions_planned", "series") == {"total": 4, series: 4}
    assert await table("group_sessions_held", "series") == {
        "total": 14,
        series: 2,
        "unknown": 12,
    }
    assert await table("people_reached", "series", series=series) == {
        "total": 3,
        series: 3,
    }
    livelihoods = "mli_awareness_session,mli_peer_support_group"
    assert await table("services_delivered", "sex", activity=livelihoods) == {
        "total": 85,
        "female": 46,
        "male": 39,
    }

    # strict queries: a value no dim takes is a 422 listing the allowed ones,
    # and age groups are read under the names they are written with
    wrong = await reporting_client.get(
        "/v1/indicators/services_delivered/values",
        params={"start": START, "end": END, "sex": "femal"},
        headers=me.headers(),
    )
    assert wrong.status_code == 422, wrong.text
    assert "female" in wrong.json()["detail"]
    assert await table(
        "services_delivered", "age_group", activity=livelihoods, age_bands="0-17,18+"
    ) == {"total": 85, "18_plus": 85}
    assert await table("people_trained", "approach") == {
        "total": 10,
        "ipt_g": 5,
        "pfa": 5,
    }
    assert await table("people_trained", "site", course=pfa) == {
        "total": 5,
        DAHUK_CITY: 2,
        MOSUL: 2,
        QADIA: 1,
    }
    assert await table("people_trained", "topic", course=pfa) == {
        "total": 5,
        "pfa": 4,
        "suicide_prevention": 2,
    }
    assert await table("people_trained", "participant_organisation", course=pfa) == {
        "total": 5,
        "Partner": 3,
        orgs["b"].id: 1,
        "unknown": 1,
    }
    assert await table("organisations_trained", "course", course=pfa) == {
        "total": 2,
        pfa: 2,
    }
    assert await table("training_sessions_held", "approach") == {
        "total": 9,
        "ipt_g": 5,
        "pfa": 4,
    }

    family = await table("capacity_building_services", "component")
    assert family == {"total": 30, "training": 23, "supervision": 6, "coaching": 1}
    by_audience = await table("capacity_building_services", "audience")
    assert by_audience == {
        "total": 30,
        "own_staff": 8,
        "ngo": 14,
        "cso": 5,
        "government": 3,
    }
    assert by_audience["total"] == sum(v for k, v in family.items() if k != "total")

    assert await table("structured_enrolments", "status") == {
        "total": 5,
        "finished": 3,  # p3 (PM+), p1 p2 (Group IPT)
        "dropped_out": 2,  # p4 (PM+), p5 (Group IPT)
    }
    # PM+ 4 + 1; Group IPT 3 pre-group + 3 + 2 x 5 group sessions
    assert await table("structured_sessions_attended", "month") == {
        "total": 5 + 16,
        "2026-06": 5 + 16,
    }
    assert await table("structured_completions", "intervention") == {
        "total": 3,
        "pm_plus": 1,
        "ipt_group": 2,
    }
    assert await table("structured_dropouts") == {"total": 2}
    ipt_g = {"intervention": "ipt_group"}
    assert await table("structured_completions", "problem_area", **ipt_g) == {
        "total": 2,
        "grief": 1,
        "role_transitions": 1,
    }
    assert await table("structured_dropouts", "problem_area", **ipt_g) == {
        "total": 1,
        "role_disputes": 1,
    }
