from __future__ import annotations

import calendar
import csv
import dataclasses
import io
import json
import tracemalloc
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import hxl
import numpy as np
import openpyxl
import pandas
import pytest
import xmlschema
from hypothesis import given
from hypothesis import strategies as st

from services.reporting.exports import formats
from services.reporting.exports.formats import (
    ADX_NAMESPACE,
    ADX_SCHEMA,
    CONTENT_TYPES,
    WRITERS,
    CategoryMapping,
    ExportInfo,
    ExportRow,
    IndicatorMapping,
    NoOrgUnitCode,
    NothingToExport,
    Writer,
    adx_period,
    dhis2_period,
    write_adx,
    write_csv,
    write_dhis2_json,
    write_hxl_csv,
    write_json,
    write_xlsx,
)
from shared.spreadsheet import guard_cell, unguard
from tests.reporting.helpers import cell_time

SEX = CategoryMapping("MHPSS_SEX", {"female": "FMLE", "male": "MLE"})
AGE = CategoryMapping("MHPSS_AGE", {"0_17": "AGE0_17", "18_plus": "AGE18PLUS"})
REACHED = IndicatorMapping(
    indicator_id="reached",
    name="People reached",
    hxl_value_tag="#reached+ind",
    hxl_dim_attributes={
        "sex": {"female": "+f", "male": "+m"},
        "age_group": {"0_17": "+age0_17", "18_plus": "+age18_plus"},
    },
    dhis2_data_element="MHPSS_REACHED",
    dhis2_categories={"sex": SEX, "age_group": AGE},
)
SESSIONS = IndicatorMapping(
    indicator_id="sessions",
    name="Group sessions held",
    hxl_value_tag="#activity+num",
    hxl_dim_attributes={},
    dhis2_data_element="MHPSS_SESSIONS",
    dhis2_categories={},
)
MAPPINGS = {"reached": REACHED, "sessions": SESSIONS}
DIMS = ("sex", "age_group")
EXPORTED = datetime(2026, 11, 22, 5, 25, 11, tzinfo=UTC)
JAN = (date(2021, 1, 1), date(2021, 1, 31))
Q1 = (date(2021, 1, 1), date(2021, 3, 31))
HEADER = [
    "indicator",
    "period_start",
    "period_end",
    "governorate",
    "sex",
    "age_group",
    "value",
    "suppressed",
]


def make_row(
    org_unit: str | None = "IQG09",
    sex: str = "female",
    age: str = "18_plus",
    value: float | None = 12.0,
    *,
    suppressed: bool = False,
    period: tuple[date, date] = JAN,
    indicator: str = "reached",
    labels: dict[str, str] | None = None,
    coded: bool = True,
) -> ExportRow:
    return ExportRow(
        indicator_id=indicator,
        period_start=period[0],
        period_end=period[1],
        org_unit=org_unit,
        dims={"sex": sex, "age_group": age},
        value=value,
        suppressed=suppressed,
        labels=labels or {},
        coded=coded,
    )


ROWS = [
    make_row(),
    make_row(sex="male", value=None, suppressed=True),
    make_row(age="0_17", value=3.5),
    make_row("IQG10", "male", "0_17", 7.0),
    make_row(None, value=40.0, period=Q1),
]


def write(writer: Writer, rows: list[ExportRow], **kwargs: Any) -> tuple[int, bytes]:
    out = io.BytesIO()
    options: dict[str, Any] = {
        "mappings": MAPPINGS,
        "dims": DIMS,
        "place": "governorate",
        "exported_at": EXPORTED,
    }
    count = writer(rows, out, **(options | kwargs))
    return count, out.getvalue()


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def read_sheet(data: bytes) -> list[list[Any]]:
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            assert b"<f>" not in archive.read(name), name
    return [list(row) for row in workbook["data"].iter_rows(values_only=True)]


class TestCsv:
    def test_round_trip(self) -> None:
        count, data = write(write_csv, ROWS)

        assert count == 5
        assert read_csv(data) == [
            HEADER,
            ["reached", "2021-01-01", "2021-01-31", "IQG09", "female", "18_plus"]
            + ["12", "false"],
            ["reached", "2021-01-01", "2021-01-31", "IQG09", "male", "18_plus"]
            + ["", "true"],
            ["reached", "2021-01-01", "2021-01-31", "IQG09", "female", "0_17"]
            + ["3.5", "false"],
            ["reached", "2021-01-01", "2021-01-31", "IQG10", "male", "0_17"]
            + ["7", "false"],
            ["reached", "2021-01-01", "2021-03-31", "", "female", "18_plus"]
            + ["40", "false"],
        ]

    def test_suppressed_value_never_shows(self) -> None:
        _, data = write(write_csv, [make_row(value=4.0, suppressed=True)])

        assert read_csv(data)[1][-2:] == ["", "true"]

    @pytest.mark.parametrize(
        "text",
        ["=cmd|' /C calc'!A0", "+1+2", "-2+3", "@SUM(A1:A9)", "\t=1", "\r=1"],
    )
    def test_formula_injection_is_neutralised(self, text: str) -> None:
        rows = [make_row(org_unit=text, sex=text, value=-3.0)]

        _, data = write(write_csv, rows, dims=["sex"])

        cells = read_csv(data)[1]
        assert cells[3] == cells[4] == guard_cell(text)
        assert cells[3].startswith("'")
        assert unguard(cells[3]) == text
        assert cells[5] == "-3"

    @given(
        texts=st.lists(st.tuples(st.text(), st.text()), min_size=1, max_size=5),
    )
    def test_any_text_round_trips(self, texts: list[tuple[str, str]]) -> None:
        rows = [make_row(org_unit=org, sex=sex) for org, sex in texts]

        _, data = write(write_csv, rows)

        read = [(cells[3], cells[4]) for cells in read_csv(data)[1:]]
        assert read == [(guard_cell(org), guard_cell(sex)) for org, sex in texts]
        assert [(unguard(a), unguard(b)) for a, b in read] == texts

    def test_odd_dimension_name_is_refused(self) -> None:
        with pytest.raises(ValueError, match="value"):
            write(write_csv, ROWS, dims=["sex", "value"])

    def test_non_finite_value_is_refused(self) -> None:
        with pytest.raises(ValueError, match="finite"):
            write(write_csv, [make_row(value=float("nan"))])


def read_hxl(data: bytes) -> hxl.model.Dataset:
    return hxl.data(io.BytesIO(data)).cache()


class TestHxl:
    def test_disaggregations_are_attributes_of_the_value_columns(self) -> None:
        count, data = write(write_hxl_csv, ROWS)

        dataset = read_hxl(data)
        assert count == 5
        assert dataset.display_tags == [
            "#indicator+code",
            "#date+start",
            "#date+end",
            "#adm1+code",
            "#reached+ind+f+age0_17",
            "#reached+ind+f+age18_plus",
            "#reached+ind+m+age0_17",
            "#reached+ind+m+age18_plus",
            "#meta+suppressed",
        ]
        assert dataset.headers[4] == "value sex=female age_group=0_17"
        assert [row.values for row in dataset] == [
            ["reached", "2021-01-01", "2021-01-31", "IQG09", "3.5", "12", "", ""]
            + ["true"],
            ["reached", "2021-01-01", "2021-01-31", "IQG10", "", "", "7", ""]
            + ["false"],
            ["reached", "2021-01-01", "2021-03-31", "", "", "40", "", ""] + ["false"],
        ]
        women = [row.get("#reached+f+age18_plus") for row in dataset]
        assert women == ["12", None, "40"]

    @pytest.mark.parametrize(
        ("place", "tag"),
        [("governorate", "#adm1"), ("district", "#adm2"), ("site", "#loc")],
    )
    def test_the_org_unit_is_tagged_by_its_level(self, place: str, tag: str) -> None:
        row = make_row(labels={place: "Qadia camp"})

        _, data = write(write_hxl_csv, [row], dims=[], place=place, labelled=[place])

        dataset = read_hxl(data)
        assert dataset.display_tags[3:5] == [f"{tag}+code", f"{tag}+name"]
        assert dataset.headers[3:5] == [place, f"{place}_label"]
        assert [row.values[3:5] for row in dataset] == [["IQG09", "Qadia camp"]]

    def test_dims_without_attributes_stay_columns_with_their_labels(self) -> None:
        rows = [
            ExportRow(
                "sessions",
                *JAN,
                None,
                {"organisation": "org-1", "activity": "pfa"},
                2.0,
                False,
                labels={"organisation": "Aid", "activity": "Psychological first aid"},
            )
        ]

        _, data = write(
            write_hxl_csv,
            rows,
            dims=["organisation", "activity"],
            place=None,
            labelled=["organisation", "activity"],
        )

        dataset = read_hxl(data)
        assert dataset.display_tags == [
            "#indicator+code",
            "#date+start",
            "#date+end",
            "#org+code",
            "#org+name",
            "#activity+code",
            "#activity+name",
            "#activity+num",
            "#meta+suppressed",
        ]
        assert [row.values[3:8] for row in dataset] == [
            ["org-1", "Aid", "pfa", "Psychological first aid", "2"]
        ]

    def test_formula_injection_is_neutralised(self) -> None:
        rows = [make_row(org_unit="=HYPERLINK(1)", value=-1.0)]

        _, data = write(write_hxl_csv, rows)

        cells = read_csv(data)[2]
        assert cells[3] == "'=HYPERLINK(1)"
        assert "-1" in cells

    def test_one_value_tag_per_file(self) -> None:
        rows = [*ROWS, make_row(indicator="sessions", value=2.0)]

        with pytest.raises(ValueError, match="export them separately"):
            write(write_hxl_csv, rows)

    def test_no_rows(self) -> None:
        count, data = write(write_hxl_csv, [])

        assert count == 0
        assert read_csv(data)[1][-2] == "#indicator+value+num"

    def test_unmapped_indicator(self) -> None:
        with pytest.raises(ValueError, match="'unknown' has no catalogue mapping"):
            write(write_hxl_csv, [make_row(indicator="unknown")])


ABOUT = ExportInfo(
    indicator_id="reached",
    name="People reached",
    definition="Distinct people served at least once.",
    version=2,
    unit="people",
    start=date(2021, 1, 1),
    end=date(2021, 3, 31),
    monthly=True,
    filters={"sex": ["female", "male"]},
    disaggregations=["governorate", "sex", "age_group"],
    org_unit_level="governorate",
    suppression_threshold=5,
    generated_at=EXPORTED,
    generated_by="api-key:1234",
)


class TestJson:
    def test_round_trip(self) -> None:
        count, data = write(write_json, ROWS)

        document = json.loads(data)
        assert count == 5
        assert document["exported_at"] == "2026-11-22T05:25:11+00:00"
        assert document["rows"][0] == {
            "indicator": "reached",
            "period_start": "2021-01-01",
            "period_end": "2021-01-31",
            "org_unit": "IQG09",
            "dims": {"sex": "female", "age_group": "18_plus"},
            "labels": {},
            "value": 12.0,
            "suppressed": False,
        }
        assert [row["value"] for row in document["rows"]] == [12, None, 3.5, 7, 40]
        assert document["rows"][4]["org_unit"] is None

    def test_labels(self) -> None:
        row = make_row(labels={"governorate": "Duhok"})

        _, data = write(write_json, [row], labelled=["governorate", "sex"])

        assert json.loads(data)["rows"][0]["labels"] == {
            "governorate": "Duhok",
            "sex": None,
        }

    def test_about(self) -> None:
        _, data = write(write_json, ROWS, about=ABOUT)

        assert json.loads(data)["about"] == {
            "indicator_id": "reached",
            "name": "People reached",
            "definition": "Distinct people served at least once.",
            "version": 2,
            "unit": "people",
            "start": "2021-01-01",
            "end": "2021-03-31",
            "monthly": True,
            "filters": {"sex": ["female", "male"]},
            "disaggregations": ["governorate", "sex", "age_group"],
            "org_unit_level": "governorate",
            "suppression_threshold": 5,
            "generated_at": "2026-11-22T05:25:11+00:00",
            "generated_by": "api-key:1234",
            "language": "en",
        }

    def test_no_rows(self) -> None:
        _, data = write(write_json, [])

        assert json.loads(data)["rows"] == []
        assert "about" not in json.loads(data)


class TestXlsx:
    def test_the_data_starts_on_the_second_row_typed(self) -> None:
        count, data = write(write_xlsx, ROWS)

        table = read_sheet(data)
        assert count == 5
        assert table[0] == HEADER
        jan_1, jan_31 = cell_time("2021-01-01"), cell_time("2021-01-31")
        assert table[1:] == [
            ["reached", jan_1, jan_31, "IQG09", "female", "18_plus", 12, False],
            ["reached", jan_1, jan_31, "IQG09", "male", "18_plus", None, True],
            ["reached", jan_1, jan_31, "IQG09", "female", "0_17", 3.5, False],
            ["reached", jan_1, jan_31, "IQG10", "male", "0_17", 7, False],
            ["reached", jan_1, cell_time("2021-03-31"), None, "female", "18_plus"]
            + [40, False],
        ]

    def test_a_header_people_can_use(self) -> None:
        _, data = write(write_xlsx, ROWS)

        sheet = openpyxl.load_workbook(io.BytesIO(data))["data"]
        assert sheet.freeze_panes == "A2"
        assert sheet.auto_filter.ref == "A1:H6"
        assert all(cell.font.b for cell in sheet[1])
        assert {cell.fill.fgColor.rgb for cell in sheet[1]} == {"FFDDEBF7"}
        assert sheet.column_dimensions["A"].width > 20
        assert sheet["B2"].number_format == "yyyy-mm-dd"

    def test_each_code_is_followed_by_its_label(self) -> None:
        row = make_row(labels={"governorate": "Duhok"})

        _, data = write(write_xlsx, [row], labelled=["governorate"])

        frame = pandas.read_excel(io.BytesIO(data), sheet_name="data")
        assert list(frame.columns) == [
            *HEADER[:4],
            "governorate_label",
            *HEADER[4:],
        ]
        assert frame.loc[0, "governorate"] == "IQG09"
        assert frame.loc[0, "governorate_label"] == "Duhok"
        assert frame["period_start"].dtype.kind == "M"
        assert frame["value"].dtype.kind in "if"

    def test_the_about_sheet_says_what_the_file_holds(self) -> None:
        _, data = write(write_xlsx, ROWS, about=ABOUT)

        workbook = openpyxl.load_workbook(io.BytesIO(data))
        assert workbook.sheetnames == ["data", "About"]
        about = dict(workbook["About"].iter_rows(values_only=True))
        assert about == {
            "Indicator": "reached",
            "Name": "People reached",
            "Definition": "Distinct people served at least once.",
            "Version": 2,
            "Unit": "people",
            "Period start": cell_time("2021-01-01"),
            "Period end": cell_time("2021-03-31"),
            "Values per": "calendar month",
            "Filters": "sex = female, male",
            "Disaggregations": "governorate, sex, age_group",
            "Org units": "governorate",
            "Suppression threshold": 5,
            "Suppression applied": "yes",
            "Suppressed cells": 1,
            "Rows": 5,
            "Generated at (UTC)": cell_time("2026-11-22 05:25:11"),
            "Generated by": "api-key:1234",
            "Language of the labels": "en",
            "Columns": "Each code column is followed by <column>_label, its "
            "words in this language; the codes stay the same in every language.",
        }
        assert pandas.read_excel(io.BytesIO(data)).shape == (5, len(HEADER))
        assert not workbook["About"].sheet_view.rightToLeft

    def test_the_about_sheet_is_in_the_export_language(self) -> None:
        arabic = dataclasses.replace(
            ABOUT, language="ar", filters={"sex": ["أنثى", "ذكر"]}
        )
        _, data = write(write_xlsx, ROWS, about=arabic)

        sheet = openpyxl.load_workbook(io.BytesIO(data))["About"]
        about = dict(sheet.iter_rows(values_only=True))
        assert about["المؤشر"] == "reached"
        assert about["القيم لكل"] == "شهر ميلادي"
        assert about["عوامل التصفية"] == "sex = أنثى، ذكر"
        assert about["تم تطبيق الإخفاء"] == "نعم"
        assert about["حد الإخفاء"] == 5
        assert about["تاريخ الإنشاء (UTC)"] == cell_time("2026-11-22 05:25:11")
        assert sheet.sheet_view.rightToLeft
        assert not any(name.isascii() for name in about if "UTC" not in name)

    def test_formula_injection_is_neutralised(self) -> None:
        rows = [make_row(org_unit="=HYPERLINK(1)", sex="@SUM(A1)", value=-1.0)]

        _, data = write(write_xlsx, rows)

        cells = read_sheet(data)[1]
        assert cells[3:5] == ["'=HYPERLINK(1)", "'@SUM(A1)"]
        assert cells[6] == -1

    def test_too_many_rows_writes_nothing(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(formats, "XLSX_MAX_ROWS", 5)
        out = io.BytesIO()

        with pytest.raises(ValueError, match="at most 4 rows"):
            write_xlsx(ROWS, out, mappings=MAPPINGS, dims=DIMS, about=ABOUT)
        assert out.getvalue() == b""


class TestDhis2:
    def test_data_values(self) -> None:
        count, data = write(write_dhis2_json, ROWS)

        document = json.loads(data)
        assert count == 4
        assert document == {
            "dataSet": "MHPSS",
            "dataValues": [
                {
                    "dataElement": "MHPSS_REACHED",
                    "period": "202101",
                    "orgUnit": "IQG09",
                    "categoryOptionCombo": "FMLE_AGE18PLUS",
                    "value": "12",
                },
                {
                    "dataElement": "MHPSS_REACHED",
                    "period": "202101",
                    "orgUnit": "IQG09",
                    "categoryOptionCombo": "FMLE_AGE0_17",
                    "value": "3.5",
                },
                {
                    "dataElement": "MHPSS_REACHED",
                    "period": "202101",
                    "orgUnit": "IQG10",
                    "categoryOptionCombo": "MLE_AGE0_17",
                    "value": "7",
                },
                {
                    "dataElement": "MHPSS_REACHED",
                    "period": "2021Q1",
                    "orgUnit": "MHPSS_PROGRAMME",
                    "categoryOptionCombo": "FMLE_AGE18PLUS",
                    "value": "40",
                },
            ],
        }

    def test_data_set_and_programme_org_unit(self) -> None:
        rows = [make_row(None)]

        _, data = write(
            write_dhis2_json, rows, data_set="DS_MHPSS", programme_org_unit="IQ"
        )

        document = json.loads(data)
        assert document["dataSet"] == "DS_MHPSS"
        assert document["dataValues"][0]["orgUnit"] == "IQ"

    def test_no_categories_uses_the_default_combo(self) -> None:
        row = ExportRow("sessions", *JAN, "IQG09", {}, 2.0, False)

        _, data = write(write_dhis2_json, [row])

        assert json.loads(data)["dataValues"] == [
            {
                "dataElement": "MHPSS_SESSIONS",
                "period": "202101",
                "orgUnit": "IQG09",
                "value": "2",
            }
        ]

    def test_values_are_plain_decimals(self) -> None:
        rows = [make_row(value=v) for v in (1e-7, 1e16, -0.0, 0.1)]

        _, data = write(write_dhis2_json, rows)

        values = [item["value"] for item in json.loads(data)["dataValues"]]
        assert values == ["0.0000001", "10000000000000000", "0", "0.1"]

    @pytest.mark.parametrize(
        ("start", "end", "period"),
        [
            (date(2021, 3, 5), date(2021, 3, 5), "20210305"),
            (date(2020, 2, 1), date(2020, 2, 29), "202002"),
            (date(2021, 12, 1), date(2021, 12, 31), "202112"),
            (date(2021, 10, 1), date(2021, 12, 31), "2021Q4"),
            (date(2021, 4, 1), date(2021, 6, 30), "2021Q2"),
            (date(2021, 1, 1), date(2021, 12, 31), "2021"),
        ],
    )
    def test_periods(self, start: date, end: date, period: str) -> None:
        assert dhis2_period(start, end) == period

    @pytest.mark.parametrize(
        ("start", "end"),
        [
            (date(2021, 1, 4), date(2021, 1, 10)),
            (date(2021, 1, 15), date(2021, 2, 14)),
            (date(2021, 2, 1), date(2021, 3, 31)),
            (date(2021, 2, 1), date(2021, 4, 30)),
            (date(2021, 1, 1), date(2022, 12, 31)),
            (date(2021, 1, 31), date(2021, 1, 1)),
        ],
    )
    def test_odd_period_is_refused(self, start: date, end: date) -> None:
        with pytest.raises(ValueError, match=f"{start}..{end}"):
            write(write_dhis2_json, [make_row(period=(start, end))])

    def test_unmapped_option_is_named(self) -> None:
        with pytest.raises(ValueError, match="sex='other' has no option"):
            write(write_dhis2_json, [make_row(sex="other")])

    def test_missing_dimension_is_named(self) -> None:
        row = ExportRow("reached", *JAN, "IQG09", {"sex": "female"}, 1.0, False)

        with pytest.raises(ValueError, match="needs dimension 'age_group'"):
            write(write_dhis2_json, [row])

    def test_unmapped_dimension_is_named(self) -> None:
        row = ExportRow("sessions", *JAN, "IQG09", {"sex": "female"}, 1.0, False)

        with pytest.raises(ValueError, match="no DHIS2 category for dimension 'sex'"):
            write(write_dhis2_json, [row])


class TestAdx:
    def test_validates_and_groups_runs(self) -> None:
        count, data = write(write_adx, ROWS)

        assert count == 4
        schema = xmlschema.XMLSchema(ADX_SCHEMA)
        schema.validate(data.decode())
        root = ElementTree.fromstring(data)
        assert root.tag == f"{{{ADX_NAMESPACE}}}adx"
        assert root.attrib == {"exported": "2026-11-22T05:25:11+00:00"}
        groups = [
            (
                group.attrib,
                [value.attrib for value in group],
            )
            for group in root
        ]
        jan = {"period": "2021-01-01/P1M", "dataSet": "MHPSS"}
        assert groups == [
            (
                {"orgUnit": "IQG09", **jan},
                [
                    {
                        "dataElement": "MHPSS_REACHED",
                        "value": "12",
                        "MHPSS_SEX": "FMLE",
                        "MHPSS_AGE": "AGE18PLUS",
                    },
                    {
                        "dataElement": "MHPSS_REACHED",
                        "value": "3.5",
                        "MHPSS_SEX": "FMLE",
                        "MHPSS_AGE": "AGE0_17",
                    },
                ],
            ),
            (
                {"orgUnit": "IQG10", **jan},
                [
                    {
                        "dataElement": "MHPSS_REACHED",
                        "value": "7",
                        "MHPSS_SEX": "MLE",
                        "MHPSS_AGE": "AGE0_17",
                    }
                ],
            ),
            (
                {
                    "orgUnit": "MHPSS_PROGRAMME",
                    "period": "2021-01-01/P3M",
                    "dataSet": "MHPSS",
                },
                [
                    {
                        "dataElement": "MHPSS_REACHED",
                        "value": "40",
                        "MHPSS_SEX": "FMLE",
                        "MHPSS_AGE": "AGE18PLUS",
                    }
                ],
            ),
        ]

    def test_missing_org_unit_fails_validation(self) -> None:
        _, data = write(write_adx, ROWS)
        root = ElementTree.fromstring(data)
        del root[1].attrib["orgUnit"]

        schema = xmlschema.XMLSchema(ADX_SCHEMA)
        assert schema.is_valid(ElementTree.tostring(root, encoding="unicode")) is False

    @pytest.mark.parametrize(
        ("document", "valid"),
        [
            ('<group orgUnit="A" period="2021-01-01/P1M" dataSet="D">', True),
            ('<group orgUnit="A" period="2021-01-01/P" dataSet="D">', False),
            ('<group orgUnit="A" period="202101" dataSet="D">', False),
            ('<group orgUnit="A" period="2021-01-01/P1M">', False),
            ('<group orgUnit="A" period="2021-01-01/P1M" dataSet="D" x="1">', True),
        ],
    )
    def test_schema(self, document: str, valid: bool) -> None:
        message = (
            f'<adx xmlns="{ADX_NAMESPACE}" exported="2021-02-01T00:00:00Z">'
            f'{document}<dataValue dataElement="E" value="1" SEX="F"/></group></adx>'
        )

        assert xmlschema.XMLSchema(ADX_SCHEMA).is_valid(message) is valid

    @pytest.mark.parametrize(
        ("start", "end", "period"),
        [
            (date(2021, 3, 5), date(2021, 3, 5), "2021-03-05/P1D"),
            (date(2020, 2, 1), date(2020, 2, 29), "2020-02-01/P1M"),
            (date(2021, 7, 1), date(2021, 9, 30), "2021-07-01/P3M"),
            (date(2021, 1, 1), date(2021, 12, 31), "2021-01-01/P1Y"),
            (date(2021, 1, 4), date(2021, 1, 10), "2021-01-04/P7D"),
            (date(2021, 1, 15), date(2021, 2, 14), "2021-01-15/P31D"),
        ],
    )
    def test_periods(self, start: date, end: date, period: str) -> None:
        assert adx_period(start, end) == period

    def test_suppressed_only_writes_nothing(self) -> None:
        out = io.BytesIO()

        with pytest.raises(NothingToExport):
            write_adx([ROWS[1]], out, mappings=MAPPINGS, dims=DIMS)
        assert out.getvalue() == b""

    def test_text_is_escaped(self) -> None:
        rows = [make_row('A&B "<x>"\n')]

        _, data = write(write_adx, rows)

        assert ElementTree.fromstring(data)[0].attrib["orgUnit"] == 'A&B "<x>"\n'

    def test_category_code_must_be_an_attribute_name(self) -> None:
        bad = IndicatorMapping(
            "bad", "Bad", "#reached", {}, "BAD", {"sex": CategoryMapping("1SEX", {})}
        )
        row = ExportRow("bad", *JAN, "IQG09", {"sex": "female"}, 1.0, False)

        with pytest.raises(ValueError, match="'1SEX' cannot be an ADX attribute"):
            write(write_adx, [row], mappings={"bad": bad})


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_numpy_values(fmt: str) -> None:
    count, data = write(WRITERS[fmt], [make_row(value=np.float64(2.5))])

    assert count == 1
    if fmt != "xlsx":
        assert b"2.5" in data


def test_every_format_has_a_writer_and_content_type() -> None:
    assert WRITERS.keys() == CONTENT_TYPES.keys()
    assert CONTENT_TYPES["adx"] == ("application/adx+xml", "adx.xml")
    assert CONTENT_TYPES["hxl"] == ("text/csv", "hxl.csv")
    assert CONTENT_TYPES["dhis2"] == ("application/json", "dhis2.json")
    extensions = [extension for _, extension in CONTENT_TYPES.values()]
    assert len(set(extensions)) == len(extensions)


def many_rows(count: int) -> Iterator[ExportRow]:
    sexes, ages = ("female", "male"), ("0_17", "18_plus")
    for i in range(count):
        org_unit, month = divmod(i // 1000, 12)
        last_day = calendar.monthrange(2021, month + 1)[1]
        yield ExportRow(
            indicator_id="reached",
            period_start=date(2021, month + 1, 1),
            period_end=date(2021, month + 1, last_day),
            org_unit=f"IQG{org_unit:03d}-{i // 4}",
            dims={"sex": sexes[i % 2], "age_group": ages[i // 2 % 2]},
            value=float(i % 50),
            suppressed=i % 7 == 0,
        )


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_streaming_memory_stays_flat(fmt: str, tmp_path: Path) -> None:
    path = tmp_path / f"export.{CONTENT_TYPES[fmt][1]}"
    # a writer that held them all would pass 3 MB (10,000 rows are about
    # 5 MB); a streaming one peaks under 0.4 MB (xlsx's buffers)
    rows = 10_000

    with path.open("wb") as out:
        tracemalloc.start()
        try:
            before, _ = tracemalloc.get_traced_memory()
            count = WRITERS[fmt](many_rows(rows), out, mappings=MAPPINGS, dims=DIMS)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert count == (rows - len(range(0, rows, 7)) if fmt in {"dhis2", "adx"} else rows)
    # HXL folds the 4 sex and age cells of a place and month into one line
    lines = rows // 4 if fmt == "hxl" else rows
    assert path.stat().st_size > lines * 20
    assert peak - before < 3 * 1024 * 1024


@pytest.mark.parametrize("writer", [write_dhis2_json, write_adx])
def test_a_site_without_a_pcode_is_refused_by_name(writer: Writer) -> None:
    site = "0b9f3c1e-0000-4000-8000-000000000001"
    rows = [make_row(site, labels={"site": "Qadia camp"}, coded=False)]

    with pytest.raises(NoOrgUnitCode, match=f"site 'Qadia camp' \\({site}\\)"):
        write(writer, rows, place="site")


@pytest.mark.parametrize("writer", [write_dhis2_json, write_adx])
def test_an_unknown_org_unit_is_never_sent(writer: Writer) -> None:
    rows = [make_row(), make_row("unknown", coded=False)]

    with pytest.raises(NoOrgUnitCode, match="no known governorate"):
        write(writer, rows)


@pytest.mark.parametrize("writer", [write_dhis2_json, write_adx])
def test_a_suppressed_uncoded_row_is_left_out_like_any_other(writer: Writer) -> None:
    rows = [make_row(), make_row("unknown", suppressed=True, coded=False)]

    count, _ = write(writer, rows)

    assert count == 1
