"""The programme overview: the tables a programme publishes, from the
catalogue's indicators (so every figure is also an indicator query)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from services.reporting.access.service import Caller
from services.reporting.catalogue.catalogue import indicators
from services.reporting.engine.ages import AgeBands
from services.reporting.engine.measures import evaluator as make_evaluator
from services.reporting.engine.store import FactStore
from services.reporting.indicators.service import IndicatorValues, answer, worded
from services.reporting.settings import ReportingSettings
from shared.i18n import UNKNOWN, Language

SECTIONS: list[tuple[str, str, list[str]]] = [
    # (section, indicator, disaggregations); titles are in the catalogue
    # (shared/i18n) as table.<indicator>[.<disaggregation>...]
    ("totals", "people_reached", []),
    ("totals", "people_reached_anonymous", []),
    ("totals", "services_delivered", []),
    ("totals", "new_beneficiaries", []),
    ("iasc", "services_delivered", ["iasc_layer"]),
    ("iasc", "people_reached", ["iasc_layer"]),
    ("demographics", "people_reached", ["sex", "age_group"]),
    ("demographics", "people_reached", ["disability"]),
    ("demographics", "people_reached", ["displacement_status"]),
    ("demographics", "people_reached", ["marital_status"]),
    ("delivery", "services_delivered", ["delivered_through"]),
    ("delivery", "services_delivered", ["organisation"]),
    ("activities", "services_delivered", ["activity"]),
    ("activities", "group_sessions_held", ["activity"]),
    ("activities", "meetings_held", []),
    ("locations", "people_reached", ["governorate"]),
    ("locations", "services_delivered", ["site"]),
    ("cases", "referrals_made", ["area"]),
    ("cases", "reliable_improvement_phq9_srq20", []),
    ("capacity", "people_trained", ["audience"]),
    ("capacity", "training_sessions_held", []),
    ("capacity", "capacity_building_services", ["component"]),
    ("capacity", "people_certified", ["course_level"]),
    ("capacity", "tot_trainers_certified", []),
    ("capacity", "supervised_practice_sessions", []),
    ("capacity", "practice_clients_reached", []),
    ("capacity", "mean_fidelity", []),
    ("capacity", "supervision_hours", []),
    ("quality", "services_by_qualified_staff", []),
    ("quality", "structured_sessions_by_qualified_staff", []),
    ("quality", "supervision_hours_per_provider_month", []),
    ("materials", "materials_distributed", ["item", "language"]),
    ("feedback", "feedback_responses", ["form"]),
    ("feedback", "feedback_satisfied_share", ["form", "question"]),
    ("feedback", "feedback_mean_rating", ["form", "question"]),
]


class OverviewTable(BaseModel):
    """One table of the overview."""

    section: str
    title: str
    """In the request's language, like the labels of the values."""
    definition: str = Field(
        description="What the table's indicator counts, in the request's language."
    )
    values: IndicatorValues
    shares: dict[str, float | None]
    """Each cell's share of the total in percent (counts only; keyed by the
    cell's values joined with '|')."""


class Overview(BaseModel):
    """A period's figures in tables, as the printable overview shows them."""

    start: date
    end: date
    filters: dict[str, list[str]] = Field(
        default_factory=dict,
        description="What the tables are narrowed to; a table whose "
        "indicator cannot be narrowed by one of them is left out.",
    )
    sites_active: int | None
    tables: list[OverviewTable]


async def overview(
    store: FactStore,
    settings: ReportingSettings,
    caller: Caller,
    start: date,
    end: date,
    bands: AgeBands,
    language: Language,
    filters: dict[str, list[str]] | None = None,
) -> Overview:
    tables = []
    catalogue = indicators()
    filters = {name: wanted for name, wanted in (filters or {}).items() if wanted}
    await store.refresh()
    evaluator = make_evaluator(store, bands)
    for section, indicator_id, by in SECTIONS:
        if not set(filters) <= set(catalogue[indicator_id].disaggregations):
            continue  # a figure that cannot be narrowed is not shown as if it were
        values = await answer(
            store,
            settings,
            caller,
            catalogue[indicator_id],
            start=start,
            end=end,
            by=by,
            filters=filters,
            evaluator=evaluator,
            language=language.code,
        )
        shares: dict[str, float | None] = {}
        total = values.total.value
        if catalogue[indicator_id].kind == "count" and by:
            for cell in values.cells:
                label = "|".join(cell.dims[d] for d in by)
                shares[label] = (
                    round(100 * cell.value / total, 1)
                    if cell.value is not None and total
                    else None
                )
        tables.append(
            OverviewTable(
                section=section,
                title=language.text("table." + ".".join([indicator_id, *by])),
                definition=language.text(f"definition.{indicator_id}"),
                values=worded(values, language),
                shares=shares,
            )
        )
    sites = next((t for t in tables if t.values.disaggregations == ["site"]), None)
    active = (
        None
        if sites is None
        else len([c for c in sites.values.cells if c.dims["site"] != UNKNOWN])
    )
    return Overview(
        start=start, end=end, filters=filters, sites_active=active, tables=tables
    )
