"""The programme overview: the tables a programme publishes, from the
catalogue's indicators (so every figure is also an indicator query)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel

from services.reporting.access.service import Caller
from services.reporting.catalogue.catalogue import indicators
from services.reporting.engine.ages import AgeBands
from services.reporting.engine.measures import evaluator as make_evaluator
from services.reporting.engine.store import FactStore
from services.reporting.indicators.service import IndicatorValues, answer
from services.reporting.settings import ReportingSettings

SECTIONS: list[tuple[str, str, str, list[str]]] = [
    # (section, title, indicator, disaggregations)
    ("totals", "People reached (registered)", "people_reached", []),
    ("totals", "People reached without registration", "people_reached_anonymous", []),
    ("totals", "Services delivered", "services_delivered", []),
    ("totals", "New beneficiaries registered", "new_beneficiaries", []),
    ("iasc", "Services by IASC layer", "services_delivered", ["iasc_layer"]),
    ("iasc", "People reached by IASC layer", "people_reached", ["iasc_layer"]),
    (
        "demographics",
        "People reached by sex and age",
        "people_reached",
        ["sex", "age_group"],
    ),
    ("demographics", "People reached by disability", "people_reached", ["disability"]),
    (
        "demographics",
        "People reached by displacement status",
        "people_reached",
        ["displacement_status"],
    ),
    (
        "demographics",
        "People reached by marital status",
        "people_reached",
        ["marital_status"],
    ),
    (
        "delivery",
        "Services, direct and through partners",
        "services_delivered",
        ["delivered_through"],
    ),
    ("delivery", "Services by organisation", "services_delivered", ["organisation"]),
    ("activities", "Services by activity", "services_delivered", ["activity"]),
    ("activities", "Group sessions held", "group_sessions_held", ["activity"]),
    ("activities", "Meetings held", "meetings_held", []),
    ("locations", "People reached by governorate", "people_reached", ["governorate"]),
    ("locations", "Services by site", "services_delivered", ["site"]),
    ("cases", "Referrals made", "referrals_made", ["area"]),
    (
        "cases",
        "Reliable improvement (PHQ-9 or SRQ-20)",
        "reliable_improvement_phq9_srq20",
        [],
    ),
    ("capacity", "People trained by audience", "people_trained", ["audience"]),
    ("capacity", "Training sessions held", "training_sessions_held", []),
    (
        "capacity",
        "Capacity-building services by part",
        "capacity_building_services",
        ["component"],
    ),
    ("capacity", "People certified", "people_certified", ["course_level"]),
    ("capacity", "ToT trainers certified", "tot_trainers_certified", []),
    ("capacity", "Supervised practice sessions", "supervised_practice_sessions", []),
    ("capacity", "Mean fidelity of reviewed sessions", "mean_fidelity", []),
    ("capacity", "Supervision hours", "supervision_hours", []),
    ("quality", "Services by qualified staff", "services_by_qualified_staff", []),
    (
        "quality",
        "Structured sessions by qualified staff",
        "structured_sessions_by_qualified_staff",
        [],
    ),
    (
        "quality",
        "Supervision hours per provider per month",
        "supervision_hours_per_provider_month",
        [],
    ),
]


class OverviewTable(BaseModel):
    section: str
    title: str
    values: IndicatorValues
    shares: dict[str, float | None]
    """Each cell's share of the total in percent (counts only; keyed by the
    cell's values joined with '|')."""


class Overview(BaseModel):
    start: date
    end: date
    sites_active: int | None
    tables: list[OverviewTable]


async def overview(
    store: FactStore,
    settings: ReportingSettings,
    caller: Caller,
    start: date,
    end: date,
    bands: AgeBands,
) -> Overview:
    tables = []
    catalogue = indicators()
    await store.refresh()
    evaluator = make_evaluator(store, bands)
    for section, title, indicator_id, by in SECTIONS:
        values = await answer(
            store,
            settings,
            caller,
            catalogue[indicator_id],
            start=start,
            end=end,
            by=by,
            evaluator=evaluator,
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
            OverviewTable(section=section, title=title, values=values, shares=shares)
        )
    sites = next(t for t in tables if t.values.disaggregations == ["site"])
    active = [c for c in sites.values.cells if c.dims["site"] != "unknown"]
    return Overview(
        start=start,
        end=end,
        sites_active=len(active),
        tables=tables,
    )
