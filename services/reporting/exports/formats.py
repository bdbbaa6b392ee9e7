"""Streaming writers that turn indicator rows into the integrators' formats.

Every writer reads an iterable of :class:`ExportRow` once and writes to a binary
file object as it goes, so memory stays flat however many rows there are. All
share one keyword signature (see :class:`Writer`) and return how many rows or
data values they wrote. Bad input (a missing catalogue mapping, a period DHIS2
cannot name, a non-finite value) raises ``ValueError``; the part of the file
written before that row should be discarded.

Conventions
-----------
Suppression
    A suppressed row never shows its value: the cell is empty in CSV, HXL and
    XLSX, ``null`` in JSON, and the row is left out of DHIS2 and ADX (neither
    has a "suppressed" value), as is a row with no value.
Spreadsheet cells (CSV, HXL, XLSX)
    A text cell starting with ``=``, ``+``, ``-``, ``@``, tab or CR gets a
    leading ``'`` so spreadsheets do not run it as a formula; in CSV and HXL
    so does every such start after a separator, line break or quote inside
    the cell, and a cell holding one is quoted, so a spreadsheet splitting on
    ``;`` instead of ``,`` finds no formula either (``shared.spreadsheet``).
    Lines end with LF. Numbers, dates and booleans are written as such and
    are never altered.
HXL
    The hashtag row sits directly under the header row. One column per field,
    tagged ``#indicator+code``, ``#date+start``, ``#date+end``, ``#adm1+code``
    (the org unit P-code; empty for the whole programme), ``#meta+<dim>`` for
    each disaggregation in ``dims`` order, the indicator's ``hxl_value_tag``
    for the value and ``#meta+suppressed``. HXL tags are per column, so one
    file carries one value tag: the first row's indicator sets it, and a later
    indicator with another value tag is an error (export those separately).
    An export with no rows tags the value column ``#indicator+value+num``.
    ``hxl_dim_attributes`` (``+f``, ``+adults``...) are for pivoted, one column
    per disaggregation layouts; this long layout keeps dims in their own
    columns and does not use them.
DHIS2 dataValueSets
    Bulk form: ``period`` and ``orgUnit`` on each data value, ``value`` as a
    string. Periods: a day ``yyyyMMdd``, a calendar month ``yyyyMM``, a quarter
    ``yyyyQn``, a year ``yyyy``; any other range is a ``ValueError``.
    ``categoryOptionCombo`` is the row's option codes in the order of the
    indicator's ``dhis2_categories``, joined with ``_`` (``FMLE_AGE18PLUS``);
    the integrator creates combos with these codes and imports with
    ``idScheme=code``. An indicator with no categories gets no
    ``categoryOptionCombo`` (DHIS2 then uses its default combo).
ADX (IHE QRPH, ``urn:ihe:qrph:adx:2015``)
    One ``group`` per run of rows with the same org unit and period (rows come
    sorted by both), each disaggregation an attribute named by its category
    code. Periods are ISO 8601 start/duration: ``P1M``, ``P3M``, ``P1Y`` for
    calendar months, quarters and years, ``P<n>D`` for any other range. A
    message needs at least one data value, so an export with none raises
    :class:`NothingToExport` before writing anything. ``adx.xsd`` next to this
    module is the base message schema.
Org units
    DHIS2 and ADX need one, so a programme-wide row (``org_unit`` None) is sent
    as ``programme_org_unit``; the other formats leave it empty.
Disaggregations (DHIS2, ADX)
    A row must carry a value for every category of its indicator and no
    other dimension, or values would overwrite each other in DHIS2.
"""

from __future__ import annotations

import calendar
import io
import itertools
import math
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from xml.sax.saxutils import quoteattr

import orjson
import xlsxwriter  # type: ignore[import-untyped]

from shared.spreadsheet import Number, guard_leading, write_csv_row

__all__ = [
    "ADX_NAMESPACE",
    "ADX_SCHEMA",
    "CONTENT_TYPES",
    "FILE_RESPONSE",
    "PROGRAMME_ORG_UNIT",
    "WRITERS",
    "CategoryMapping",
    "ExportRow",
    "IndicatorMapping",
    "NothingToExport",
    "Writer",
    "adx_period",
    "dhis2_period",
    "month_end",
    "write_adx",
    "write_csv",
    "write_dhis2_json",
    "write_hxl_csv",
    "write_json",
    "write_xlsx",
]

ADX_NAMESPACE = "urn:ihe:qrph:adx:2015"
ADX_SCHEMA = Path(__file__).with_name("adx.xsd")
PROGRAMME_ORG_UNIT = "MHPSS_PROGRAMME"
HXL_FALLBACK_VALUE_TAG = "#indicator+value+num"
XLSX_MAX_ROWS = 1_048_576

CONTENT_TYPES: dict[str, tuple[str, str]] = {
    "json": ("application/json", "json"),
    "csv": ("text/csv", "csv"),
    "hxl": ("text/csv", "csv"),
    "xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xlsx",
    ),
    "dhis2": ("application/json", "json"),
    "adx": ("application/adx+xml", "xml"),
}
"""Format name -> (media type, file extension)."""
FILE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file, in the media type of its format (JSON, CSV, "
        "HXL-tagged CSV, XLSX, DHIS2 JSON or ADX XML).",
        "content": {
            media: {"schema": {"type": "string", "format": "binary"}}
            for media, _ in sorted(set(CONTENT_TYPES.values()))
        },
    }
}
"""What a download answers, declared so generated clients read it as a file."""


@dataclass(frozen=True, slots=True)
class ExportRow:
    indicator_id: str
    period_start: date
    period_end: date
    """Inclusive."""
    org_unit: str | None
    """A location P-code, or None for the whole programme."""
    dims: Mapping[str, str]
    """Disaggregation name -> value code, e.g. ``{"sex": "female"}``."""
    value: float | None
    suppressed: bool


@dataclass(frozen=True, slots=True)
class CategoryMapping:
    code: str
    """DHIS2/ADX category code; a valid XML name, e.g. ``MHPSS_SEX``."""
    options: Mapping[str, str]
    """Dim value -> category option code, e.g. ``{"female": "FMLE"}``."""


@dataclass(frozen=True, slots=True)
class IndicatorMapping:
    indicator_id: str
    name: str
    hxl_value_tag: str
    """E.g. ``#reached+ind``."""
    hxl_dim_attributes: Mapping[str, Mapping[str, str]]
    """Dim -> value -> HXL attribute(s), for pivoted layouts."""
    dhis2_data_element: str
    """Data element code."""
    dhis2_categories: Mapping[str, CategoryMapping]
    """Dim -> category, in category combo order."""


class NothingToExport(ValueError):
    """The export has no reportable value and the format cannot be empty."""


class Writer(Protocol):
    def __call__(
        self,
        rows: Iterable[ExportRow],
        out: BinaryIO,
        *,
        mappings: Mapping[str, IndicatorMapping],
        dims: Sequence[str],
        data_set: str = "MHPSS",
        exported_at: datetime | None = None,
        programme_org_unit: str = PROGRAMME_ORG_UNIT,
    ) -> int: ...


_BASE_COLUMNS = ("indicator", "period_start", "period_end", "org_unit")
_TAIL_COLUMNS = ("value", "suppressed")
_DIM_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_HXL_TAG = re.compile(r"#[A-Za-z][A-Za-z0-9_]*(\s*\+[A-Za-z][A-Za-z0-9_]*)*")
_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9._-]*")
_XML_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ADX_RESERVED = frozenset({"dataElement", "value", "categoryOptionCombo"})


def _check_dims(dims: Sequence[str]) -> None:
    seen: set[str] = set()
    for dim in dims:
        if not _DIM_NAME.fullmatch(dim):
            raise ValueError(
                f"dimension name {dim!r} must be a letter then letters, digits or _"
            )
        if dim in seen or dim in _BASE_COLUMNS or dim in _TAIL_COLUMNS:
            raise ValueError(f"dimension name {dim!r} repeats a column name")
        seen.add(dim)


def _mapping(
    mappings: Mapping[str, IndicatorMapping], indicator_id: str
) -> IndicatorMapping:
    try:
        return mappings[indicator_id]
    except KeyError:
        raise ValueError(
            f"indicator {indicator_id!r} has no catalogue mapping"
        ) from None


def _reported(row: ExportRow) -> float | None:
    """The row's value unless suppressed or missing; never NaN or infinite."""
    if row.suppressed or row.value is None:
        return None
    value = float(row.value)  # numpy scalars: orjson and repr() want a float
    if not math.isfinite(value):
        raise ValueError(
            f"{row.indicator_id} {row.period_start}..{row.period_end}: "
            f"value {value!r} is not a finite number"
        )
    return value


def _number(value: float) -> str:
    """Plain decimal text, no exponent (``xs:decimal`` and DHIS2 accept it)."""
    if value == 0:
        return "0"
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _exported(exported_at: datetime | None) -> datetime:
    return exported_at if exported_at is not None else datetime.now(UTC)


def month_end(day: date, months_ahead: int = 0) -> date:
    """The last day of the month ``months_ahead`` after ``day``'s, computed
    without going past it (December 9999 has an end; its next month not)."""
    index = day.month - 1 + months_ahead
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, calendar.monthrange(year, month)[1])


def _period_kind(start: date, end: date) -> str:
    if end < start:
        raise ValueError(f"period {start}..{end} ends before it starts")
    if start == end:
        return "day"
    if start.day == 1:
        if end == month_end(start):
            return "month"
        if start.month % 3 == 1 and end == month_end(start, 2):
            return "quarter"
        if start.month == 1 and end == date(start.year, 12, 31):
            return "year"
    return "days"


@lru_cache(maxsize=1024)
def dhis2_period(start: date, end: date) -> str:
    """The DHIS2 period string for an inclusive date range."""
    kind = _period_kind(start, end)
    if kind == "day":
        return f"{start.year:04d}{start.month:02d}{start.day:02d}"
    if kind == "month":
        return f"{start.year:04d}{start.month:02d}"
    if kind == "quarter":
        return f"{start.year:04d}Q{(start.month - 1) // 3 + 1}"
    if kind == "year":
        return f"{start.year:04d}"
    raise ValueError(
        f"DHIS2 has no period for {start}..{end}: "
        "export by day, calendar month, quarter or year"
    )


@lru_cache(maxsize=1024)
def adx_period(start: date, end: date) -> str:
    """The ADX (ISO 8601 start/duration) period for an inclusive date range."""
    kind = _period_kind(start, end)
    duration = {"month": "P1M", "quarter": "P3M", "year": "P1Y"}.get(
        kind, f"P{(end - start).days + 1}D"
    )
    return f"{start.isoformat()}/{duration}"


def _options(row: ExportRow, mapping: IndicatorMapping) -> list[tuple[str, str]]:
    """(category code, option code) for each of the indicator's categories."""
    categories = mapping.dhis2_categories
    for dim in row.dims:
        if dim not in categories:
            raise ValueError(
                f"indicator {row.indicator_id!r} has no DHIS2 category for "
                f"dimension {dim!r}"
            )
    pairs = []
    for dim, category in categories.items():
        if dim not in row.dims:
            raise ValueError(
                f"indicator {row.indicator_id!r} needs dimension {dim!r} "
                f"(category {category.code})"
            )
        value = row.dims[dim]
        try:
            pairs.append((category.code, category.options[value]))
        except KeyError:
            raise ValueError(
                f"{dim}={value!r} has no option in category {category.code} "
                f"(indicator {row.indicator_id!r})"
            ) from None
    return pairs


def _text_columns(dims: Sequence[str]) -> list[str]:
    return [*_BASE_COLUMNS, *dims, *_TAIL_COLUMNS]


def _hxl_tags(dims: Sequence[str], value_tag: str) -> list[str]:
    return [
        "#indicator+code",
        "#date+start",
        "#date+end",
        "#adm1+code",
        *(f"#meta+{dim.lower()}" for dim in dims),
        value_tag,
        "#meta+suppressed",
    ]


def _hxl_value_tag(mapping: IndicatorMapping) -> str:
    tag = mapping.hxl_value_tag
    if not _HXL_TAG.fullmatch(tag):
        raise ValueError(
            f"indicator {mapping.indicator_id!r}: {tag!r} is not an HXL hashtag"
        )
    return tag


def _value_tagger(
    rows: Iterable[ExportRow], mappings: Mapping[str, IndicatorMapping]
) -> tuple[str, Iterator[ExportRow]]:
    """The file's HXL value tag (from the first row) and rows checked against it."""
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return HXL_FALLBACK_VALUE_TAG, iterator
    tag = _hxl_value_tag(_mapping(mappings, first.indicator_id))

    def checked() -> Iterator[ExportRow]:
        agreed = {first.indicator_id}
        for row in itertools.chain((first,), iterator):
            if row.indicator_id not in agreed:
                other = _hxl_value_tag(_mapping(mappings, row.indicator_id))
                if other != tag:
                    raise ValueError(
                        f"indicator {row.indicator_id!r} is tagged {other} but the "
                        f"value column is {tag}: export them separately"
                    )
                agreed.add(row.indicator_id)
            yield row

    return tag, checked()


def _csv_cells(row: ExportRow, dims: Sequence[str]) -> list[str]:
    value = _reported(row)
    return [
        row.indicator_id,
        row.period_start.isoformat(),
        row.period_end.isoformat(),
        row.org_unit or "",
        *(row.dims.get(dim, "") for dim in dims),
        "" if value is None else Number(_number(value)),
        "true" if row.suppressed else "false",
    ]


def _write_delimited(
    rows: Iterable[ExportRow],
    out: BinaryIO,
    dims: Sequence[str],
    tags: Callable[[], list[str]] | None,
) -> int:
    text = io.TextIOWrapper(out, encoding="utf-8", newline="")
    try:
        write_csv_row(text, _text_columns(dims))
        if tags is not None:
            write_csv_row(text, tags())
        count = 0
        for row in rows:
            write_csv_row(text, _csv_cells(row, dims))
            count += 1
        return count
    finally:
        text.flush()
        text.detach()


def write_csv(
    rows: Iterable[ExportRow],
    out: BinaryIO,
    *,
    mappings: Mapping[str, IndicatorMapping],
    dims: Sequence[str],
    data_set: str = "MHPSS",
    exported_at: datetime | None = None,
    programme_org_unit: str = PROGRAMME_ORG_UNIT,
) -> int:
    """UTF-8 CSV: a header row, then one line per row."""
    _check_dims(dims)
    return _write_delimited(rows, out, dims, None)


def write_hxl_csv(
    rows: Iterable[ExportRow],
    out: BinaryIO,
    *,
    mappings: Mapping[str, IndicatorMapping],
    dims: Sequence[str],
    data_set: str = "MHPSS",
    exported_at: datetime | None = None,
    programme_org_unit: str = PROGRAMME_ORG_UNIT,
) -> int:
    """The CSV with the HXL hashtag row under its header, for HDX and HXL tools."""
    _check_dims(dims)
    value_tag, checked = _value_tagger(rows, mappings)
    return _write_delimited(checked, out, dims, lambda: _hxl_tags(dims, value_tag))


def write_json(
    rows: Iterable[ExportRow],
    out: BinaryIO,
    *,
    mappings: Mapping[str, IndicatorMapping],
    dims: Sequence[str],
    data_set: str = "MHPSS",
    exported_at: datetime | None = None,
    programme_org_unit: str = PROGRAMME_ORG_UNIT,
) -> int:
    """``{"exported_at": ..., "rows": [...]}``, each row with its dims nested."""
    _check_dims(dims)
    exported = orjson.dumps(_exported(exported_at).isoformat(timespec="seconds"))
    out.write(b'{"exported_at":' + exported + b',"rows":[')
    count = 0
    for row in rows:
        item = {
            "indicator": row.indicator_id,
            "period_start": row.period_start.isoformat(),
            "period_end": row.period_end.isoformat(),
            "org_unit": row.org_unit,
            "dims": {dim: row.dims.get(dim) for dim in dims},
            "value": _reported(row),
            "suppressed": row.suppressed,
        }
        out.write((b",\n" if count else b"\n") + orjson.dumps(item))
        count += 1
    out.write(b"\n]}\n")
    return count


def write_xlsx(
    rows: Iterable[ExportRow],
    out: BinaryIO,
    *,
    mappings: Mapping[str, IndicatorMapping],
    dims: Sequence[str],
    data_set: str = "MHPSS",
    exported_at: datetime | None = None,
    programme_org_unit: str = PROGRAMME_ORG_UNIT,
) -> int:
    """One sheet: header row, HXL hashtag row, then rows; dates and numbers typed.

    Nothing reaches ``out`` until every row is written (xlsxwriter spools rows
    to a temporary file), so a failure leaves ``out`` untouched.
    """
    _check_dims(dims)
    value_tag, checked = _value_tagger(rows, mappings)
    max_rows = XLSX_MAX_ROWS - 2
    with tempfile.TemporaryDirectory(prefix="xlsx-export-") as tmpdir:
        workbook = xlsxwriter.Workbook(
            out,
            {
                "constant_memory": True,
                "tmpdir": tmpdir,
                "strings_to_numbers": False,
                "strings_to_formulas": False,
                "strings_to_urls": False,
            },
        )
        workbook.set_properties({"created": _exported(exported_at)})
        sheet = workbook.add_worksheet("indicators")
        date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
        try:
            for col, name in enumerate(_text_columns(dims)):
                sheet.write_string(0, col, guard_leading(name))
            for col, tag in enumerate(_hxl_tags(dims, value_tag)):
                sheet.write_string(1, col, tag)
            count = 0
            value_col = len(_BASE_COLUMNS) + len(dims)
            for row in checked:
                if count == max_rows:
                    raise ValueError(
                        f"XLSX holds at most {max_rows} rows: export CSV instead"
                    )
                line = count + 2
                sheet.write_string(line, 0, guard_leading(row.indicator_id))
                sheet.write_datetime(line, 1, row.period_start, date_format)
                sheet.write_datetime(line, 2, row.period_end, date_format)
                if row.org_unit:
                    sheet.write_string(line, 3, guard_leading(row.org_unit))
                for col, dim in enumerate(dims, start=len(_BASE_COLUMNS)):
                    dim_value = row.dims.get(dim)
                    if dim_value:
                        sheet.write_string(line, col, guard_leading(dim_value))
                value = _reported(row)
                if value is not None:
                    sheet.write_number(line, value_col, value)
                sheet.write_boolean(line, value_col + 1, row.suppressed)
                count += 1
        except BaseException:
            if sheet.row_data_fh is not None:
                sheet.row_data_fh.close()
            raise
        workbook.close()
    return count


def write_dhis2_json(
    rows: Iterable[ExportRow],
    out: BinaryIO,
    *,
    mappings: Mapping[str, IndicatorMapping],
    dims: Sequence[str],
    data_set: str = "MHPSS",
    exported_at: datetime | None = None,
    programme_org_unit: str = PROGRAMME_ORG_UNIT,
) -> int:
    """A DHIS2 dataValueSets body (bulk form); returns the data values written."""
    out.write(b'{"dataSet":' + orjson.dumps(data_set) + b',"dataValues":[')
    count = 0
    for row in rows:
        value = _reported(row)
        if value is None:
            continue
        mapping = _mapping(mappings, row.indicator_id)
        item = {
            "dataElement": mapping.dhis2_data_element,
            "period": dhis2_period(row.period_start, row.period_end),
            "orgUnit": row.org_unit or programme_org_unit,
        }
        options = _options(row, mapping)
        if options:
            item["categoryOptionCombo"] = "_".join(code for _, code in options)
        item["value"] = _number(value)
        out.write((b",\n" if count else b"\n") + orjson.dumps(item))
        count += 1
    out.write(b"\n]}\n")
    return count


def _xml_attr(name: str, value: str) -> str:
    if _XML_ILLEGAL.search(value):
        raise ValueError(f"{name}={value!r} holds a character XML cannot carry")
    return f" {name}={quoteattr(value)}"


def _check_adx_mapping(mapping: IndicatorMapping) -> None:
    codes = [category.code for category in mapping.dhis2_categories.values()]
    for code in codes:
        if (
            not _XML_NAME.fullmatch(code)
            or code in _ADX_RESERVED
            or code.lower().startswith("xml")
        ):
            raise ValueError(
                f"indicator {mapping.indicator_id!r}: category code {code!r} "
                "cannot be an ADX attribute name"
            )
    if len(set(codes)) != len(codes):
        raise ValueError(
            f"indicator {mapping.indicator_id!r} maps two dimensions to one category"
        )


def write_adx(
    rows: Iterable[ExportRow],
    out: BinaryIO,
    *,
    mappings: Mapping[str, IndicatorMapping],
    dims: Sequence[str],
    data_set: str = "MHPSS",
    exported_at: datetime | None = None,
    programme_org_unit: str = PROGRAMME_ORG_UNIT,
) -> int:
    """An ADX message; returns the data values written.

    Raises :class:`NothingToExport`, having written nothing, when no row has a
    reportable value.
    """
    exported = _exported(exported_at).isoformat(timespec="seconds")
    checked: set[str] = set()
    group: tuple[str, str] | None = None
    count = 0
    for row in rows:
        value = _reported(row)
        if value is None:
            continue
        mapping = _mapping(mappings, row.indicator_id)
        if row.indicator_id not in checked:
            _check_adx_mapping(mapping)
            checked.add(row.indicator_id)
        options = _options(row, mapping)
        key = (
            row.org_unit or programme_org_unit,
            adx_period(row.period_start, row.period_end),
        )
        parts = []
        if group is None:
            parts.append(
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                f"<adx{_xml_attr('xmlns', ADX_NAMESPACE)}"
                f"{_xml_attr('exported', exported)}>\n"
            )
        if key != group:
            if group is not None:
                parts.append("  </group>\n")
            parts.append(
                f"  <group{_xml_attr('orgUnit', key[0])}"
                f"{_xml_attr('period', key[1])}{_xml_attr('dataSet', data_set)}>\n"
            )
            group = key
        parts.append(
            f"    <dataValue{_xml_attr('dataElement', mapping.dhis2_data_element)}"
            f' value="{_number(value)}"'
        )
        parts.extend(_xml_attr(code, option) for code, option in options)
        parts.append("/>\n")
        out.write("".join(parts).encode())
        count += 1
    if group is None:
        raise NothingToExport("no reportable value: an ADX message needs at least one")
    out.write(b"  </group>\n</adx>\n")
    return count


WRITERS: dict[str, Writer] = {
    "json": write_json,
    "csv": write_csv,
    "hxl": write_hxl_csv,
    "xlsx": write_xlsx,
    "dhis2": write_dhis2_json,
    "adx": write_adx,
}
"""Format name (the keys of :data:`CONTENT_TYPES`) -> writer."""
