"""Streaming writers that turn indicator rows into the integrators' formats.

Every writer reads an iterable of :class:`ExportRow` once and writes to a binary
file object as it goes, so memory stays flat however many rows there are. All
share one keyword signature (see :class:`Writer`) and return how many rows or
data values they wrote. Bad input (a missing catalogue mapping, a period DHIS2
cannot name, a non-finite value) raises ``ValueError``; the part of the file
written before that row should be discarded.

Conventions
-----------
Columns (CSV, XLSX, HXL)
    ``indicator``, ``period_start``, ``period_end``; the org unit, named after
    its level (``governorate``, ``district`` or ``site``: the ``place``
    keyword) when one was asked, none for the whole programme; each
    disaggregation in ``dims`` order; then ``value`` and ``suppressed``. A
    code column in ``labelled`` (exports label every one) is followed by
    ``<name>_label``, its words in the export's language. Labels come from
    the rows; a writer never makes one up. Headers and codes are the same in
    every language.
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
XLSX
    Sheet "data": the header row (bold, filled, frozen, with a filter), then
    the rows from row 2, so pandas and pivot tables read row 1 as the header
    and nothing else as anything but data. Given ``about``, a sheet "About"
    says what the file holds (:class:`ExportInfo`), in its language (right
    to left for Arabic and Kurdish).
HXL
    Its own format: the header row, the hashtag row, then the data. The org
    unit is tagged by its level (``#adm1``, ``#adm2``, ``#loc``; ``+code``
    the P-code or id, ``+name`` its name). Disaggregations with HXL
    attributes (the indicator's ``hxl_dim_attributes``: sex ``+f``/``+m``,
    age ``+children+age0_17``, ``+adults+age18_59``...) become a value column
    per combination, tagged with the indicator's ``hxl_value_tag`` and their
    attributes (``#reached+ind+f+adults+age18_59``), so a line holds one org
    unit and period;
    the other disaggregations stay columns (``#org``, ``#activity``,
    ``#meta+<dim>``, each ``+code`` and ``+name``). ``#meta+suppressed`` is
    true when a value on the line is suppressed. HXL tags are per column, so
    one file carries one value tag: the first row's indicator sets it, and a
    later indicator with another value tag is an error (export those
    separately). An export with no rows tags the value column
    ``#indicator+value+num``.
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
    as ``programme_org_unit``; the other formats leave it empty. A value whose
    org unit is no code an HMIS knows (``coded`` false: a site without a
    P-code, ``unknown``) raises :class:`NoOrgUnitCode` naming it: it is never
    sent as an org unit.
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
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from xml.sax.saxutils import quoteattr

import orjson
import xlsxwriter  # type: ignore[import-untyped]

from shared.i18n import Language
from shared.spreadsheet import Number, guard_leading, write_csv_row

__all__ = [
    "ADX_NAMESPACE",
    "ADX_SCHEMA",
    "CONTENT_TYPES",
    "FILE_RESPONSE",
    "ORG_UNIT_TAGS",
    "PROGRAMME_ORG_UNIT",
    "WRITERS",
    "CategoryMapping",
    "ExportInfo",
    "ExportRow",
    "IndicatorMapping",
    "NoOrgUnitCode",
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
    "hxl": ("text/csv", "hxl.csv"),
    "xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xlsx",
    ),
    "dhis2": ("application/json", "dhis2.json"),
    "adx": ("application/adx+xml", "adx.xml"),
}
"""Format name -> (media type, file extension); each format's extension is
its own, so two downloads of one export never share a file name."""
FILE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file, in the media type of its format (JSON, CSV, "
        "HXL-tagged CSV, XLSX, DHIS2 JSON or ADX XML).",
        "content": {
            media: {"schema": {"type": "string", "format": "binary"}}
            for media in (
                "application/octet-stream",
                *sorted({media for media, _ in CONTENT_TYPES.values()}),
            )
        },
    }
}
"""What a download answers, declared so generated clients read it as a file:
``application/octet-stream`` first, since generators take the first media
type they know and would parse a CSV or XLSX declared after JSON as JSON."""


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
    labels: Mapping[str, str] = field(default_factory=dict)
    """Column (a dim, or the org unit's level) -> readable name of its value,
    where a source of names exists (places, organisations, layers,
    activities)."""
    coded: bool = True
    """Whether ``org_unit`` is a code an HMIS knows (a P-code), not a site's
    id or ``unknown``: DHIS2 and ADX refuse a value whose org unit is not."""


@dataclass(frozen=True, slots=True)
class ExportInfo:
    """What a file holds, for people: the XLSX "About" sheet, JSON's ``about``."""

    indicator_id: str
    name: str
    definition: str
    version: int
    unit: str
    start: date
    end: date
    monthly: bool
    filters: Mapping[str, Sequence[str]]
    """Filter -> the words for its values, in ``language``."""
    disaggregations: Sequence[str]
    org_unit_level: str | None
    suppression_threshold: int | None
    """None: not suppressed."""
    generated_at: datetime
    generated_by: str
    """The requester's subject (``api-key:<id>`` for a key); nothing more."""
    language: str = "en"
    """The language of the labels and of the About sheet (``en``, ``ar``,
    ``ckb``); the name and definition come in it too."""


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


class NoOrgUnitCode(ValueError):
    """A value's org unit has no code an HMIS knows (a site without a P-code,
    or ``unknown``): DHIS2 and ADX cannot take it."""


class Writer(Protocol):
    def __call__(
        self,
        rows: Iterable[ExportRow],
        out: BinaryIO,
        *,
        mappings: Mapping[str, IndicatorMapping],
        dims: Sequence[str],
        place: str | None = None,
        labelled: Collection[str] = (),
        about: ExportInfo | None = None,
        data_set: str = "MHPSS",
        exported_at: datetime | None = None,
        programme_org_unit: str = PROGRAMME_ORG_UNIT,
    ) -> int: ...


ORG_UNIT_TAGS = {"governorate": "#adm1", "district": "#adm2", "site": "#loc"}
"""Org unit level -> its HXL hashtag (``+code`` the P-code, ``+name`` the name)."""
_HXL_DIM_TAGS = {
    "organisation": "#org",
    "lead_organisation": "#org+lead",
    "activity": "#activity",
}
_DIM_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_HXL_TAG = re.compile(r"#[A-Za-z][A-Za-z0-9_]*(\s*\+[A-Za-z][A-Za-z0-9_]*)*")
_HXL_ATTRIBUTES = re.compile(r"(\+[a-z][a-z0-9_]*)+")
_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9._-]*")
_XML_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ADX_RESERVED = frozenset({"dataElement", "value", "categoryOptionCombo"})


@dataclass(frozen=True, slots=True)
class _Column:
    name: str
    kind: str
    """indicator, start, end, org_unit, dim, label, value or suppressed."""
    key: str = ""
    """The dim (or org unit level) a dim or label column is about."""


def _columns(
    dims: Sequence[str], place: str | None, labelled: Collection[str]
) -> list[_Column]:
    """The long layout's columns, each code followed by its label where one
    exists; checks the names."""
    for dim in dims:
        if not _DIM_NAME.fullmatch(dim):
            raise ValueError(
                f"dimension name {dim!r} must be a letter then letters, digits or _"
            )
    if place is not None and place not in ORG_UNIT_TAGS:
        raise ValueError(f"org unit level {place!r} is not one of {ORG_UNIT_TAGS}")
    columns = [
        _Column("indicator", "indicator"),
        _Column("period_start", "start"),
        _Column("period_end", "end"),
    ]
    keys = [(place, "org_unit")] if place is not None else []
    for key, kind in [*keys, *((dim, "dim") for dim in dims)]:
        columns.append(_Column(key, kind, key))
        if key in labelled:
            columns.append(_Column(f"{key}_label", "label", key))
    columns += [_Column("value", "value"), _Column("suppressed", "suppressed")]
    names = [column.name for column in columns]
    for name in names:
        if names.count(name) > 1:
            raise ValueError(f"dimension name {name!r} repeats a column name")
    return columns


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


def _org_unit_code(row: ExportRow, place: str | None, programme: str) -> str:
    """The org unit DHIS2 and ADX get: a P-code, or the programme's unit."""
    if row.org_unit is None:
        return programme
    if not row.coded:
        level = place or "org unit"
        name = row.labels.get(place or "")
        which = f"{name!r} ({row.org_unit})" if name else repr(row.org_unit)
        raise NoOrgUnitCode(
            f"{level} {which} has no P-code, and DHIS2 and ADX need an org unit "
            f"code: give the {level} a P-code, or export without by={level}"
            if row.org_unit != "unknown"
            else f"some values have no known {level}, and DHIS2 and ADX need an "
            f"org unit code: export without by={level}, or filter by {level}"
        )
    return row.org_unit


def _hxl_value_tag(mapping: IndicatorMapping) -> str:
    tag = mapping.hxl_value_tag
    if not _HXL_TAG.fullmatch(tag):
        raise ValueError(
            f"indicator {mapping.indicator_id!r}: {tag!r} is not an HXL hashtag"
        )
    return tag


def _first_mapping(
    rows: Iterable[ExportRow], mappings: Mapping[str, IndicatorMapping]
) -> tuple[IndicatorMapping | None, Iterator[ExportRow]]:
    """The first row's indicator mapping (it sets the HXL value column) and
    rows checked to share its value tag."""
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return None, iterator
    mapping = _mapping(mappings, first.indicator_id)
    tag = _hxl_value_tag(mapping)

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

    return mapping, checked()


def _cell(row: ExportRow, column: _Column) -> Any:
    """A column's cell of a row, typed (dates, float or None, bool, text)."""
    kind = column.kind
    if kind == "indicator":
        return row.indicator_id
    if kind == "start":
        return row.period_start
    if kind == "end":
        return row.period_end
    if kind == "org_unit":
        return row.org_unit or ""
    if kind == "dim":
        return row.dims.get(column.key, "")
    if kind == "label":
        return row.labels.get(column.key, "")
    if kind == "value":
        return _reported(row)
    return row.suppressed


def _csv_text(cell: Any) -> str:
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, date):
        return cell.isoformat()
    if isinstance(cell, float):
        return Number(_number(cell))
    return "" if cell is None else str(cell)


def _write_lines(out: BinaryIO, lines: Iterable[Sequence[str]]) -> None:
    text = io.TextIOWrapper(out, encoding="utf-8", newline="")
    try:
        for line in lines:
            write_csv_row(text, line)
    finally:
        text.flush()
        text.detach()


def write_csv(
    rows: Iterable[ExportRow],
    out: BinaryIO,
    *,
    mappings: Mapping[str, IndicatorMapping],
    dims: Sequence[str],
    place: str | None = None,
    labelled: Collection[str] = (),
    about: ExportInfo | None = None,
    data_set: str = "MHPSS",
    exported_at: datetime | None = None,
    programme_org_unit: str = PROGRAMME_ORG_UNIT,
) -> int:
    """UTF-8 CSV: a header row, then one line per row, each code column
    followed by its label where one exists."""
    columns = _columns(dims, place, labelled)
    count = 0

    def lines() -> Iterator[list[str]]:
        nonlocal count
        yield [column.name for column in columns]
        for row in rows:
            yield [_csv_text(_cell(row, column)) for column in columns]
            count += 1

    _write_lines(out, lines())
    return count


@dataclass(frozen=True, slots=True)
class _HxlLayout:
    """The HXL file's columns: keys (long), then one value column per
    combination of the disaggregations HXL has attributes for."""

    keys: list[tuple[_Column, str]]
    pivoted: list[str]
    values: list[tuple[tuple[str, ...], str, str]]
    """(dim values, header, hashtag) of each value column."""

    @classmethod
    def of(
        cls,
        mapping: IndicatorMapping | None,
        dims: Sequence[str],
        place: str | None,
        labelled: Collection[str],
    ) -> _HxlLayout:
        columns = _columns(dims, place, labelled)
        attributes = mapping.hxl_dim_attributes if mapping is not None else {}
        pivoted = [dim for dim in dims if attributes.get(dim)]
        keys: list[tuple[_Column, str]] = []
        for column in columns:
            if column.key in pivoted or column.kind in ("value", "suppressed"):
                continue
            keys.append((column, _hxl_key_tag(column)))
        value_tag = (
            _hxl_value_tag(mapping) if mapping is not None else HXL_FALLBACK_VALUE_TAG
        )
        values = []
        seen: set[str] = set()
        for combination in itertools.product(
            *(list(attributes[dim].items()) for dim in pivoted)
        ):
            codes = tuple(code for code, _ in combination)
            for _, attribute in combination:
                if not _HXL_ATTRIBUTES.fullmatch(attribute):
                    raise ValueError(f"{attribute!r} is not a list of HXL attributes")
            tag = value_tag + "".join(attribute for _, attribute in combination)
            if tag in seen:
                raise ValueError(f"two value columns would both be tagged {tag}")
            seen.add(tag)
            header = " ".join(
                ["value", *(f"{d}={c}" for d, c in zip(pivoted, codes, strict=True))]
            )
            values.append((codes, header, tag))
        return cls(keys, pivoted, values)

    def header(self) -> list[str]:
        return [
            *(column.name for column, _ in self.keys),
            *(header for _, header, _ in self.values),
            "suppressed",
        ]

    def tags(self) -> list[str]:
        return [
            *(tag for _, tag in self.keys),
            *(tag for _, _, tag in self.values),
            "#meta+suppressed",
        ]


def _hxl_key_tag(column: _Column) -> str:
    fixed = {
        "indicator": "#indicator+code",
        "start": "#date+start",
        "end": "#date+end",
    }
    if column.kind in fixed:
        return fixed[column.kind]
    if column.kind == "org_unit" or (
        column.kind == "label" and column.key in ORG_UNIT_TAGS
    ):
        base = ORG_UNIT_TAGS[column.key]
    else:
        base = _HXL_DIM_TAGS.get(column.key, f"#meta+{column.key.lower()}")
    return base + ("+name" if column.kind == "label" else "+code")


def write_hxl_csv(
    rows: Iterable[ExportRow],
    out: BinaryIO,
    *,
    mappings: Mapping[str, IndicatorMapping],
    dims: Sequence[str],
    place: str | None = None,
    labelled: Collection[str] = (),
    about: ExportInfo | None = None,
    data_set: str = "MHPSS",
    exported_at: datetime | None = None,
    programme_org_unit: str = PROGRAMME_ORG_UNIT,
) -> int:
    """HXL-tagged CSV for HDX and HXL tools: the header row, the hashtag row,
    then a line per org unit, period and undisaggregated-by-HXL dims, with a
    value column per combination of the dims HXL has attributes for
    (``#reached+ind+f+age18_plus``). Returns the rows (values) written.

    Rows come sorted by org unit and period (as ADX needs); a line holds the
    rows of one run of those.
    """
    mapping, checked = _first_mapping(rows, mappings)
    layout = _HxlLayout.of(mapping, dims, place, labelled)
    index = {codes: i for i, (codes, _, _) in enumerate(layout.values)}
    count = 0

    def line_of(row: ExportRow) -> tuple[str, ...]:
        return tuple(_csv_text(_cell(row, column)) for column, _ in layout.keys)

    def flush(run: dict[tuple[str, ...], list[Any]]) -> Iterator[list[str]]:
        for key, (values, suppressed) in run.items():
            yield [*key, *map(_csv_text, values), _csv_text(suppressed)]

    def lines() -> Iterator[list[str]]:
        nonlocal count
        yield layout.header()
        yield layout.tags()
        run: dict[tuple[str, ...], list[Any]] = {}
        group: tuple[Any, ...] | None = None
        for row in checked:
            at = (row.indicator_id, row.org_unit, row.period_start, row.period_end)
            if at != group:
                yield from flush(run)
                run, group = {}, at
            codes = tuple(row.dims.get(dim, "") for dim in layout.pivoted)
            if codes not in index:
                raise ValueError(
                    f"{dict(zip(layout.pivoted, codes, strict=True))} has no HXL "
                    f"value column (indicator {row.indicator_id!r})"
                )
            entry = run.setdefault(line_of(row), [[None] * len(index), False])
            entry[0][index[codes]] = _reported(row)
            entry[1] = entry[1] or row.suppressed
            count += 1
        yield from flush(run)

    _write_lines(out, lines())
    return count


def _about_items(
    about: ExportInfo, *, rows: int, suppressed: int
) -> list[tuple[str, Any]]:
    """The "About" sheet's lines, in the export's language: what the file
    holds, for whoever opens it."""
    words = Language(about.language)

    def t(key: str) -> str:
        return words.text(f"export.about.{key}")

    threshold = about.suppression_threshold
    filters = "; ".join(
        f"{name} = {words.join(values)}" for name, values in about.filters.items()
    )
    return [
        (t("indicator"), about.indicator_id),
        (t("name"), about.name),
        (t("definition"), about.definition),
        (t("version"), about.version),
        (t("unit"), about.unit),
        (t("period_start"), about.start),
        (t("period_end"), about.end),
        (t("values_per"), t("per_month") if about.monthly else t("per_period")),
        (t("filters"), filters or t("none")),
        (t("disaggregations"), ", ".join(about.disaggregations) or t("none")),
        (t("org_units"), about.org_unit_level or t("whole_programme")),
        (t("threshold"), threshold if threshold is not None else t("not_applied")),
        (
            t("suppression_applied"),
            words.text("export.yes" if threshold is not None else "export.no"),
        ),
        (t("suppressed_cells"), suppressed),
        (t("rows"), rows),
        (t("generated_at"), about.generated_at.astimezone(UTC).replace(tzinfo=None)),
        (t("generated_by"), about.generated_by),
        (t("language"), about.language),
        (t("columns"), t("columns_note")),
    ]


_XLSX_WIDTHS = {
    "indicator": 28,
    "start": 12,
    "end": 12,
    "org_unit": 16,
    "dim": 18,
    "label": 36,
    "value": 12,
    "suppressed": 12,
}


def write_json(
    rows: Iterable[ExportRow],
    out: BinaryIO,
    *,
    mappings: Mapping[str, IndicatorMapping],
    dims: Sequence[str],
    place: str | None = None,
    labelled: Collection[str] = (),
    about: ExportInfo | None = None,
    data_set: str = "MHPSS",
    exported_at: datetime | None = None,
    programme_org_unit: str = PROGRAMME_ORG_UNIT,
) -> int:
    """``{"exported_at": ..., "about": ..., "rows": [...]}``, each row with its
    dims and their labels nested; ``about`` (:class:`ExportInfo`) when given."""
    _columns(dims, place, labelled)
    exported = orjson.dumps(_exported(exported_at).isoformat(timespec="seconds"))
    out.write(b'{"exported_at":' + exported)
    if about is not None:
        out.write(b',"about":' + orjson.dumps(about))
    out.write(b',"rows":[')
    count = 0
    for row in rows:
        item = {
            "indicator": row.indicator_id,
            "period_start": row.period_start.isoformat(),
            "period_end": row.period_end.isoformat(),
            "org_unit": row.org_unit,
            "dims": {dim: row.dims.get(dim) for dim in dims},
            "labels": {key: row.labels.get(key) for key in labelled},
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
    place: str | None = None,
    labelled: Collection[str] = (),
    about: ExportInfo | None = None,
    data_set: str = "MHPSS",
    exported_at: datetime | None = None,
    programme_org_unit: str = PROGRAMME_ORG_UNIT,
) -> int:
    """A "data" sheet (a styled, frozen, filtered header row, then a row per
    row from row 2, dates and numbers typed, each code followed by its label)
    and, given ``about``, an "About" sheet saying what the file holds.

    Nothing reaches ``out`` until every row is written (xlsxwriter spools rows
    to a temporary file), so a failure leaves ``out`` untouched.
    """
    columns = _columns(dims, place, labelled)
    max_rows = XLSX_MAX_ROWS - 1
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
        sheet = workbook.add_worksheet("data")
        about_sheet = workbook.add_worksheet("About") if about is not None else None
        header = workbook.add_format(
            {"bold": True, "bg_color": "#DDEBF7", "bottom": 1, "text_wrap": True}
        )
        date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
        sheets = [sheet] if about_sheet is None else [sheet, about_sheet]
        try:
            for col, column in enumerate(columns):
                sheet.set_column(col, col, _XLSX_WIDTHS[column.kind])
                sheet.write_string(0, col, guard_leading(column.name), header)
            sheet.freeze_panes(1, 0)
            count = suppressed = 0
            for row in rows:
                if count == max_rows:
                    raise ValueError(
                        f"XLSX holds at most {max_rows} rows: export CSV instead"
                    )
                line = count + 1
                for col, column in enumerate(columns):
                    cell = _cell(row, column)
                    if isinstance(cell, bool):
                        sheet.write_boolean(line, col, cell)
                    elif isinstance(cell, date):
                        sheet.write_datetime(line, col, cell, date_format)
                    elif isinstance(cell, float):
                        sheet.write_number(line, col, cell)
                    elif cell:
                        sheet.write_string(line, col, guard_leading(cell))
                suppressed += row.suppressed
                count += 1
            sheet.autofilter(0, 0, count, len(columns) - 1)
            if about_sheet is not None and about is not None:
                _write_about(workbook, about_sheet, about, count, suppressed)
        except BaseException:
            for each in sheets:
                if each.row_data_fh is not None:
                    each.row_data_fh.close()
            raise
        workbook.close()
    return count


def _write_about(
    workbook: Any, sheet: Any, about: ExportInfo, rows: int, suppressed: int
) -> None:
    bold = workbook.add_format({"bold": True, "valign": "top"})
    wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
    when = workbook.add_format(
        {"num_format": "yyyy-mm-dd hh:mm:ss", "align": "left", "valign": "top"}
    )
    day = workbook.add_format(
        {"num_format": "yyyy-mm-dd", "align": "left", "valign": "top"}
    )
    if Language(about.language).direction == "rtl":
        sheet.right_to_left()
    sheet.set_column(0, 0, 24)
    sheet.set_column(1, 1, 80)
    items = _about_items(about, rows=rows, suppressed=suppressed)
    for line, (name, value) in enumerate(items):
        sheet.write_string(line, 0, name, bold)
        if isinstance(value, datetime):
            sheet.write_datetime(line, 1, value, when)
        elif isinstance(value, date):
            sheet.write_datetime(line, 1, value, day)
        elif isinstance(value, int):
            sheet.write_number(line, 1, value, wrap)
        else:
            sheet.write_string(line, 1, guard_leading(str(value)), wrap)


def write_dhis2_json(
    rows: Iterable[ExportRow],
    out: BinaryIO,
    *,
    mappings: Mapping[str, IndicatorMapping],
    dims: Sequence[str],
    place: str | None = None,
    labelled: Collection[str] = (),
    about: ExportInfo | None = None,
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
            "orgUnit": _org_unit_code(row, place, programme_org_unit),
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
    place: str | None = None,
    labelled: Collection[str] = (),
    about: ExportInfo | None = None,
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
            _org_unit_code(row, place, programme_org_unit),
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
