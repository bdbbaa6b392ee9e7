"""``/v1/overview``: the programme overview as JSON or a printable page."""

from __future__ import annotations

from datetime import date
from html import escape
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from services.reporting.access.service import CallerDep
from services.reporting.indicators.service import AGE_BANDS_HELP, age_bands, store_of
from services.reporting.overview.service import Overview, OverviewTable, overview
from shared.contracts.text import Text
from shared.errors import Invalid, problem_responses

router = APIRouter(prefix="/v1/overview", tags=["programme overview"])
Start = Annotated[date, Query(description="First day, inclusive.")]
End = Annotated[date, Query(description="Last day, inclusive.")]
Bands = Annotated[
    Text | None, Query(alias="age_bands", max_length=200, description=AGE_BANDS_HELP)
]


@router.get("", response_model=Overview, responses=problem_responses(Invalid))
async def programme_overview(
    request: Request, caller: CallerDep, start: Start, end: End, bands: Bands = None
) -> Overview:
    """Totals, IASC layers, demographics, direct vs partner, activities,
    locations, cases, capacity building and quality of care."""
    settings = request.app.state.settings
    return await overview(
        store_of(request.app), settings, caller, start, end, age_bands(bands, settings)
    )


@router.get(
    "/document",
    response_class=HTMLResponse,
    responses=problem_responses(Invalid),
)
async def programme_overview_document(
    request: Request, caller: CallerDep, start: Start, end: End, bands: Bands = None
) -> HTMLResponse:
    """The same overview as a printable HTML document."""
    settings = request.app.state.settings
    found = await overview(
        store_of(request.app), settings, caller, start, end, age_bands(bands, settings)
    )
    return HTMLResponse(render_document(found))


def _number(value: float | None, suppressed: bool) -> str:
    if suppressed:
        return "<i>suppressed</i>"
    if value is None:
        return "–"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _table(table: OverviewTable) -> str:
    values = table.values
    labels = values.labels
    unit = escape(values.unit)
    head = f"<h3>{escape(table.title)}</h3>"
    if not values.disaggregations:
        return head + (
            f"<p class=figure>{_number(values.total.value, values.total.suppressed)}"
            f" <span>{unit}</span></p>"
        )
    rows = []
    for cell in sorted(values.cells, key=lambda c: -(c.value or 0)):
        names = " / ".join(
            escape(labels.get(d, {}).get(v, v)) for d, v in cell.dims.items()
        )
        share = table.shares.get("|".join(cell.dims.values()))
        rows.append(
            f"<tr><td>{names}</td><td>{_number(cell.value, cell.suppressed)}</td>"
            f"<td>{'' if share is None else f'{share:.1f} %'}</td></tr>"
        )
    total = _number(values.total.value, values.total.suppressed)
    return (
        head
        + f"<table><tr><th></th><th>{unit}</th><th>share</th></tr>"
        + "".join(rows)
        + f"<tr class=total><td>Total</td><td>{total}</td><td></td></tr></table>"
    )


def render_document(found: Overview) -> str:
    sections: dict[str, list[str]] = {}
    for table in found.tables:
        sections.setdefault(table.section, []).append(_table(table))
    body = "".join(
        f"<section><h2>{escape(name.title())}</h2>{''.join(parts)}</section>"
        for name, parts in sections.items()
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>Programme overview {found.start} to {found.end}</title><style>"
        "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}"
        "table{border-collapse:collapse;margin-bottom:1em}"
        "td,th{border-bottom:1px solid #ccc;padding:2px 10px;text-align:right}"
        "td:first-child{text-align:left}.total td{font-weight:bold}"
        ".figure{font-size:22px;font-weight:bold}.figure span{font-size:13px}"
        "section{page-break-inside:avoid}@media print{body{margin:0}}"
        "</style></head><body>"
        f"<h1>Programme overview</h1><p>{found.start} to {found.end} · "
        f"{found.sites_active} sites active. People counted once per group; "
        "groups of distinct people are not to be summed.</p>"
        f"{body}</body></html>"
    )
