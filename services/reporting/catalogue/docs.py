"""Render the indicator catalogue as Markdown (``docs/indicators.md``):

    python -m services.reporting.catalogue.docs > docs/indicators.md

A test checks the committed file is what this prints, so the docs cannot drift
from the catalogue files. Nothing here reads the environment: the age groups
shown are the default of ``REPORTING_AGE_BANDS``."""

from __future__ import annotations

import uuid
from typing import Any

from services.reporting.catalogue.catalogue import (
    LOCATION_DIMS,
    Indicator,
    categories,
    hxl_attribute,
    indicators,
    option_code,
)
from services.reporting.engine.ages import AGE_BAND_PRESETS, AgeBands
from services.reporting.engine.evaluator import UNKNOWN
from services.reporting.engine.measures import FACT_ROWS, interventions_known
from services.reporting.exports.formats import PROGRAMME_ORG_UNIT
from services.reporting.settings import ReportingSettings
from shared.contracts.enums import (
    CaseStatus,
    CourseApproach,
    CourseLevel,
    EnrolmentStatus,
    ReferralArea,
    ReferralKind,
    ReferralStatus,
    RegistrationChannel,
    RiskLevel,
    TrainingAudience,
)
from shared.instruments.engine import instruments
from shared.taxonomy.activities import activities, presenting_problems, risk_types
from shared.taxonomy.capacity import capacity_domains, capacity_tools

DEFAULT_AGE_BANDS: str = ReportingSettings.model_fields["age_bands"].default

MEASURES: dict[str, str] = {
    "services": "service rows in the period, each weighted by `people` (1 for a "
    "registered person's service, the recorded count for a line of an anonymous "
    "service); voided services are left out",
    "people": "distinct registered people with at least one service row in the "
    "period (voided services left out); anonymous lines and people whose consent "
    "to registration was withdrawn are not counted",
    "anonymous_people": "the recorded counts of anonymous service lines in the "
    "period, summed; not de-duplicated",
    "qualified_services_share": "services (weighted by `people`) whose `staff_id` "
    "is recorded: the percentage delivered by staff who, on or before the service "
    "date, had a certified training result or a competency assessment at overall "
    "level 3 or more; staff are matched to trainees by the trainee's `staff_id` "
    "within one organisation: the trainee's organisation is the one that "
    "delivered the service or, for a partner's service, the programme's lead "
    "(which trains its partners' staff); another organisation's trainee with "
    "the same code never counts",
    "group_activities_held": "group sessions and meetings held in the period, "
    "one per group activity and one per anonymous service of a group activity "
    "recorded on its own (not part of a group activity), however many "
    "attended; `unit` (the taxonomy's) tells meetings from sessions",
    "group_attendance": "the attendees of group sessions and meetings held in "
    "the period (registered attendees plus anonymous counts), summed; not "
    "de-duplicated",
    "mean_group_attendance": "attendees per group session or meeting held in "
    "the period: the summed attendees over the sessions and meetings",
    "completer_outcome_change": "enrolments whose latest status date is in "
    "the period and whose attendance reached the completion rule; for each, "
    "the person's `outcome` score at their latest non-baseline assessment "
    "from the enrolment date to the period's end, less their latest "
    "baseline on or before the enrolment date (else their earliest baseline "
    "before that follow-up); the mean of those changes, completers without "
    "both left out",
    "sessions_planned": "the sessions group series plan, summed over the "
    "series starting in the period (`series` names each, so sessions held by "
    "`series` read beside it)",
    "group_participants": "the attendees of group sessions and meetings held "
    "in the period, one line per organisation the group activity's record "
    "names (`participants_by_organisation`) and one line of the attendees "
    "it did not place (an unknown `participant_organisation`); the lines of "
    "one session or meeting add up to its attendees; not de-duplicated",
    "enrolments": "enrolments in a structured intervention whose enrolment "
    "date is in the period, with their current status",
    "people_completing": "distinct people with an enrolment whose sessions "
    "attended reach the intervention's completion rule (its share of the "
    "protocol's sessions), counted in the period of the enrolment's latest "
    "status date (its last session, or its closure)",
    "enrolment_outcomes": "enrolments whose latest status date (last session "
    "or closure) is in the period, one per enrolment, by their status",
    "intervention_sessions_attended": "protocol sessions of structured "
    "interventions attended in the period (their service record not voided), "
    "one per enrolment and session",
    "new_beneficiaries": "registered people whose registration date is in the "
    "period, one row per person; people whose consent to registration was "
    "withdrawn are not counted",
    "referrals": "referrals whose sent date is in the period, one per referral, "
    "with its latest status",
    "cases_opened": "cases whose opening date is in the period",
    "cases_by_presenting_problem": "cases whose opening date is in the period, "
    "once per presenting problem on their current list (a case listing two "
    "problems is counted under each, so the figures by problem add up to more "
    "than the cases)",
    "services_by_topic": "service records (registered people, group attendees "
    "included) whose service date is in the period, not voided, once under each "
    "topic they list and once in the total (distinct records); a record with no "
    "topic counts under unknown",
    "risk_alerts_raised": "risk alerts raised in the period (by an assessment or "
    "a worker's flag), one per alert, by risk type; no person is identified",
    "risk_alerts_acknowledged": "risk alerts a supervisor acknowledged in the "
    "period (by the day of the acknowledgement), one per alert",
    "improved_share": "cases with a baseline and at least one later follow-up or "
    "closure assessment in the period on an instrument of the rules: the "
    "percentage whose latest such assessment improved on the earliest baseline by "
    "at least the rule's threshold (on any of the rules); a case is grouped by its "
    "latest assessment in the period; the baseline may be before the period",
    "people_trained": "distinct trainees marked present at a training session in "
    "the period",
    "training_participations": "attendances marked present (one per trainee per "
    "session) in the period",
    "training_sessions": "distinct training sessions with at least one "
    "trainee marked present, held in the period",
    "organisations_trained": "distinct organisations that trainees marked "
    "present at a training session in the period work for (the trainee's "
    "own `affiliation_organisation_id`, not the cohort's partner); trainees "
    "with none on record are left out",
    "training_hours": "the session hours of attendances marked present, summed",
    "capacity_building_services": "capacity-building services to trainees in "
    "the period, one per trainee per training session attended (marked "
    "present) and one per supervisee of each supervision, coaching or "
    "mentoring session held; `component` names the part, and the parts add "
    "up to the total",
    "people_certified": "distinct trainees with a certified result decided in the "
    "period",
    "practice_sessions": "supervised practice sessions held in the period",
    "practice_clients_reached": "distinct registered people on the attendance "
    "of a group activity that a supervised practice session links by "
    "`group_session_id`, served in the period: the group activity's own "
    "service records, so each client counts once, here and in people reached",
    "recorded_sessions": "supervised practice sessions with a recording, held in "
    "the period",
    "mean_fidelity": "the mean adherence score (0-100) of practice sessions held "
    "in the period that have a fidelity review",
    "supervision_sessions": "supervision sessions held in the period",
    "supervision_hours": "the durations of supervision sessions held in the "
    "period, in hours, summed",
    "supervision_hours_per_provider_month": "the sum over supervision sessions of "
    "hours × supervisees, divided by (distinct supervisees × calendar months from "
    "the start's month to the end's month)",
    "organisations_mapped": "distinct organisations found by mapping exercises "
    "completed in the period",
    "organisations_assessed": "distinct organisations with a capacity "
    "assessment (baseline or follow-up) in the period",
    "organisations_selected": "distinct organisations selected by selection "
    "rounds decided in the period",
    "mentoring_visits": "mentoring visits and remote sessions held in the period",
    "mentoring_hours": "the durations of mentoring visits held in the period, in "
    "hours, summed",
    "organisations_mentored": "distinct mentored organisations with a visit in "
    "the period",
    "action_points_completed": "action points marked done in the period",
    "feedback_responses": "distinct anonymous feedback responses dated in the "
    "period (the date of the session or service they follow)",
    "feedback_mean_rating": "the mean of the answers on the 1-5 scale given in "
    "the period; yes/no questions left out",
    "feedback_satisfied_share": "answers satisfied (4 or 5 on the 1-5 scale, "
    "or yes) among the questions answered in the period",
    "materials_distributed": "the quantities of material items handed out at "
    "group activities and with services in the period (the record's date), "
    "summed; a voided line is left out",
    "capacity_change": "for each (organisation, domain, tool), the latest "
    "follow-up domain score minus the first baseline score in the period, "
    "summed (numerator) over the pairs that have both (denominator)",
}
"""Each engine measure in words (``engine/measures.py: MEASURES``); a measure
missing here fails the docs test."""

KINDS = {
    "count": "a count (or a sum)",
    "share": "a percentage (0–100), with its numerator and denominator",
    "mean": "a mean, with its numerator (the sum) and denominator (how many)",
    "rate": "a ratio, with its numerator and denominator",
}

_ORG_EXAMPLE = uuid.UUID("2e53f332-4de7-450a-aeda-f960575bb1bc")


def render() -> str:
    catalogue = indicators()
    lines = [
        "# Indicators",
        "",
        "Generated from `services/reporting/catalogue/` (one JSON file per "
        "indicator, plus `categories.json`) by `python -m "
        "services.reporting.catalogue.docs`; do not edit by hand. How the "
        "reporting service works and how to call it: "
        "[reporting.md](reporting.md).",
        "",
        *_intro(),
        "## Catalogue",
        "",
        "| id | name | unit | DHIS2 data element |",
        "|---|---|---|---|",
        *(
            f"| [`{i.id}`](#{i.id}) | {i.name} | {i.unit} | `{i.dhis2.data_element}` |"
            for i in catalogue.values()
        ),
        "",
    ]
    for indicator in catalogue.values():
        lines += _section(indicator)
    lines += _categories()
    return "\n".join(lines).rstrip() + "\n"


def _intro() -> list[str]:
    bands = AgeBands.parse(DEFAULT_AGE_BANDS)
    return [
        "An indicator is a named, versioned question over reporting's facts: "
        "a *measure* of the query engine "
        "(`services/reporting/engine/measures.py`, answered by the generic "
        "evaluator in `engine/evaluator.py`) "
        "over one fact table, with fixed filters and parameters, the "
        "disaggregations it allows and how it is exchanged (an HXL value tag "
        "and a DHIS2 data element code). Every answer carries the indicator's "
        "`version`.",
        "",
        "- **Period.** Any range from one day to 20 years, `start` and `end` "
        "both inclusive. A fact is in the period when its own date is (each "
        "indicator below names the date it uses); `month` groups by the "
        "calendar month of that date (`2026-02`).",
        "- **Exact.** Counts are computed from every fact row, not estimated. "
        "Distinct people (or trainees) are counted once per group and once in "
        "the total: a person served on two IASC layers counts once in each "
        "layer and once in the total, so groups of people are not to be "
        "summed. Counts of services and attendances do add up.",
        "- **Values.** A count is a number; a share is a percentage (0–100, "
        "four decimals) with its numerator and denominator; a mean or a rate "
        "comes with its numerator and denominator. A share, mean or rate with "
        "a denominator of 0 has no value (`null`).",
        "- **Age groups.** `age_group` is a person's age on the date of each "
        "fact: a service's (a registration's) age is the one the beneficiary "
        "service computed from the date of birth on the service (registration) "
        "date, so a person who turns 18 during the period counts under 0–17 "
        "for services before the birthday and 18+ after. Other facts "
        "(referrals, cases, assessments), services and registrations folded "
        "before reporting migration 0006, and those whose person's birth year "
        "was corrected since, use the birth-year rule: the year of the fact's "
        "date minus the birth year (reporting receives the birth year, never "
        "the date of birth), which "
        "can be one year more than the true age before the birthday. No birth "
        "year: `unknown`.",
        "- **People by age group** (`people_reached` and other distinct "
        "people) count each person once, at their age on their first service "
        "in the period (and in the query's filters); a filter on `age_group` "
        "keeps the services given at that age.",
        "- **Age bands** are chosen per query: `age_bands=0-17,18-59,60+` (on "
        "values, feeds, exports and the overview) or a preset's name ("
        + ", ".join(f"`{n}` = `{b}`" for n, b in AGE_BAND_PRESETS.items())
        + f"); without it, `REPORTING_AGE_BANDS` (default `{DEFAULT_AGE_BANDS}`, "
        f"labels {', '.join(f'`{label}`' for label in bands.labels)}). Bands "
        "must start at 0, be contiguous and end open (`60+`); a band's label "
        "is its range (`18_59`, `60_plus`).",
        "- **Anonymous counts** (awareness sessions, group events recorded "
        "without registration) carry a group written with the same labels, "
        "`0_17` or `18_plus` (`under_18` and `adult`, the names before, are "
        "still accepted and read the same). A group goes to the band that "
        "holds its whole range, and to `unknown` when no single band does "
        "(with `0-17,18-59,60+` an anonymous `18_plus` is `unknown`). Their "
        "sex and disability are those recorded on the line.",
        "- **Filters are strict.** A filter value a disaggregation never takes "
        "(`sex=femal`, an `age_group` not among the chosen bands' labels) is a "
        "422 naming it and listing the allowed values; ids (`site`, "
        "`organisation`...) must look like a UUID (or be `unknown`) but are not "
        "looked up; `month` must look like `2026-03`; `instrument` and `phase` "
        "are the producers' own codes and are not checked.",
        "- **Unknown.** A missing value (no site, no disability recorded, a "
        "person whose registration was erased) is the group `unknown`.",
        "- **Locations.** `governorate`, `district` and `site` come from the "
        "fact's site, rolled up through the location hierarchy copied from "
        "the beneficiary service about once a minute; answers label them by "
        "name, exports to DHIS2 and ADX send P-codes.",
        "- **Organisations.** `organisation` is the organisation that recorded "
        "the fact; `lead_organisation` (services only) is the organisation "
        "under whose lead a partner delivered it.",
        "- **Filters.** A query may filter on any disaggregation the indicator "
        "allows; a fixed filter of the indicator can only be narrowed by the "
        "caller's filter, never widened.",
        "",
    ]


def _section(i: Indicator) -> list[str]:
    date_column = FACT_ROWS[i.fact][0]
    note = MEASURES.get(i.measure)
    if note is None:
        raise KeyError(f"describe measure {i.measure!r} in MEASURES ({__name__})")
    out = [
        f'<a id="{i.id}"></a>',
        "",
        f"## {i.name}",
        "",
        f"- Id and version: `{i.id}`, version {i.version}.",
        f"- Unit: {i.unit}; value: {KINDS[i.kind]}.",
        f"- Definition: {i.description}",
        f"- Measure `{i.measure}` over fact `{i.fact}` (dated by "
        f"`{date_column}`): {note}.",
        "- Fixed filters: " + _filters(i.filters) + ".",
    ]
    out += _parameters(i.parameters)
    out += [
        "- Disaggregations: " + ", ".join(f"`{d}`" for d in i.disaggregations) + ".",
        f"- HXL value tag: `{i.hxl.value}`.",
        f"- DHIS2 data element code: `{i.dhis2.data_element}`.",
    ]
    if i.framework:
        out.append(f"- Framework: {i.framework}")
    return [*out, ""]


def _filters(filters: dict[str, list[str]]) -> str:
    if not filters:
        return "none"
    return "; ".join(
        f"`{name}` is " + " or ".join(f"`{v}`" for v in values)
        for name, values in filters.items()
    )


def _parameters(parameters: dict[str, Any]) -> list[str]:
    out = []
    for name, value in parameters.items():
        if name != "improvement":
            out.append(f"- Parameter `{name}`: `{value}`.")
            continue
        out.append("- Improvement rules (a case improved on any one of them):")
        for rule in value:
            change = "fell" if rule.get("better", "lower") == "lower" else "rose"
            out.append(
                f"  - `{rule['instrument']}` (any version) score `{rule['score']}` "
                f"{change} by at least {rule['threshold']:g} from baseline"
                + _instrument_change(rule["instrument"])
                + "."
            )
    return out


def _instrument_change(code: str) -> str:
    """What the instrument's own definition says about change, as a source."""
    found = [i for i in instruments().values() if i.code == code]
    notes = []
    for instrument in found:
        rule = instrument.change
        if rule is None:
            notes.append(f"`{instrument.key}` defines no change threshold")
            continue
        parts = [
            f"reliable change {rule.reliable_change:g}"
            if rule.reliable_change is not None
            else "no reliable change",
            f"clinically meaningful {rule.clinically_meaningful:g}"
            if rule.clinically_meaningful is not None
            else "no clinically meaningful change",
        ]
        notes.append(f"`{instrument.key}`: {', '.join(parts)}; {rule.source}")
    if not notes:
        return " (no instrument definition with this code)"
    return " (instrument definition " + "; ".join(notes) + ")"


def _known_values(dim: str) -> list[str] | None:
    """Values a templated category takes, where the code knows them all."""
    enums: dict[str, list[str]] = {
        "registration_channel": [c.value for c in RegistrationChannel],
        "kind": [k.value for k in ReferralKind],
        "area": [a.value for a in ReferralArea],
        "status": sorted(
            {s.value for s in [*CaseStatus, *ReferralStatus, *EnrolmentStatus]}
        ),
        "intervention": sorted(interventions_known()),
        "risk_level": [r.value for r in RiskLevel],
        "presenting_problem": list(presenting_problems()),
        "risk_type": list(risk_types()),
        "audience": [a.value for a in TrainingAudience],
        "course_level": [c.value for c in CourseLevel],
        "approach": [a.value for a in CourseApproach],
        "instrument": sorted(instruments()),
        "domain": sorted(capacity_domains()),
        "tool": sorted(capacity_tools()),
        "timepoint": ["baseline", "follow_up"],
        "mode": ["in_person", "remote_video", "phone", "remote_message"],
        "age_group": AgeBands.parse(DEFAULT_AGE_BANDS).labels,
    }
    return enums.get(dim)


_EXAMPLES: dict[str, tuple[str, str]] = {
    "activity": (
        next(iter(activities())),
        "the activity code in capitals; codes in [taxonomy.md](taxonomy.md)",
    ),
    "organisation": (
        str(_ORG_EXAMPLE),
        "`ORG_` and the first 12 hex digits of the organisation id, in capitals",
    ),
    "lead_organisation": (
        str(_ORG_EXAMPLE),
        "`ORG_` and the first 12 hex digits of the organisation id, in capitals",
    ),
    "partner_organisation": (
        str(_ORG_EXAMPLE),
        "`ORG_` and the first 12 hex digits of the organisation id, in capitals",
    ),
    "participant_organisation": (
        str(_ORG_EXAMPLE),
        "`ORG_` and the first 12 hex digits of the organisation id, in capitals",
    ),
    "course": (
        str(_ORG_EXAMPLE),
        "`COURSE_` and the first 12 hex digits of the course id, in capitals",
    ),
    "topic": (
        "suicide_prevention",
        "the topic code in capitals (shared/taxonomy/topics.csv for services "
        "and group sessions)",
    ),
    "item": ("school_bag", "the material item's code in capitals"),
    "form": ("participant_satisfaction", "the feedback form's code in capitals"),
    "question": ("overall_satisfied", "the form item's code in capitals"),
    "team": (
        str(_ORG_EXAMPLE),
        "`TEAM_` and the first 12 hex digits of the team id, in capitals",
    ),
    "series": (
        str(_ORG_EXAMPLE),
        "`SER_` and the first 12 hex digits of the group series id, in capitals",
    ),
    "project": (
        str(_ORG_EXAMPLE),
        "`PRJ_` and the first 12 hex digits of the project id, in capitals",
    ),
    "phase": ("pre_group", "the practice session phase in capitals"),
    "nationality": ("SYR", "the ISO 3166-1 alpha-3 code as recorded"),
    "language": ("ckb", "the ISO 639 code in capitals"),
    "month": ("2026-02", "`M` and the month as `yyyyMM`"),
}


def _options(dim: str, spec: Any) -> str:
    if isinstance(spec, dict):
        return ", ".join(f"`{v}` → `{code}`" for v, code in spec.items())
    known = _known_values(dim)
    if known is not None:
        values = [*known, UNKNOWN] if UNKNOWN not in known else known
        listed = ", ".join(f"`{v}` → `{option_code(dim, v)}`" for v in values)
        if dim == "age_group":
            return f"`AGE` and the band label in capitals: {listed} (default bands)"
        return listed
    example, rule = _EXAMPLES[dim]
    return f"{rule}, e.g. `{example}` → `{option_code(dim, example)}`"


def _hxl(dim: str, spec: Any) -> str:
    if spec is None:
        return ""
    if isinstance(spec, dict):
        return ", ".join(f"`{v}` → `{attribute}`" for v, attribute in spec.items())
    labels = AgeBands.parse(DEFAULT_AGE_BANDS).labels if dim == "age_group" else []
    shown = ", ".join(f"`{v}` → `{hxl_attribute(dim, v)}`" for v in labels)
    return f"`{spec}`" + (f": {shown}" if shown else "")


def _categories() -> list[str]:
    lines = [
        "## Exchange categories",
        "",
        "How each disaggregation travels in DHIS2 dataValueSets and ADX "
        "(from `categories.json`). Import with `idScheme=code`: create each "
        "category with the code below, its category options with the option "
        "codes, and the category option combos with the **combo code**: the "
        "row's option codes joined by `_`, in the order of the `by` "
        "disaggregations of the request (e.g. `by=sex,age_group` gives "
        f"`{option_code('sex', 'female')}_{option_code('age_group', '18_plus')}`"
        "). A row with no disaggregation has no `categoryOptionCombo` (DHIS2 "
        "uses its default combo). In ADX each disaggregation is an attribute "
        "named by its category code. `unknown` is always a possible value.",
        "",
        f"Locations ({', '.join(f'`{d}`' for d in LOCATION_DIMS)}) are not "
        "categories: the one in `by` becomes the org unit, sent as the "
        "location's P-code; a value at a site without one, or at an unknown "
        "place, is refused by name, never sent. Rows for the whole "
        f"programme are sent with the org unit `{PROGRAMME_ORG_UNIT}`. DHIS2 "
        "periods are `yyyyMMdd`, `yyyyMM`, `yyyyQn` or `yyyy`; ADX periods are "
        "`start/P1M`, `P3M`, `P1Y` or `P<n>D`.",
        "",
        "HXL: the org unit is tagged by its level (`#adm1`, `#adm2`, `#loc`, "
        "`+code` and `+name`). A disaggregation with HXL attributes below "
        "becomes a value column per value, tagged with the indicator's value "
        "tag and the attribute (`#reached+ind+f`; a value with none listed "
        "gets `+<dim>_<value>`); the others stay columns of their own.",
        "",
        "| disaggregation | DHIS2 category | option codes | HXL attributes |",
        "|---|---|---|---|",
    ]
    for dim, spec in categories().items():
        lines.append(
            f"| `{dim}` | `{spec['dhis2']}` | {_options(dim, spec['options'])} | "
            f"{_hxl(dim, spec.get('hxl'))} |"
        )
    return [*lines, ""]


if __name__ == "__main__":
    print(render(), end="")  # noqa: T201
