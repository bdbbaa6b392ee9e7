"""Indicator values as export rows, and the catalogue's exchange mappings."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, timedelta

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
from services.reporting.indicators.service import answer
from services.reporting.settings import ReportingSettings
from shared.errors import FieldError, Invalid


def months(start: date, end: date) -> Iterator[tuple[date, date]]:
    """Calendar months overlapping [start, end], clipped to it."""
    day = start.replace(day=1)
    while True:
        last = month_end(day)
        yield max(day, start), min(last, end)
        if last >= end:
            return
        day = last + timedelta(days=1)


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
) -> tuple[list[ExportRow], IndicatorMapping, list[str]]:
    """Rows for each period (cells, not margins: an importer sums what it
    needs), and the mapping their dims use."""
    place, dims = check_export_dims(by)
    rows: list[ExportRow] = []
    seen: dict[str, set[str]] = {d: set() for d in dims}
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
        )
        cells = values.cells if by else [values.total]
        for cell in cells:
            org_unit = None
            if place is not None:
                org_unit = _org_unit(store, cell.dims[place])
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
                )
            )
    rows.sort(key=lambda r: (r.org_unit or "", r.period_start))
    return rows, _mapping(indicator, dims, seen), dims


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


def _org_unit(store: FactStore, value: str) -> str:
    """A location's P-code, else its id (programmes' own sites have none)."""
    import uuid

    try:
        place = uuid.UUID(value)
    except ValueError:
        return value
    return store.places.pcodes.get(place) or value


def _mapping(
    indicator: Indicator, dims: Sequence[str], seen: dict[str, set[str]]
) -> IndicatorMapping:
    dhis2 = {}
    hxl: dict[str, dict[str, str]] = {}
    for d in dims:
        spec = categories()[d]
        options = {v: option_code(d, v) for v in sorted(seen[d])}
        dhis2[d] = CategoryMapping(code=str(spec["dhis2"]), options=options)
        attributes = {v: a for v in options if (a := hxl_attribute(d, v))}
        if attributes:
            hxl[d] = attributes
    return IndicatorMapping(
        indicator_id=indicator.id,
        name=indicator.name,
        hxl_value_tag=indicator.hxl.value,
        hxl_dim_attributes=hxl,
        dhis2_data_element=indicator.dhis2.data_element,
        dhis2_categories=dhis2,
    )
