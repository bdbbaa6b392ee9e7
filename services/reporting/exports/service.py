"""Indicator values as export rows, and the catalogue's exchange mappings."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from services.reporting.access.service import Caller
from services.reporting.catalogue.catalogue import (
    LOCATION_DIMS,
    Indicator,
    categories,
    hxl_attribute,
    option_code,
)
from services.reporting.engine.ages import AgeBands
from services.reporting.engine.store import FactStore
from services.reporting.exports.formats import (
    CategoryMapping,
    ExportRow,
    IndicatorMapping,
    month_end,
)
from services.reporting.indicators.service import answer, word
from services.reporting.settings import ReportingSettings
from shared.errors import FieldError, Invalid
from shared.i18n import IN_ENGLISH, Language


def months(start: date, end: date) -> Iterator[tuple[date, date]]:
    """Calendar months overlapping [start, end], clipped to it."""
    day = start.replace(day=1)
    while True:
        last = month_end(day)
        yield max(day, start), min(last, end)
        if last >= end:
            return
        day = last + timedelta(days=1)


@dataclass(frozen=True, slots=True)
class ExportTable:
    """An export's rows and how to lay them out."""

    rows: list[ExportRow]
    mapping: IndicatorMapping
    dims: list[str]
    """Disaggregations other than the org unit, in the order asked."""
    place: str | None
    """The org unit's level (``governorate``, ``district``, ``site``), if asked."""
    labelled: list[str]
    """Columns followed by a ``_label`` column: every one asked for."""
    suppression_threshold: int | None

    def layout(self) -> dict[str, Any]:
        """The writers' layout keywords."""
        return {
            "mappings": {self.mapping.indicator_id: self.mapping},
            "dims": self.dims,
            "place": self.place,
            "labelled": self.labelled,
        }


async def export_rows(
    store: FactStore,
    settings: ReportingSettings,
    caller: Caller,
    indicator: Indicator,
    *,
    periods: Sequence[tuple[date, date]],
    by: Sequence[str],
    filters: dict[str, list[str]],
    suppress: bool,
    bands: AgeBands,
    language: Language = IN_ENGLISH,
) -> ExportTable:
    """Rows for each period (cells, not margins: an importer sums what it
    needs), with the words for their values in ``language``, and the mapping
    their dims use."""
    place, dims = check_export_dims(by)
    rows: list[ExportRow] = []
    seen: dict[str, set[str]] = {d: set() for d in dims}
    labelled = list(by)
    threshold = settings.suppression_threshold if suppress else None
    for start, end in periods:
        values = await answer(
            store,
            settings,
            caller,
            indicator,
            start=start,
            end=end,
            by=list(by),
            filters=filters,
            suppress_cells=suppress,
            bands=bands,
            language=language.code,
        )
        threshold = values.suppression_threshold
        names = values.labels
        cells = values.cells if by else [values.total]
        for cell in cells:
            org_unit, coded = None, True
            if place is not None:
                org_unit, coded = _org_unit(store, cell.dims[place])
            kept = {d: cell.dims[d] for d in dims}
            for d in dims:
                seen[d].add(kept[d])
            rows.append(
                ExportRow(
                    indicator_id=indicator.id,
                    period_start=start,
                    period_end=end,
                    org_unit=org_unit,
                    dims=kept,
                    value=cell.value,
                    suppressed=cell.suppressed,
                    labels={
                        d: word(language, d, cell.dims[d], names.get(d, {}))
                        for d in labelled
                    },
                    coded=coded,
                )
            )
    rows.sort(key=lambda r: (r.org_unit or "", r.period_start))
    return ExportTable(
        rows=rows,
        mapping=_mapping(indicator, dims, seen),
        dims=dims,
        place=place,
        labelled=labelled,
        suppression_threshold=threshold,
    )


def check_export_dims(by: Sequence[str]) -> tuple[str | None, list[str]]:
    places = [d for d in by if d in LOCATION_DIMS]
    if len(places) > 1:
        raise Invalid(
            "An export or feed travels by org unit: disaggregate by at most one "
            f"of {', '.join(LOCATION_DIMS)} (asked: {', '.join(places)}).",
            errors=[FieldError(loc=["query", "by"], msg="two places", type="by")],
        )
    place = places[0] if places else None
    return place, [d for d in by if d != place]


CODED_FORMATS = frozenset({"dhis2", "adx"})
"""Formats whose org units must be codes an HMIS knows (P-codes)."""


async def check_org_unit_codes(
    store: FactStore, caller: Caller, by: Sequence[str], fmt: str
) -> None:
    """Refuse at once a DHIS2 or ADX export by a level none of whose places
    in the caller's scope has a P-code: every value would be refused. Where
    some have one, only the figures tell, and the export's job refuses a
    value at a place without one, naming it."""
    place, _ = check_export_dims(by)
    if place is None or fmt not in CODED_FORMATS:
        return
    await store.refresh()
    places = store.places
    sites = caller.scope.sites
    candidates = {p for p, level in places.level.items() if level == place}
    if sites is not None:
        candidates = {a for s in sites if (a := places.ancestor(s, place))}
    if not candidates or any(places.pcodes.get(p) for p in candidates):
        return
    named = sorted(places.names.get(p, str(p)) for p in candidates)
    shown = ", ".join(named[:3]) + (", ..." if len(named) > 3 else "")
    raise Invalid(
        f"No {place} you can export has a P-code ({shown}), and DHIS2 and ADX "
        f"need an org unit code: export by a level with P-codes (governorate), "
        f"give the {place}s P-codes, or choose another format.",
        errors=[FieldError(loc=["body", "by"], msg="no P-code", type="by")],
    )


def _org_unit(store: FactStore, value: str) -> tuple[str, bool]:
    """A location's P-code, else its id (programmes' own sites have none) or
    ``unknown``; and whether it is a P-code."""
    try:
        place = uuid.UUID(value)
    except ValueError:
        return value, False
    pcode = store.places.pcodes.get(place)
    return (pcode, True) if pcode else (value, False)


def _hxl_fallback(dim: str, value: str) -> str:
    """An attribute for a value the HXL standard names none for (``unknown``
    sex, ``no`` disability): the dim and the value, so no column is untagged."""
    return "+" + re.sub(r"[^a-z0-9_]", "_", f"{dim}_{value}".lower())


def _mapping(
    indicator: Indicator, dims: Sequence[str], seen: dict[str, set[str]]
) -> IndicatorMapping:
    dhis2 = {}
    hxl: dict[str, dict[str, str]] = {}
    for d in dims:
        spec = categories()[d]
        options = {v: option_code(d, v) for v in sorted(seen[d])}
        dhis2[d] = CategoryMapping(code=str(spec["dhis2"]), options=options)
        if "hxl" in spec:  # a column per value, each tagged with its attribute
            hxl[d] = {v: hxl_attribute(d, v) or _hxl_fallback(d, v) for v in options}
    return IndicatorMapping(
        indicator_id=indicator.id,
        name=indicator.name,
        hxl_value_tag=indicator.hxl.value,
        hxl_dim_attributes=hxl,
        dhis2_data_element=indicator.dhis2.data_element,
        dhis2_categories=dhis2,
    )
