"""A country's P-code tables load by the API and by the command, with names
in the caller's language, idempotently; Iraq ships with its governorates in
English, Arabic and Kurdish. The Libya-like table here is made up for the
test (real names, invented P-codes in COD-AB's shape)."""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.beneficiary.locations.command import LOCATIONS_LOAD
from shared.auth import Role
from tests.beneficiary.api import count_rows
from tests.callers import Org

DATA = Path(__file__).with_name("data")
TABLE = DATA / "libya_like_adm3.csv"
MAPPING = json.loads((DATA / "libya_like_mapping.json").read_text())
PLATFORM = Org(str(uuid.UUID(int=0)), "platform")
ROOT = Path(__file__).resolve().parents[2]


def report(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: answer[k] for k in ("added", "renamed", "unchanged", "by_level")}


def rows() -> list[dict[str, str]]:
    with TABLE.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(autouse=True)
async def forget_libya(beneficiary_engine: AsyncEngine) -> AsyncIterator[None]:
    """The place tree outlives each test; this test's country does not."""
    yield
    async with beneficiary_engine.begin() as connection:
        await connection.execute(
            text(
                "DELETE FROM location WHERE pcode LIKE 'LY%' "
                "OR (pcode IS NULL AND name LIKE 'Test %')"
            )
        )


async def test_a_country_loads_by_the_api_once_and_in_its_languages(
    issue: Any, orgs: dict[str, Org], beneficiary_engine: AsyncEngine
) -> None:
    platform = issue(PLATFORM, Role.platform_admin)
    body = {"country": "LY", "mapping": MAPPING, "rows": rows()}
    before = await count_rows(beneficiary_engine, "location")
    r = await platform.post("/v1/locations/gazetteer", body)
    assert r.status_code == 200, r.text
    assert report(r.json()) == {
        "added": 9,
        "renamed": 0,
        "unchanged": 0,
        "by_level": {"governorate": 2, "district": 3, "subdistrict": 4},
    }
    assert (r.json()["country"], r.json()["loaded_by"]) == ("LY", platform.subject)
    assert await count_rows(beneficiary_engine, "location") == before + 9

    again = await platform.post("/v1/locations/gazetteer", body)
    assert report(again.json()) == {
        "added": 0,
        "renamed": 0,
        "unchanged": 9,
        "by_level": {},
    }
    assert await count_rows(beneficiary_engine, "location") == before + 9

    alice = issue(orgs["a"], Role.case_worker)
    [tripoli] = (
        await alice.get(
            "/v1/locations",
            params={"pcode": "LY010101", "lang": "ar"},
            headers={"Accept-Language": "en"},
        )
    ).json()["items"]
    assert (tripoli["name"], tripoli["label"], tripoli["level"]) == (
        "Tripoli",
        "طرابلس",
        "district",
    )
    assert tripoli["names"] == {"en": "Tripoli", "ar": "طرابلس"}
    west = await alice.get(
        f"/v1/locations/{tripoli['parent_id']}",
        headers={"Accept-Language": "ckb, en;q=0.5"},
    )
    assert west.headers["content-language"] == "ckb"
    assert west.json()["label"] == "West"  # no Kurdish name in the table: English

    [souq] = (await alice.get("/v1/locations", params={"pcode": "LY01010101"})).json()[
        "items"
    ]
    manager = issue(orgs["a"], Role.programme_manager)
    site = await manager.post(
        "/v1/locations",
        {
            "name": "Test centre",
            "level": "site",
            "site_type": "community_centre",
            "parent_id": souq["id"],
        },
    )
    assert site.status_code == 201, site.text

    renamed = [dict(row) for row in rows()]
    renamed[0]["admin3Name_en"] = "Souq al-Jumaa"
    r = await platform.post(
        "/v1/locations/gazetteer",
        {"country": "LY", "mapping": MAPPING, "rows": renamed},
    )
    assert r.json()["renamed"] == 1
    assert r.json()["unchanged"] == 8


@pytest.mark.parametrize(
    ("change", "column", "kind"),
    [
        ({"admin3Pcode": "LY02010101"}, "admin3Pcode", "pcode_parent"),
        ({"admin1Pcode": "SY0101"}, "admin1Pcode", "pcode"),
        ({"admin2Name_en": ""}, "admin2Name_en", "missing"),
        ({"admin2Name_ar": "طرابلس الغرب"}, "admin2Pcode", "conflict"),
    ],
)
async def test_a_bad_row_refuses_the_whole_load(
    issue: Any,
    beneficiary_engine: AsyncEngine,
    change: dict[str, str],
    column: str,
    kind: str,
) -> None:
    table = rows()
    table[1] = table[1] | change
    before = await count_rows(beneficiary_engine, "location")
    r = await issue(PLATFORM, Role.platform_admin).post(
        "/v1/locations/gazetteer", {"country": "LY", "mapping": MAPPING, "rows": table}
    )
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert (error["loc"], error["type"]) == (["body", "rows", 1, column], kind)
    assert await count_rows(beneficiary_engine, "location") == before


async def test_a_table_without_cod_ab_columns_needs_a_mapping(
    issue: Any, beneficiary_engine: AsyncEngine
) -> None:
    before = await count_rows(beneficiary_engine, "location")
    r = await issue(PLATFORM, Role.platform_admin).post(
        "/v1/locations/gazetteer", {"country": "LY", "rows": rows()}
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"] == ["body", "mapping", "levels"]
    assert await count_rows(beneficiary_engine, "location") == before


async def test_only_the_platform_operator_loads_places(
    issue: Any, orgs: dict[str, Org], beneficiary_engine: AsyncEngine
) -> None:
    before = await count_rows(beneficiary_engine, "location")
    body = {"country": "LY", "mapping": MAPPING, "rows": rows()}
    for role in (Role.admin, Role.programme_manager):
        r = await issue(orgs["a"], role).post("/v1/locations/gazetteer", body)
        assert r.status_code == 403, r.text
    assert await count_rows(beneficiary_engine, "location") == before


async def test_the_command_loads_the_same_table_and_repeats_safely(
    beneficiary_engine: AsyncEngine, tmp_path: Path
) -> None:
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps(MAPPING))
    args = argparse.Namespace(file=TABLE, country="ly", mapping=mapping, sheet=None)
    first = await LOCATIONS_LOAD.run(beneficiary_engine, args)
    assert (first["added"], first["country"]) == (9, "LY")
    second = await LOCATIONS_LOAD.run(beneficiary_engine, args)
    assert (second["added"], second["unchanged"]) == (0, 9)


@pytest.mark.processes
def test_the_command_line_on_the_embedded_default(tmp_path: Path) -> None:
    """The real command, on SQLite in a data directory: a COD-AB table with
    its default column names loads without a mapping."""
    table = tmp_path / "ly_adm2.csv"
    table.write_text(
        "ADM2_PCODE,ADM2_EN,ADM2_AR,ADM1_PCODE,ADM1_EN,ADM1_AR\n"
        "LY010101,Tripoli,طرابلس,LY0101,West,الغرب\n",
        encoding="utf-8",
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith(("DATABASE_URL", "REDIS_URL"))
    } | {"DATA_DIR": str(tmp_path / "data")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "services.beneficiary", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    assert run("migrate").returncode == 0
    loaded = run("locations-load", str(table), "--country", "LY")
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout.splitlines()[-1])["by_level"] == {
        "governorate": 1,
        "district": 1,
    }
    wrong = run("locations-load", str(table), "--country", "IQ")
    assert wrong.returncode == 1
    assert json.loads(wrong.stdout.splitlines()[-1])["errors"][0]["type"] == "pcode"


async def test_iraq_ships_its_governorates_in_three_languages(
    issue: Any, orgs: dict[str, Org]
) -> None:
    alice = issue(orgs["a"], Role.case_worker)
    governorates = (
        await alice.get(
            "/v1/locations",
            params={"level": "governorate", "lang": "ckb", "limit": 500},
        )
    ).json()["items"]
    # the 18 shipped P-codes (other suites may add places of their own: the
    # location tree is shared reference data, not cleaned between tests)
    shipped = {f"IQG{n:02d}" for n in range(1, 19)}
    iraq = {g["pcode"]: g for g in governorates if g["pcode"] in shipped}
    assert set(iraq) == shipped
    assert iraq["IQG11"]["label"] == "هەولێر"
    assert iraq["IQG11"]["names"]["ar"] == "أربيل"
    assert all(set(g["names"]) == {"en", "ar", "ckb"} for g in iraq.values())
