"""``/v1/indicators``: the catalogue, and any indicator for any period."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import Field

from services.reporting.access.service import CallerDep, CallerLanguage
from services.reporting.catalogue.catalogue import Indicator, indicators
from services.reporting.indicators.service import (
    AGE_BANDS_HELP,
    IndicatorValues,
    age_bands,
    answer,
    get_indicator,
    in_language,
    parse_filters,
    store_of,
    worded,
)
from shared.app import checks_own_query
from shared.contracts.text import Text
from shared.errors import problem_responses
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page, listed_page

router = APIRouter(prefix="/v1/indicators", tags=["indicators"])


@router.get("", response_model=Page[Indicator])
async def list_indicators(
    caller: CallerDep,
    language: CallerLanguage,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[Indicator]:
    """The catalogue: what each indicator counts, its allowed
    disaggregations and its HXL/DHIS2 mappings; ``name`` and
    ``description`` in the language asked for (ids, units and mappings are
    the same in every language)."""
    readable = [
        in_language(i, language)
        for i in indicators().values()
        if caller.indicators is None or i.id in caller.indicators
    ]
    return listed_page(readable, key=lambda i: i.id, cursor=cursor, limit=limit)


@router.get("/{indicator_id}", response_model=Indicator)
async def read_indicator(
    indicator_id: str, caller: CallerDep, language: CallerLanguage
) -> Indicator:
    """One indicator's definition from the catalogue, its name and
    description in the language asked for."""
    indicator = get_indicator(indicator_id)
    caller.may_read(indicator.id)
    return in_language(indicator, language)


@router.get(
    "/{indicator_id}/values",
    response_model=IndicatorValues,
    responses=problem_responses(),
)
@checks_own_query
async def indicator_values(
    indicator_id: str,
    request: Request,
    caller: CallerDep,
    language: CallerLanguage,
    start: Annotated[date, Query(description="First day, inclusive.")],
    end: Annotated[date, Query(description="Last day, inclusive.")],
    by: Annotated[
        list[Annotated[Text, Field(max_length=200)]] | None,
        Query(description="Disaggregations (up to 3), repeated or comma-separated."),
    ] = None,
    suppress: Annotated[
        bool, Query(description="Suppress small cells even with record access.")
    ] = False,
    bands: Annotated[
        Text | None,
        Query(alias="age_bands", max_length=200, description=AGE_BANDS_HELP),
    ] = None,
) -> IndicatorValues:
    """Any period (a day to many years), any allowed disaggregation; other
    query parameters named after a disaggregation filter on it, e.g.
    ``iasc_layer=specialized`` or ``site=<id>,<id>``. ``labels`` names every
    code of the cells, and ``name`` the indicator, in the language asked for
    (``lang``, else Accept-Language, else the organisation's default, else
    English); codes and ids stay as they are."""
    indicator = get_indicator(indicator_id)
    dims = [d.strip() for value in by or [] for d in value.split(",") if d.strip()]
    filters = parse_filters(
        {k: request.query_params.getlist(k) for k in request.query_params},
        indicator.disaggregations,
    )
    found = await answer(
        store_of(request.app),
        request.app.state.settings,
        caller,
        indicator,
        start=start,
        end=end,
        by=dims,
        filters=filters,
        suppress_cells=suppress,
        bands=age_bands(bands, request.app.state.settings),
        language=language.code,
    )
    return worded(found, language)
