"""``/v1/overview``: the programme overview as JSON or a printable page."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import Field

from services.reporting.access.service import CallerDep, CallerLanguage
from services.reporting.indicators.service import (
    AGE_BANDS_HELP,
    Cell,
    IndicatorValues,
    age_bands,
    store_of,
)
from services.reporting.overview.service import Overview, OverviewTable, overview
from shared.contracts.enums import Sex
from shared.contracts.text import Text
from shared.errors import Invalid, problem_responses
from shared.i18n import Language
from shared.i18n.templates import render

HERE = Path(__file__).parent
router = APIRouter(prefix="/v1/overview", tags=["programme overview"])
Start = Annotated[date, Query(description="First day, inclusive.")]
End = Annotated[date, Query(description="Last day, inclusive.")]
Sites = Annotated[
    list[uuid.UUID] | None,
    Query(alias="site", description="Only these sites (repeat)."),
]
Sexes = Annotated[list[Sex] | None, Query(alias="sex", description="Repeat.")]
AgeGroups = Annotated[
    list[Annotated[Text, Field(max_length=64)]] | None,
    Query(
        alias="age_group",
        description="Age groups of the bands in use, e.g. 18_plus (repeat).",
    ),
]
Bands = Annotated[
    Text | None, Query(alias="age_bands", max_length=200, description=AGE_BANDS_HELP)
]


@dataclass(frozen=True)
class Asked:
    """What an overview request asks for: period, age bands and filters."""

    start: date
    end: date
    bands: str | None
    filters: dict[str, list[str]]


def asked(
    start: Start,
    end: End,
    bands: Bands = None,
    sites: Sites = None,
    sexes: Sexes = None,
    age_groups: AgeGroups = None,
) -> Asked:
    return Asked(
        start,
        end,
        bands,
        {
            "site": [str(s) for s in sites or []],
            "sex": [s.value for s in sexes or []],
            "age_group": list(age_groups or []),
        },
    )


AskedDep = Annotated[Asked, Depends(asked)]


async def answer_overview(
    request: Request, caller: CallerDep, language: CallerLanguage, query: AskedDep
) -> Overview:
    settings = request.app.state.settings
    return await overview(
        store_of(request.app),
        settings,
        caller,
        query.start,
        query.end,
        age_bands(query.bands, settings),
        language,
        query.filters,
    )


@router.get("", response_model=Overview, responses=problem_responses(Invalid))
async def programme_overview(
    found: Annotated[Overview, Depends(answer_overview)],
) -> Overview:
    """Totals, IASC layers, demographics, direct vs partner, activities,
    locations, cases, capacity building (clients reached through supervised
    practice too), quality of care, materials distributed by item and
    language, and participants' and trainees' feedback, in the
    language asked for (``lang``, else Accept-Language, else the
    organisation's default language)."""
    return found


@router.get(
    "/document",
    response_class=HTMLResponse,
    responses=problem_responses(Invalid),
)
async def programme_overview_document(
    found: Annotated[Overview, Depends(answer_overview)], language: CallerLanguage
) -> HTMLResponse:
    """The same overview as a printable HTML document, in the language
    asked for (``lang``, else Accept-Language, else the organisation's
    default), right to left for Arabic and Kurdish."""
    return HTMLResponse(
        render_document(found, language),
        headers={"Content-Language": language.code},
    )


def render_document(found: Overview, language: Language) -> str:
    sections: dict[str, list[OverviewTable]] = {}
    for table in found.tables:
        sections.setdefault(table.section, []).append(table)

    def shown(cell: Cell) -> str:
        if cell.suppressed:
            return language.text("overview.suppressed")
        return "–" if cell.value is None else language.number(cell.value)

    def cell_words(values: IndicatorValues, cell: Cell) -> list[str]:
        return [values.labels.get(d, {}).get(v, v) for d, v in cell.dims.items()]

    named = {
        dim: names
        for table in found.tables
        for dim, names in table.values.labels.items()
    }
    filter_words = [
        named.get(dim, {}).get(value) or language.label(dim, value)
        for dim, values in found.filters.items()
        for value in values
    ]
    return render(
        HERE,
        "document.html",
        language,
        found=found,
        filter_words=filter_words,
        sections=sections,
        shown=shown,
        cell_words=cell_words,
        ordered=lambda cells: sorted(cells, key=lambda c: -(c.value or 0)),
    )
