"""Export files through the API, read back with the libraries integrators use
(openpyxl and pandas, libhxl): tables people can read, HXL tagged by level and
attribute, a name per format, no org unit DHIS2 cannot know. They hold
figures of one organisation, unsuppressed for record-level readers: they are
for the service's own user only, whatever its umask."""

from __future__ import annotations

import io
import stat
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx
import hxl
import openpyxl
import pandas
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from services.reporting.catalogue.catalogue import indicators
from services.reporting.exports.jobs import export_dir, run_export
from shared.auth import Role
from tests.beneficiary.api import make_beneficiary, record_service
from tests.callers import Caller
from tests.reporting.helpers import cell_time, one_service_counted


async def test_an_export_file_is_readable_by_its_owner_only(
    open_umask: None,
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    await one_service_counted(alice, catch_up)
    settings = reporting_app.state.settings
    folder = settings.data_dir / settings.export_dir_name
    folder.mkdir(mode=0o755, exist_ok=True)
    folder.chmod(0o755)  # as an older version left it
    manager = issue(orgs["a"], Role.programme_manager, subject="manager")
    asked = await reporting_client.post(
        "/v1/exports",
        json={
            "start": "2026-01-01",
            "end": "2026-12-31",
            "indicator": "people_reached",
        },
        headers=manager.headers(),
    )
    export_id = asked.json()["id"]
    await run_export({"runtime": reporting_app.state.runtime}, export_id)
    status = await reporting_client.get(
        f"/v1/exports/{export_id}", headers=manager.headers()
    )
    assert status.json()["status"] == "ready", status.text
    assert export_dir(settings) == folder
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = list(folder.glob(f"{export_id}.*"))
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    again = await reporting_client.post(
        "/v1/exports",
        json={
            "start": "2026-02-01",
            "end": "2026-02-28",
            "indicator": "people_reached",
        },
        headers=manager.headers(),
    )
    listed = await reporting_client.get(
        "/v1/exports", params={"limit": 1}, headers=manager.headers()
    )
    [latest] = listed.json()["items"]
    assert (latest["id"], latest["start"]) == (again.json()["id"], "2026-02-01")
    rest = await reporting_client.get(
        "/v1/exports",
        params={"cursor": listed.json()["next_cursor"]},
        headers=manager.headers(),
    )
    assert [e["id"] for e in rest.json()["items"]] == [export_id]
    assert rest.json()["items"][0]["download"].endswith(f"/v1/exports/{export_id}/file")
    colleague = issue(orgs["a"], Role.programme_manager, subject="colleague")
    theirs = await reporting_client.get("/v1/exports", headers=colleague.headers())
    assert theirs.json()["items"] == []  # made with the manager's access


SITES = ("Qadia camp", "Mosul City")
PERIOD = {"start": "2026-01-01", "end": "2026-12-31"}


@pytest.fixture
async def sites(alice: Caller, catch_up: Any) -> dict[str, str]:
    """Two women and a man served by counselling: a woman and the man at
    Qadia camp (Duhok), a woman at Mosul City (Ninewa). Site name -> id."""
    r = await alice.get("/v1/locations", params={"level": "site", "limit": 500})
    found = {s["name"]: s["id"] for s in r.json()["items"] if s["name"] in SITES}
    for site, sex in [(SITES[0], "female"), (SITES[0], "male"), (SITES[1], "female")]:
        person = await make_beneficiary(alice, sex=sex)
        await record_service(alice, person["id"], site_id=found[site])
    await catch_up()
    return found


Export = Callable[..., Awaitable[tuple[dict[str, Any], httpx.Response | None]]]


@pytest.fixture
def export(
    issue: Any, orgs: Any, reporting_app: FastAPI, reporting_client: httpx.AsyncClient
) -> Export:
    """Export as a programme manager of org A: its status once the job ran,
    and its file if it is ready."""
    manager = issue(orgs["a"], Role.programme_manager, subject="manager")

    async def run(**body: Any) -> tuple[dict[str, Any], httpx.Response | None]:
        return await exported(reporting_client, reporting_app, manager, **body)

    return run


async def exported(
    client: httpx.AsyncClient,
    app: FastAPI,
    caller: Caller,
    accept_language: str | None = None,
    **body: Any,
) -> tuple[dict[str, Any], httpx.Response | None]:
    languages = {"Accept-Language": accept_language} if accept_language else {}
    asked = await client.post(
        "/v1/exports",
        json={"indicator": "people_reached", **PERIOD, **body},
        headers={**caller.headers(), **languages},
    )
    assert asked.status_code == 202, asked.text
    export_id = asked.json()["id"]
    await run_export({"runtime": app.state.runtime}, export_id)
    status = await client.get(f"/v1/exports/{export_id}", headers=caller.headers())
    if status.json()["status"] != "ready":
        return status.json(), None
    file = await client.get(f"/v1/exports/{export_id}/file", headers=caller.headers())
    assert file.status_code == 200, file.text
    return status.json(), file


async def test_an_xlsx_export_is_a_table_people_can_read(
    sites: dict[str, str], export: Export
) -> None:
    status, file = await export(
        format="xlsx",
        by=["site", "iasc_layer", "sex"],
    )

    assert file is not None, status
    workbook = openpyxl.load_workbook(io.BytesIO(file.content))
    assert workbook.sheetnames == ["data", "About"]
    sheet = workbook["data"]
    assert [cell.value for cell in sheet[1]] == [
        "indicator",
        "period_start",
        "period_end",
        "site",
        "site_label",
        "iasc_layer",
        "iasc_layer_label",
        "sex",
        "sex_label",
        "value",
        "suppressed",
    ]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:K4"
    assert all(cell.font.b for cell in sheet[1])
    frame = pandas.read_excel(io.BytesIO(file.content))
    assert frame["period_start"].dtype.kind == "M"
    assert frame["value"].dtype.kind in "if"
    rows = {
        (row.site_label, row.sex_label, row.value)
        for row in frame.itertuples()
        if row.site == sites[row.site_label]
    }
    assert rows == {
        ("Qadia camp", "Female", 1),
        ("Qadia camp", "Male", 1),
        ("Mosul City", "Female", 1),
    }
    assert set(frame["iasc_layer"]) == {"focused_non_specialized"}
    assert set(frame["iasc_layer_label"]) == {"Focused, non-specialized support"}
    about = dict(workbook["About"].iter_rows(values_only=True))
    indicator = indicators()["people_reached"]
    assert about["Indicator"] == "people_reached"
    assert about["Name"] == indicator.name
    assert about["Definition"] == indicator.description
    assert about["Version"] == indicator.version
    assert (about["Period start"], about["Period end"]) == (
        cell_time("2026-01-01"),
        cell_time("2026-12-31"),
    )
    assert about["Disaggregations"] == "site, iasc_layer, sex"
    assert about["Org units"] == "site"
    assert about["Suppression threshold"] == "not applied"
    assert about["Suppression applied"] == "no"
    assert about["Rows"] == 3
    assert about["Generated by"] == "manager"
    assert isinstance(about["Generated at (UTC)"], datetime)


async def test_a_suppressed_xlsx_export_says_so(
    sites: dict[str, str], export: Export, reporting_app: FastAPI
) -> None:
    _, file = await export(
        format="xlsx",
        by=["sex"],
        filters={"sex": ["female"]},
        suppress=True,
    )

    assert file is not None
    workbook = openpyxl.load_workbook(io.BytesIO(file.content))
    about = dict(workbook["About"].iter_rows(values_only=True))
    threshold = reporting_app.state.settings.suppression_threshold
    assert about["Suppression threshold"] == threshold > 2
    assert about["Suppression applied"] == "yes"
    assert about["Suppressed cells"] == 1
    assert about["Filters"] == "sex = Female"
    frame = pandas.read_excel(io.BytesIO(file.content), sheet_name="data")
    assert frame[["sex", "suppressed"]].values.tolist() == [["female", True]]
    assert frame["value"].isna().all()


async def test_a_csv_export_reads_with_pandas(
    sites: dict[str, str], export: Export
) -> None:
    _, file = await export(
        format="csv",
        by=["governorate", "sex"],
    )

    assert file is not None
    frame = pandas.read_csv(io.BytesIO(file.content), parse_dates=["period_start"])
    assert list(frame.columns) == [
        "indicator",
        "period_start",
        "period_end",
        "governorate",
        "governorate_label",
        "sex",
        "sex_label",
        "value",
        "suppressed",
    ]
    assert frame["period_start"].dtype.kind == "M"
    assert frame["value"].dtype.kind == "i"
    assert frame["suppressed"].dtype.kind == "b"
    assert frame[
        ["governorate", "governorate_label", "sex", "sex_label", "value"]
    ].values.tolist() == [
        ["IQG09", "Duhok", "female", "Female", 1],
        ["IQG09", "Duhok", "male", "Male", 1],
        ["IQG15", "Ninewa", "female", "Female", 1],
    ]


async def test_an_hxl_export_tags_org_units_by_level_and_sex_by_attribute(
    sites: dict[str, str], export: Export
) -> None:
    _, file = await export(format="hxl", by=["site", "sex"])

    assert file is not None
    dataset = hxl.data(io.BytesIO(file.content)).cache()
    assert dataset.display_tags == [
        "#indicator+code",
        "#date+start",
        "#date+end",
        "#loc+code",
        "#loc+name",
        "#reached+ind+f",
        "#reached+ind+m",
        "#meta+suppressed",
    ]
    assert sorted(
        (row.get("#loc+name"), row.get("#reached+f"), row.get("#reached+m"))
        for row in dataset
    ) == [("Mosul City", "1", None), ("Qadia camp", "1", "1")]
    assert {row.get("#loc+code") for row in dataset} == set(sites.values())

    _, file = await export(format="hxl", by=["governorate"])
    assert file is not None
    dataset = hxl.data(io.BytesIO(file.content)).cache()
    assert dataset.display_tags[3:6] == ["#adm1+code", "#adm1+name", "#reached+ind"]
    assert sorted(row.values[3:6] for row in dataset) == [
        ["IQG09", "Duhok", "2"],
        ["IQG15", "Ninewa", "1"],
    ]


async def test_labels_and_the_about_sheet_come_in_the_language_asked(
    sites: dict[str, str], export: Export
) -> None:
    status, file = await export(
        format="xlsx", by=["iasc_layer", "sex"], filters={"sex": ["female"]}, lang="ar"
    )

    assert file is not None, status
    frame = pandas.read_excel(io.BytesIO(file.content), sheet_name="data")
    assert frame[["sex", "sex_label"]].values.tolist() == [["female", "أنثى"]]
    assert frame["iasc_layer"].tolist() == ["focused_non_specialized"]
    assert frame["iasc_layer_label"].tolist() == ["دعم مركّز غير متخصص"]
    assert frame["value"].tolist() == [2]
    workbook = openpyxl.load_workbook(io.BytesIO(file.content))
    about = dict(workbook["About"].iter_rows(values_only=True))
    assert about["المؤشر"] == "people_reached"
    assert about["الاسم"] == "الأشخاص الذين تم الوصول إليهم (مسجّلون، دون تكرار)"
    assert about["عوامل التصفية"] == "sex = أنثى"
    assert about["لغة التسميات"] == "ar"
    assert workbook["About"].sheet_view.rightToLeft


async def test_the_labels_follow_accept_language_and_stay_in_the_csv(
    sites: dict[str, str],
    issue: Any,
    orgs: Any,
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
) -> None:
    manager = issue(orgs["a"], Role.programme_manager, subject="manager")

    _, file = await exported(
        reporting_client,
        reporting_app,
        manager,
        accept_language="ckb, en;q=0.5",
        format="csv",
        by=["sex"],
    )

    assert file is not None
    frame = pandas.read_csv(io.BytesIO(file.content))
    assert dict(zip(frame["sex"], frame["sex_label"], strict=True)) == {
        "female": "مێ",
        "male": "نێر",
    }
    assert frame["value"].tolist() == [2, 1]


async def test_an_hxl_export_tags_age_groups_as_children_and_adults(
    alice: Caller, catch_up: Any, export: Export
) -> None:
    for birth in ("2014-05-01", "1990-05-01", "1950-05-01"):
        person = await make_beneficiary(alice, date_of_birth=birth)
        await record_service(alice, person["id"])
    await catch_up()

    _, file = await export(
        format="hxl", by=["sex", "age_group", "iasc_layer"], age_bands="0-17,18-59,60+"
    )

    assert file is not None
    dataset = hxl.data(io.BytesIO(file.content)).cache()
    tags = dataset.display_tags
    assert "#meta+iasc_layer+name" in tags
    assert "#reached+ind+f+children+age0_17" in tags
    assert "#reached+ind+f+adults+age18_59" in tags
    assert "#reached+ind+f+elderly+age60_plus" in tags
    [row] = list(dataset)
    assert row.get("#reached+f+children") == "1"
    assert row.get("#reached+f+adults") == "1"
    assert row.get("#reached+f+elderly") == "1"
    assert row.get("#meta+iasc_layer+name") == "Focused, non-specialized support"


async def test_each_format_downloads_under_its_own_name(
    sites: dict[str, str], export: Export
) -> None:
    names = {}

    for fmt in ("json", "csv", "hxl", "xlsx", "dhis2", "adx"):
        _, file = await export(format=fmt, by=["governorate"])
        assert file is not None, fmt
        disposition = file.headers["content-disposition"]
        names[fmt] = disposition.split("filename=")[1].strip('"')
        if fmt == "json":
            about = file.json()["about"]
            assert (about["org_unit_level"], about["generated_by"]) == (
                "governorate",
                "manager",
            )

    stem = "people_reached-2026-01-01-2026-12-31"
    assert names == {
        "json": f"{stem}.json",
        "csv": f"{stem}.csv",
        "hxl": f"{stem}.hxl.csv",
        "xlsx": f"{stem}.xlsx",
        "dhis2": f"{stem}.dhis2.json",
        "adx": f"{stem}.adx.xml",
    }


async def test_dhis2_by_sites_without_pcodes_is_refused_when_asked(
    sites: dict[str, str],
    issue: Any,
    orgs: Any,
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
) -> None:
    qadia = issue(
        orgs["a"], Role.programme_manager, subject="qadia", sites=[sites[SITES[0]]]
    )
    everywhere = issue(orgs["a"], Role.programme_manager, subject="manager")

    details = {}
    for caller, fmt in [(qadia, "dhis2"), (everywhere, "adx")]:
        r = await reporting_client.post(
            "/v1/exports",
            json={"indicator": "people_reached", **PERIOD, "by": ["site"]}
            | {"format": fmt},
            headers=caller.headers(),
        )
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["errors"][0]["loc"] == ["body", "by"]
        details[caller.subject] = r.json()["detail"]
    assert details["qadia"].startswith("No site you can export has a P-code (Qadia")
    assert "has a P-code (" in details["manager"]
    async with reporting_app.state.engine.connect() as connection:
        assert (
            await connection.execute(text("SELECT count(*) FROM export"))
        ).scalar() == 0


async def test_a_feed_by_sites_without_pcodes_is_refused_by_name(
    sites: dict[str, str],
    export: Export,
    issue: Any,
    orgs: Any,
    reporting_client: httpx.AsyncClient,
) -> None:
    _, file = await export(format="dhis2", by=["governorate"])
    assert file is not None
    assert {
        (value["orgUnit"], value["value"]) for value in file.json()["dataValues"]
    } == {("IQG09", "2"), ("IQG15", "1")}

    me = issue(orgs["a"], Role.me_officer)
    for fmt in ("adx", "dhis2"):
        r = await reporting_client.get(
            "/v1/feeds/people_reached",
            params={"by": "site", "format": fmt},
            headers=me.headers(),
        )
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
        detail = r.json()["detail"]
        assert "has no P-code" in detail
        assert "'Mosul City'" in detail or "'Qadia camp'" in detail
        assert r.json()["errors"][0]["loc"] == ["query", "by"]


async def test_dhis2_never_sends_unknown_as_an_org_unit(
    alice: Caller, catch_up: Any, export: Export
) -> None:
    await one_service_counted(alice, catch_up)  # at no site

    status, file = await export(format="adx", by=["governorate"])

    assert file is None
    assert status["status"] == "failed"
    assert "no known governorate" in status["error"]


async def test_place_labels_and_filters_come_in_the_language_asked(
    sites: dict[str, str], alice: Caller, export: Export
) -> None:
    r = await alice.get("/v1/locations", params={"level": "governorate", "limit": 50})
    duhok = next(g["id"] for g in r.json()["items"] if g["name"] == "Duhok")

    status, file = await export(
        format="xlsx", by=["governorate"], filters={"governorate": [duhok]}, lang="ar"
    )

    assert file is not None, status
    frame = pandas.read_excel(io.BytesIO(file.content), sheet_name="data")
    assert frame[["governorate", "governorate_label"]].values.tolist() == [
        ["IQG09", "دهوك"]  # the org unit is the P-code, its label the name
    ]
    workbook = openpyxl.load_workbook(io.BytesIO(file.content))
    about = dict(workbook["About"].iter_rows(values_only=True))
    assert about["عوامل التصفية"] == "governorate = دهوك"

    _, english = await export(format="csv", by=["governorate"])
    assert english is not None
    frame = pandas.read_csv(io.BytesIO(english.content))
    assert dict(zip(frame["governorate"], frame["governorate_label"], strict=True)) == {
        "IQG09": "Duhok",
        "IQG15": "Ninewa",
    }
