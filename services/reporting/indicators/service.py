"""Indicator answers: the engine's cells, margins and total, suppressed for
callers without record-level access."""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from services.reporting.access.service import Caller
from services.reporting.catalogue.catalogue import (
    LOCATION_DIMS,
    Indicator,
    indicators,
)
from services.reporting.engine.ages import AGE_BAND_PRESETS, AgeBands
from services.reporting.engine.evaluator import (
    Answer,
    Evaluator,
    Query,
    QueryError,
    Scope,
)
from services.reporting.engine.measures import ID_DIMS, allowed_values
from services.reporting.engine.measures import evaluator as make_evaluator
from services.reporting.engine.store import FactStore
from services.reporting.settings import ReportingSettings
from services.reporting.suppression import ALL, suppress, suppress_rate
from shared.errors import BadRequest, FieldError, Invalid, NotFound, UnknownParameters
from shared.i18n import UNKNOWN, Language

MAX_DIMS = 3
SUPPRESSED_CELLS_LIMIT = 2_000
"""Largest table (cells and margins) published with suppression: the
audit of bigger ones is slow and their cells are mostly small anyway."""
RESERVED_PARAMS = frozenset(
    {"start", "end", "by", "suppress", "cursor", "since", "format", "age_bands", "lang"}
)
"""Query parameters of the values and feed routes that are not filters
(``lang`` is the language of the labels)."""
AGE_BANDS_HELP = (
    "Age groups of `age_group`: bands like `0-17,18-59,60+` (contiguous from "
    f"0, the last open) or a preset ({', '.join(AGE_BAND_PRESETS)}); default "
    "REPORTING_AGE_BANDS."
)
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class Cell(BaseModel):
    """One figure of an indicator for one combination of breakdowns."""

    dims: dict[str, str] = Field(description="Disaggregation values; '*' = all.")
    value: int | float | None = Field(
        description="An integer for counts of rows, people or cases; None when "
        "suppressed or undefined."
    )
    numerator: int | float | None = None
    denominator: int | float | None = None
    suppressed: bool = False


class IndicatorValues(BaseModel):
    """An indicator's figures for a period, by the breakdowns asked for."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "indicator": "structured_dropouts",
                    "version": 1,
                    "name": "Drop-outs from structured interventions",
                    "unit": "count",
                    "start": "2026-01-01",
                    "end": "2026-12-31",
                    "disaggregations": ["intervention"],
                    "filters": {"status": ["dropped_out"]},
                    "suppression_threshold": None,
                    "cells": [
                        {
                            "dims": {"intervention": "pm_plus"},
                            "value": 1,
                            "numerator": None,
                            "denominator": None,
                            "suppressed": False,
                        }
                    ],
                    "margins": [],
                    "total": {
                        "dims": {"intervention": "*"},
                        "value": 1,
                        "numerator": None,
                        "denominator": None,
                        "suppressed": False,
                    },
                    "labels": {},
                }
            ]
        }
    )

    indicator: str
    version: int
    name: str
    unit: str
    start: date
    end: date
    disaggregations: list[str]
    filters: dict[str, list[str]]
    suppression_threshold: int | None = Field(
        description="Cells below it are suppressed; None: not suppressed."
    )
    cells: list[Cell] = Field(description="Every combination with data.")
    margins: list[Cell] = Field(
        description="Totals over one or more dims ('*'), for tables of 2+ dims."
    )
    total: Cell
    labels: dict[str, dict[str, str]]


def get_indicator(indicator_id: str) -> Indicator:
    found = indicators().get(indicator_id)
    if found is None:
        raise NotFound(f"There is no indicator {indicator_id!r}.")
    return found


def in_language(indicator: Indicator, language: Language) -> Indicator:
    """The catalogue's entry with its name and definition in ``language``
    (the catalogues' ``indicator.<id>`` and ``definition.<id>``)."""
    return indicator.model_copy(
        update={
            "name": language.text(f"indicator.{indicator.id}"),
            "description": language.text(f"definition.{indicator.id}"),
        }
    )


def store_of(app: FastAPI) -> FactStore:
    store: FactStore | None = getattr(app.state, "fact_store", None)
    if store is None:
        runtime = app.state.runtime
        snapshots = runtime.settings.snapshots
        store = app.state.fact_store = FactStore(runtime.engine, snapshots)
    return store


def age_bands(text: str | None, settings: ReportingSettings) -> AgeBands:
    """The band set a query asks for (bands or a preset's name), or the
    deployment's default."""
    try:
        return AgeBands.parse(text if text else settings.age_bands)
    except ValueError as exc:
        raise Invalid(
            f"age_bands: {exc}.",
            errors=[FieldError(loc=["query", "age_bands"], msg=str(exc), type="bands")],
        ) from None


def _value_errors(
    indicator: Indicator, filters: dict[str, list[str]], bands: AgeBands
) -> list[FieldError]:
    """A filter value a dim never takes would silently answer 0: name it
    and list what is allowed (ids and months are checked by form only)."""
    errors = []
    for name, values in filters.items():
        if name not in indicator.disaggregations:
            continue
        allowed = allowed_values(indicator.fact, name, bands)
        for value in values:
            if allowed is not None and value not in allowed:
                msg = f"{value!r} is not a value of {name}; allowed: " + ", ".join(
                    allowed
                )
            elif name in ID_DIMS and value != "unknown" and not _is_uuid(value):
                msg = f"{value!r} is not an id of {name} (a UUID, or unknown)"
            elif name == "month" and not _MONTH.match(value):
                msg = f"{value!r} is not a month like 2026-03"
            elif name == "language" and not _LANGUAGE.match(value):
                msg = f"{value!r} is not a language (ISO 639, or unknown)"
            elif name == "nationality" and not _NATIONALITY.match(value):
                msg = f"{value!r} is not a nationality (ISO 3166-1 alpha-3, or unknown)"
            else:
                continue
            errors.append(FieldError(loc=["query", name], msg=msg, type="filter"))
    return errors


_NATIONALITY = re.compile(r"^([A-Z]{3}|unknown)$")
_LANGUAGE = re.compile(r"^([a-z]{2,3}|unknown)$")


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def check_query(
    indicator: Indicator,
    start: date,
    end: date,
    by: Sequence[str],
    filters: dict[str, list[str]],
    bands: AgeBands,
) -> None:
    errors = []
    if end < start:
        errors.append(FieldError(loc=["query", "end"], msg="before start", type="date"))
    if (end - start).days > 366 * 20:
        errors.append(
            FieldError(loc=["query", "end"], msg="over 20 years", type="date")
        )
    if len(by) > MAX_DIMS or len(set(by)) != len(by):
        errors.append(
            FieldError(
                loc=["query", "by"], msg=f"at most {MAX_DIMS}, distinct", type="by"
            )
        )
    for name in by:
        if name not in indicator.disaggregations:
            errors.append(
                FieldError(loc=["query", "by"], msg=f"{name!r} not allowed", type="by")
            )
    for name in filters:
        if name not in indicator.disaggregations:
            errors.append(
                FieldError(loc=["query", name], msg="not a filter here", type="filter")
            )
    if errors:
        raise Invalid(
            f"This query does not fit indicator {indicator.id!r}; it allows "
            f"disaggregations {', '.join(indicator.disaggregations)}.",
            errors=errors,
        )
    values = _value_errors(indicator, filters, bands)
    if values:
        raise Invalid(
            "Unknown filter values: " + "; ".join(e.msg for e in values) + ".",
            errors=values,
        )


async def answer(
    store: FactStore,
    settings: ReportingSettings,
    caller: Caller,
    indicator: Indicator,
    *,
    start: date,
    end: date,
    by: Sequence[str] = (),
    filters: dict[str, list[str]] | None = None,
    suppress_cells: bool = False,
    bands: AgeBands | None = None,
    evaluator: Evaluator | None = None,
    language: str | None = None,
) -> IndicatorValues:
    """The indicator for a period, disaggregated and filtered, in the
    caller's scope; suppressed unless the caller has record-level access and
    did not ask for suppression. Age groups are ``bands`` (default: the
    deployment's). An overview passes one ``evaluator`` for all its tables:
    it refreshed the store once, so they agree, and they share what the
    evaluator derives (its bands are the tables' bands). Places are named
    in ``language`` (a code) where it is known and the gazetteer has the
    name, else in English."""
    caller.may_read(indicator.id)
    filters = filters or {}
    if evaluator is not None:
        bands = evaluator.bands
    elif bands is None:
        bands = age_bands(None, settings)
    check_query(indicator, start, end, by, filters, bands)
    if evaluator is None:
        await store.refresh()
        evaluator = make_evaluator(store, bands)
    merged = {**filters, **indicator.filters}
    for name, wanted in indicator.filters.items():
        if name in filters:  # a caller's filter narrows, never widens
            merged[name] = [v for v in filters[name] if v in wanted]
    query = Query(
        measure=indicator.measure,
        start=start,
        end=end,
        by=list(by),
        filters=merged,
        parameters=indicator.parameters,
        scope=caller.scope,
    )
    try:
        found = evaluator.evaluate(query)
    except QueryError as exc:
        raise BadRequest(str(exc)) from None
    threshold = None
    if suppress_cells or not caller.record_level:
        threshold = settings.suppression_threshold
    table = _table(list(by), found)
    hidden = _hidden(indicator, list(by), table, threshold)
    cells: list[Cell] = []
    margins: list[Cell] = []
    for key, raw in table.items():
        cell = _cell(list(by), key, raw, key in hidden)
        if ALL in key and key != tuple(ALL for _ in by):
            margins.append(cell)
        elif ALL not in key and by:
            cells.append(cell)
    total_key = tuple(ALL for _ in by)
    return IndicatorValues(
        indicator=indicator.id,
        version=indicator.version,
        name=indicator.name,
        unit=indicator.unit,
        start=start,
        end=end,
        disaggregations=list(by),
        filters={k: list(v) for k, v in merged.items()},
        suppression_threshold=threshold,
        cells=cells,
        margins=margins if len(by) > 1 else [],
        total=_cell(list(by), total_key, table[total_key], total_key in hidden),
        labels=_own_labels(
            _place_labels(found.labels, store, language), cells, store, caller.scope
        ),
    )


def _place_labels(
    labels: dict[str, dict[str, str]], store: FactStore, language: str | None
) -> dict[str, dict[str, str]]:
    """The engine's English place names replaced by those in ``language``."""
    if language is None or language == "en":
        return labels
    places = store.places
    out = dict(labels)
    for dim in LOCATION_DIMS:
        if dim in labels:
            out[dim] = {
                key: places.place_name(uuid.UUID(key), language) or name
                for key, name in labels[dim].items()
            }
    return out


def word(language: Language, dim: str, code: str, names: dict[str, str]) -> str:
    """A value's words: the catalogue's in the language for a code of a
    vocabulary (sex, layers, activities, age groups, ``unknown``); else the
    name the facts carry (places, organisations, courses); else the code."""
    if code == UNKNOWN or dim == "age_group" or language.has(f"{dim}.{code}"):
        return language.label(dim, code)
    return names.get(code) or code


def worded(values: IndicatorValues, language: Language) -> IndicatorValues:
    """The values with every code of their labels and cells named in
    ``language`` (the words the exports' ``_label`` columns carry, by
    :func:`word`) and the indicator's name in it: one way for the values
    route and the overview. ``values`` must have been answered in that
    language (its place names)."""
    labels: dict[str, dict[str, str]] = {}
    for dim in dict.fromkeys([*values.labels, *values.disaggregations]):
        names = values.labels.get(dim, {})
        codes = [*names, *(cell.dims[dim] for cell in values.cells if dim in cell.dims)]
        labels[dim] = {code: word(language, dim, code, names) for code in codes}
    name = language.text(f"indicator.{values.indicator}")
    return values.model_copy(update={"labels": labels, "name": name})


def _own_labels(
    labels: dict[str, dict[str, str]],
    cells: list[Cell],
    store: FactStore,
    scope: Scope,
) -> dict[str, dict[str, str]]:
    """Team and project names only for those in the answer: unlike places
    and organisations, an organisation's units and projects are not a
    public directory. A project is named only to a caller whose scope takes
    part in it (a record may carry another organisation's project id, as a
    training record written before ids were checked could)."""
    out = dict(labels)
    for dim in ("team", "project"):
        if dim in labels:
            shown = {cell.dims[dim] for cell in cells}
            out[dim] = {k: v for k, v in labels[dim].items() if k in shown}
    if "project" in out and scope.organisations is not None:
        members = store.places.project_members
        out["project"] = {
            k: v
            for k, v in out["project"].items()
            if members.get(uuid.UUID(k), frozenset()) & scope.organisations
        }
    return out


Raw = tuple[float | None, float | None, float | None]


def _table(by: list[str], found: Answer) -> dict[tuple[str, ...], Raw]:
    """Every answered key, margins with ALL in the dims summed over."""
    table: dict[tuple[str, ...], Raw] = {}
    margins = [(tuple(by), found.cells)] if by else []
    for subset, cells in [*margins, *found.margins.items()]:
        for cell in cells:
            values = dict(zip(subset, cell.key, strict=True))
            key = tuple(values.get(name, ALL) for name in by)
            table[key] = (cell.value, cell.numerator, cell.denominator)
    total = found.total
    table[tuple(ALL for _ in by)] = (total.value, total.numerator, total.denominator)
    return table


def _hidden(
    indicator: Indicator,
    by: list[str],
    table: dict[tuple[str, ...], Raw],
    threshold: int | None,
) -> set[tuple[str, ...]]:
    if threshold is None:
        return set()
    if indicator.kind != "count":
        return {
            key
            for key, (_, numerator, denominator) in table.items()
            if _small_rate(indicator, numerator, denominator, threshold)
        }
    counts = {key: int(value or 0) for key, (value, _, _) in table.items()}
    if by:  # zeros are published too: the attacker knows them, so must we
        axes = [
            sorted({key[i] for key in counts if key[i] != ALL}) + [ALL]
            for i in range(len(by))
        ]
        if _product_size(axes) > SUPPRESSED_CELLS_LIMIT:
            raise Invalid(
                f"This table has {_product_size(axes)} cells; with small-cell "
                f"suppression at most {SUPPRESSED_CELLS_LIMIT} can be published. "
                "Use fewer or coarser disaggregations, or filters."
            )
        for key in itertools.product(*axes):
            counts.setdefault(key, 0)
    return suppress(counts, by, threshold)


def _small_rate(
    indicator: Indicator,
    numerator: float | None,
    denominator: float | None,
    threshold: int,
) -> bool:
    """A rate of few people, or (for a share) one that says how few lack
    it: 98 % of 100 tells that 2 did not improve."""
    top, bottom = int(numerator or 0), int(denominator or 0)
    if indicator.kind == "mean" or indicator.unit == "hours":  # not people counts
        return bottom < threshold
    if suppress_rate(top, bottom, threshold):
        return True
    return indicator.kind == "share" and 0 < bottom - top < threshold


def _product_size(axes: list[list[str]]) -> int:
    size = 1
    for axis in axes:
        size *= len(axis)
    return size


def _cell(by: list[str], key: tuple[str, ...], raw: Raw, hidden: bool) -> Cell:
    value, numerator, denominator = raw
    if hidden:
        return Cell(dims=dict(zip(by, key, strict=True)), value=None, suppressed=True)
    return Cell(
        dims=dict(zip(by, key, strict=True)),
        value=value,
        numerator=numerator,
        denominator=denominator,
    )


def parse_filters(
    params: dict[str, Any], allowed: Sequence[str]
) -> dict[str, list[str]]:
    """Query parameters named after a disaggregation filter on it
    (comma-separated or repeated values); any other name is a mistake
    worth telling (a typo would otherwise widen the answer silently)."""
    unknown = sorted(set(params) - set(allowed) - RESERVED_PARAMS)
    if unknown:
        raise UnknownParameters(unknown, sorted(RESERVED_PARAMS | set(allowed)))
    out: dict[str, list[str]] = {}
    for name in allowed:
        values = params.get(name)
        if not values:
            continue
        flat = [v.strip() for value in values for v in value.split(",") if v.strip()]
        if flat:
            out[name] = flat
    return out
