"""The measure catalogue: which facts the engine reads, how each may be
disaggregated, and every measure an indicator file may name. The arithmetic
that answers them is generic (``engine/evaluator.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from services.reporting.engine.ages import AgeBands
from services.reporting.engine.evaluator import (
    UNKNOWN,
    Catalogue,
    Codes,
    Computed,
    Evaluator,
    IntArray,
    Mask,
    Measure,
    Query,
    Tables,
    Weights,
    distinct_tables,
    grouped,
    zeros,
)
from services.reporting.engine.store import NO_DATE, FactStore, Frame, day_number
from shared.contracts.enums import (
    CaseStatus,
    CourseApproach,
    CourseLevel,
    DeliveredThrough,
    DeliveryMode,
    DisabilityStatus,
    DisplacementStatus,
    EnrolmentStatus,
    MaritalStatus,
    Modality,
    ProblemArea,
    ReferralArea,
    ReferralKind,
    ReferralStatus,
    RegistrationChannel,
    RiskLevel,
    Sex,
    SupervisionPurpose,
    TrainingAudience,
    TrainingModality,
)
from shared.taxonomy.activities import (
    ActivityUnit,
    presenting_problems,
    risk_types,
    topics,
)
from shared.taxonomy.feedback import form_codes, item_codes
from shared.taxonomy.iasc import IascLayer
from shared.taxonomy.interventions import interventions as intervention_definitions
from shared.taxonomy.materials import materials

ENUM_LABELS: dict[str, list[str]] = {
    "sex": [s.value for s in Sex],
    "disability": [d.value for d in DisabilityStatus],
    "marital_status": [m.value for m in MaritalStatus],
    "displacement_status": [d.value for d in DisplacementStatus],
    "iasc_layer": [layer.value for layer in IascLayer],
    "delivered_through": [d.value for d in DeliveredThrough],
    "modality": [m.value for m in Modality],
    "audience": [a.value for a in TrainingAudience],
    "course_level": [c.value for c in CourseLevel],
    "approach": [a.value for a in CourseApproach],
    "training_modality": [m.value for m in TrainingModality],
    "unit": [u.value for u in ActivityUnit],
    "component": ["training", *(p.value for p in SupervisionPurpose)],
    "delivery_mode": [m.value for m in DeliveryMode],
    "problem_area": [a.value for a in ProblemArea],
    "item": list(materials()),
    "form": form_codes(),
    "question": item_codes(),
    "presenting_problem": list(presenting_problems()),
    "risk_type": list(risk_types()),
}


def interventions_known() -> set[str]:
    """The codes of the structured interventions defined (any version)."""
    return {code.split("@", 1)[0] for code in intervention_definitions()}


_FACT_ENUMS: dict[tuple[str, str], list[str]] = {
    ("beneficiaries", "registration_channel"): [c.value for c in RegistrationChannel],
    ("referrals", "kind"): [k.value for k in ReferralKind],
    ("referrals", "area"): [a.value for a in ReferralArea],
    ("referrals", "status"): [s.value for s in ReferralStatus],
    ("cases", "status"): [s.value for s in CaseStatus],
    ("cases", "risk_level"): [r.value for r in RiskLevel],
    ("enrolments", "status"): [s.value for s in EnrolmentStatus],
    ("enrolment_outcomes", "status"): [s.value for s in EnrolmentStatus],
    ("enrolments", "intervention"): sorted(interventions_known()),
    ("enrolment_outcomes", "intervention"): sorted(interventions_known()),
    ("intervention_sessions", "intervention"): sorted(interventions_known()),
    # topics of services and group sessions come from one list; training
    # sessions' topics are the training service's own codes (open)
    ("services", "topic"): sorted(topics()),
    ("service_topics", "topic"): sorted(topics()),
    ("group_activities", "topic"): sorted(topics()),
    ("group_series", "topic"): sorted(topics()),
}


ID_DIMS = frozenset(
    {
        "governorate",
        "district",
        "site",
        "organisation",
        "lead_organisation",
        "course",
        "partner_organisation",
        "participant_organisation",
        "team",
        "project",
        "series",
    }
)
"""Dims whose values are ids: a filter value must look like a UUID; whether
such a place or organisation exists is not checked (it would only answer 0)."""
OPEN_DIMS = frozenset({"instrument", "phase", "topic", "nationality", "language"})
"""Dims whose values are free codes of the producers: not checked."""


def allowed_values(fact: str, name: str, bands: AgeBands) -> list[str] | None:
    """The values a filter on a dim of a fact may name (``unknown``
    included); None for ids, months and open codes, checked by form or not
    at all (``ID_DIMS``, ``OPEN_DIMS``)."""
    if (fact, name) in _FACT_ENUMS:
        return [*_FACT_ENUMS[(fact, name)], UNKNOWN]
    if name in ID_DIMS or name in OPEN_DIMS or name == "month":
        return None
    if name == "age_group":
        values = bands.labels
    elif name == "activity":
        from shared.taxonomy.activities import activities

        values = sorted(activities())
    else:
        values = ENUM_LABELS[name]
    return [*values, UNKNOWN]


def dim_labels(ev: Evaluator, dims: list[str]) -> dict[str, dict[str, str]]:
    """Readable names of place, organisation, layer and activity values."""
    places = ev.store.places
    out: dict[str, dict[str, str]] = {}
    for name in dims:
        if name in ("site", "district", "governorate"):
            out[name] = {str(k): v for k, v in places.names.items()}
        elif name in ORGANISATION_DIMS:
            out[name] = {str(k): v for k, v in places.organisations.items()}
        elif name == "team":
            out[name] = {str(k): v for k, v in places.teams.items()}
        elif name == "project":
            out[name] = {str(k): v for k, v in places.projects.items()}
        elif name == "iasc_layer":
            out[name] = {layer.value: layer.label for layer in IascLayer}
        elif name == "activity":
            from shared.taxonomy.activities import activities

            out[name] = {a.code: a.name for a in activities().values()}
        elif name == "item":
            out[name] = materials()
    return out


ORGANISATION_DIMS = (
    "organisation",
    "lead_organisation",
    "partner_organisation",
    "participant_organisation",
)


def qualified_since(
    store: FactStore, competent_level: int = 3
) -> dict[tuple[Any, str], int]:
    """(organisation id, staff id) -> first day the person was certified
    or assessed competent. A staff code is the registering
    organisation's own: another organisation's trainee with the same
    code is someone else."""
    trainees = store.frames["trainees"]
    staff_of: dict[Any, tuple[Any, str]] = {}
    ids = trainees.vocab["trainee_id"].values
    organisations = trainees.vocab["organisation_id"].values
    staff = trainees.vocab["staff_id"].values
    present = trainees.present[: trainees.size]
    known = (trainees.col("staff_id") >= 0) & (trainees.col("organisation_id") >= 0)
    for row in np.flatnonzero(present & known):
        organisation = organisations[trainees.col("organisation_id")[row]]
        staff_of[(organisation, ids[trainees.col("trainee_id")[row]])] = (
            organisation,
            staff[trainees.col("staff_id")[row]],
        )
    since: dict[tuple[Any, str], int] = {}

    def note(frame: Frame, rows: Mask, date_column: str) -> None:
        """A decision counts only when the trainee's organisation made it."""
        tid = frame.col("trainee_id")
        oid = frame.col("organisation_id")
        days = frame.col(date_column)
        vocab = frame.vocab["trainee_id"].values
        deciders = frame.vocab["organisation_id"].values
        for row in np.flatnonzero(rows & (oid >= 0)):
            code = staff_of.get((deciders[oid[row]], vocab[tid[row]]))
            if code is None or days[row] == NO_DATE:
                continue
            if code[0] == deciders[oid[row]]:
                since[code] = min(since.get(code, int(days[row])), int(days[row]))

    results = store.frames["results"]
    note(
        results,
        results.present[: results.size] & results.col("certified"),
        "decided_on",
    )
    competency = store.frames["competency"]
    note(
        competency,
        competency.present[: competency.size]
        & (competency.col("overall_level") >= competent_level),
        "assessed_on",
    )
    return since


ROW_CHUNK = 250_000
"""Service rows checked at a time for what is kept per row (qualified staff,
practice links), so the check's int64 scratch stays small."""


UNKNOWN_STAFF, KNOWN_STAFF, QUALIFIED_STAFF = 0, 1, 2


def staff_states(store: FactStore) -> NDArray[np.int8]:
    """Per service row (the whole frame, once per store state, a byte per
    row): whether its staff code is unknown, known, or was qualified on or
    before the service date, within the organisation that delivered it or
    the programme's lead (which trains its partners' staff). A row's answer
    depends on its own columns only, so each query takes its rows' cut
    instead of looking them up again."""
    found = store.derived.get(("staff states",))
    if found is None:
        services = store.frames["services"]
        since = qualified_since(store)
        lookups = [_qualified_days(services, column, since) for column in _QUALIFIERS]
        staff, dates = services.col("staff_id"), services.col("service_date")
        found = np.zeros(services.size, np.int8)
        for at in range(0, services.size, ROW_CHUNK):
            rows = slice(at, at + ROW_CHUNK)
            code = staff[rows].astype(np.int64)
            first = np.full(len(code), np.iinfo(np.int32).max, np.int64)
            for column, (keys, days, width) in zip(_QUALIFIERS, lookups, strict=True):
                if not len(keys):
                    continue
                organisation = services.col(column)[rows].astype(np.int64)
                wanted = organisation * width + code
                where = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
                hit = (keys[where] == wanted) & (code >= 0) & (organisation >= 0)
                np.minimum(first, np.where(hit, days[where], first), out=first)
            found[rows] = np.where(
                first <= dates[rows],
                QUALIFIED_STAFF,
                np.where(code >= 0, KNOWN_STAFF, UNKNOWN_STAFF),
            )
        store.derived[("staff states",)] = found
    states: NDArray[np.int8] = found
    return states


_QUALIFIERS = ("organisation_id", "lead_organisation_id")


def _qualified_days(
    services: Frame, column: str, since: dict[tuple[Any, str], int]
) -> tuple[IntArray, IntArray, int]:
    """The (organisation code in ``column``, staff code) pairs qualified, as
    sorted keys, with the first day each was."""
    width = len(services.vocab["staff_id"].values) + 1
    organisations = {v: i for i, v in enumerate(services.vocab[column].values)}
    staff = {v: i for i, v in enumerate(services.vocab["staff_id"].values)}
    days = {
        organisations[o] * width + staff[s]: day
        for (o, s), day in since.items()
        if o in organisations and s in staff
    }
    keys = np.array(sorted(days), np.int64)
    return keys, np.array([days[k] for k in keys], np.int64), width


def _counted(
    fact: str,
    weight: str | None = None,
    only: str | None = None,
    *,
    whole_weights: bool = False,
) -> Measure:
    """Rows (those whose boolean column ``only`` is set), or the sum of a
    column ``weight`` over them."""

    def compute(
        ev: Evaluator, q: Query, mask: Mask, group: Codes, groups: int
    ) -> Computed:
        if groups == 1 and only is not None and (weight is None or whole_weights):
            # a total of some rows (anonymous lines): over the frame, no cut
            where = mask & ev.store.frames[FACT_FRAMES[fact]].col(only)
            total = (
                np.count_nonzero(where)
                if weight is None
                else ev.frame_weights(fact, weight).total(where)
            )
            return np.array([total], np.float64), zeros(1)
        weights: NDArray[Any] | Weights | None = None
        if weight is not None and whole_weights:
            weights = ev.weights(fact, q, weight)
        elif weight is not None:
            weights = ev.column(fact, q, weight)
        keep = None if only is None else ev.column(fact, q, only)
        return ev.count(group, groups, weights, where=keep), zeros(groups)

    adds_up = weight is None or whole_weights
    return Measure(fact, "count", grouped(compute, adds_up=adds_up), whole=adds_up)


def _per_organisation(ids: IntArray, organisations: NDArray[Any]) -> IntArray:
    """Dense codes of the (organisation, id) pairs (-1 where no id)."""
    if not len(ids):
        return ids
    pairs = np.stack([organisations.astype(np.int64), ids])
    _, inverse = np.unique(pairs, axis=1, return_inverse=True)
    return np.where(ids >= 0, inverse.reshape(-1), -1)


def _distinct(
    fact: str,
    who: str,
    only: str | None = None,
    *,
    keep: Callable[[Evaluator], Mask] | None = None,
) -> Measure:
    """Distinct ``who`` (a person or trainee) among the rows (those whose
    boolean column ``only`` is set, or that ``keep`` keeps of the whole
    fact). With ``keep`` (few rows: practice clients), the people of a table
    by their own attributes are found on the rows it keeps alone
    (``counted_rows``), not on ids for every row of the query."""

    def ids(ev: Evaluator, q: Query) -> NDArray[np.signedinteger[Any]]:
        found = ev.column(fact, q, who)  # int32: distinct_tables widens
        if who in ("trainee_id", "record_id"):  # ids are per organisation
            found = _per_organisation(
                found.astype(np.int64), ev.column(fact, q, "organisation_id")
            )
        if only is not None:
            found = np.where(ev.column(fact, q, only), found, -1)
        if keep is not None:
            found = np.where(keep(ev)[ev.rows(fact, q)], found, -1)
        return found

    def counted_rows(ev: Evaluator, q: Query) -> IntArray:
        assert keep is not None
        rows = np.flatnonzero(keep(ev) & ev.rows(fact, q))
        found: IntArray = rows[ev.store.frames[FACT_FRAMES[fact]].col(who)[rows] >= 0]
        return found

    def tables(
        ev: Evaluator,
        q: Query,
        mask: Mask,
        parts: Sequence[Codes],
        sizes: Sequence[int],
    ) -> Tables:
        counted = distinct_tables(parts, sizes, ids(ev, q))
        return {axes: (found, zeros(len(found))) for axes, found in counted.items()}

    sparse = keep is not None and only is None and who == "beneficiary_key"
    return Measure(
        fact,
        "count",
        tables,
        whole=True,
        person=who,
        ids=ids,
        counted_rows=counted_rows if sparse else None,
    )


def _practice_linked(ev: Evaluator) -> Mask:
    """Services on the attendance of a group session that a supervised
    practice session of the same organisation was recorded as (any practice
    session, of any period: the group session is the one held that day).
    Group activity ids are unique within an organisation only, so a link is
    the pair (organisation, group session). Marked per service row once per
    store state, kept as bits (a row's own columns decide it); a query takes
    its rows of every row's mark."""
    services = ev.store.frames["services"]
    found = ev.store.derived.get(("practice_linked",))
    if found is None:
        organisations = services.vocab["organisation_id"]
        width = max(len(organisations.values), 1)
        practice = ev.store.frames["practice"]
        present = practice.present[: practice.size]
        sessions = practice.vocab["group_session_id"].values
        owners = practice.vocab["organisation_id"].values
        linked = {
            (owners[o], sessions[g])
            for o, g in zip(
                practice.col("organisation_id")[present].tolist(),
                practice.col("group_session_id")[present].tolist(),
                strict=True,
            )
            if g >= 0 and o >= 0
        }
        groups = services.vocab["group_activity_id"]
        codes = np.array(
            sorted(
                g * width + o
                for owner, session in linked
                if (g := groups.lookup(session)) is not None
                and (o := organisations.lookup(owner)) is not None
            ),
            np.int64,
        )
        found = np.zeros(services.size, bool)
        for at in range(0, services.size, ROW_CHUNK):
            rows = slice(at, at + ROW_CHUNK)
            keys = services.col("group_activity_id")[rows].astype(np.int64)
            keys *= width
            keys += services.col("organisation_id")[rows]
            found[rows] = np.isin(keys, codes)
        found = ev.store.derived[("practice_linked",)] = np.packbits(found)
    marked: Mask = np.unpackbits(found, count=services.size).view(np.bool_)
    return marked


def _mean(fact: str, value: Callable[[Frame], NDArray[np.float64]]) -> Measure:
    def compute(
        ev: Evaluator, q: Query, mask: Mask, group: Codes, groups: int
    ) -> Computed:
        frame = ev.store.frames[FACT_FRAMES[fact]]
        values = value(frame)[mask]
        keep = ~np.isnan(values)
        total = ev.count(group[keep], groups, values[keep])
        return total, ev.count(group[keep], groups)

    return Measure(fact, "mean", grouped(compute, adds_up=False))


def _satisfied_share(
    ev: Evaluator, q: Query, mask: Mask, group: Codes, groups: int
) -> Computed:
    """Items answered satisfied (yes, or 4 or 5), among items answered."""
    satisfied = ev.column("feedback", q, "satisfied")
    return ev.count(group[satisfied], groups), ev.count(group, groups)


def _qualified_share(
    ev: Evaluator, q: Query, mask: Mask, group: Codes, groups: int
) -> Computed:
    """Services (people served) by staff certified, or assessed at a
    competent level, on or before the service date, among services whose
    staff is known. With no dims, totals over the frame's rows: no cut."""
    if groups == 1:
        states, people = staff_states(ev.store), ev.frame_weights("services", "people")
        return (
            np.array([people.total(mask & (states == QUALIFIED_STAFF))], np.float64),
            np.array([people.total(mask & (states != UNKNOWN_STAFF))], np.float64),
        )
    state = staff_states(ev.store)[mask]  # kept by none
    weights = ev.weights("services", q, "people")
    return (
        ev.count(group, groups, weights, where=state == QUALIFIED_STAFF),
        ev.count(group, groups, weights, where=state != UNKNOWN_STAFF),
    )


def _improved_share(
    ev: Evaluator, q: Query, mask: Mask, group: Codes, groups: int
) -> Computed:
    """Cases whose latest follow-up in the period improved on baseline by
    at least the rule's threshold, on any of the rule's instruments; the
    denominator is cases with a baseline and such a follow-up. Grouped by the
    case's dims at its latest follow-up row.

    Per (case, instrument): the baseline is the earliest baseline row up to
    the period's end, the follow-up the latest non-baseline row in the
    period (the first row on equal days). A case is grouped at its latest
    follow-up over instruments; on equal days, at the instrument whose first
    follow-up row in the period comes first."""
    frame = ev.store.frames["assessments"]
    rules = {r["instrument"]: r for r in q.parameters.get("improvement", [])}
    names = list(rules)
    values = _rule_scores(ev, rules)
    rule_of = np.array(
        [
            names.index(name) if name in rules else -1
            for name in (str(v).split("@")[0] for v in frame.vocab["instrument"].values)
        ],
        np.int64,
    )[frame.col("instrument")]
    is_baseline = np.array(
        [v == "baseline" for v in frame.vocab["timepoint"].values], bool
    )[frame.col("timepoint")]
    days = frame.col("administered_on").astype(np.int64)
    organisations = max(len(frame.vocab["organisation_id"].values), 1)
    case = (  # case ids are unique per organisation only
        frame.col("case_id").astype(np.int64) * organisations
        + frame.col("organisation_id").astype(np.int64)
    )
    key = case * max(len(names), 1) + rule_of
    usable = (
        frame.present[: frame.size] & (days <= day_number(q.end)) & ~np.isnan(values)
    )

    def first_per_key(rows: IntArray, day_order: IntArray) -> IntArray:
        """The first row of each key, by ``day_order`` then row."""
        ordered = rows[_by_key_then_day(key[rows], day_order[rows])]
        starts = np.ones(len(ordered), bool)
        starts[1:] = key[ordered][1:] != key[ordered][:-1]
        return ordered[starts]

    baseline = first_per_key(np.flatnonzero(usable & is_baseline), days)
    follow_rows = np.flatnonzero(usable & ~is_baseline & mask)
    latest = first_per_key(follow_rows, -days)
    first_seen = follow_rows[np.unique(key[follow_rows], return_index=True)[1]]
    if len(baseline) == 0 or len(latest) == 0:
        return zeros(groups), zeros(groups)
    base = baseline[
        np.minimum(np.searchsorted(key[baseline], key[latest]), len(baseline) - 1)
    ]
    valid = (key[base] == key[latest]) & (days[base] <= days[latest])
    if not valid.any():
        return zeros(groups), zeros(groups)
    base, latest, first_seen = base[valid], latest[valid], first_seen[valid]
    rule = rule_of[latest]
    lower = np.array([rules[n].get("better", "lower") == "lower" for n in names])
    threshold = np.array([float(rules[n]["threshold"]) for n in names])
    change = values[latest] - values[base]
    gain = np.where(lower[rule], -change, change)
    better = gain >= threshold[rule]
    case = key[latest] // max(len(names), 1)
    order = np.lexsort((first_seen, -days[latest], case))
    starts = np.ones(len(order), bool)
    starts[1:] = case[order][1:] != case[order][:-1]
    improved = np.logical_or.reduceat(better[order], np.flatnonzero(starts))
    where = latest[order][starts]
    g = group[np.searchsorted(np.flatnonzero(mask), where)]
    return (
        np.bincount(g, weights=improved, minlength=groups).astype(np.float64),
        np.bincount(g, minlength=groups).astype(np.float64),
    )


ONE_SORT_LIMIT = 2**62
"""The largest key x days that ``_by_key_then_day`` sorts as one number."""


def _by_key_then_day(key: IntArray, day: IntArray) -> IntArray:
    """The order of rows (given in row order) by key, then day, then row:
    one stable sort of key x days + day when that fits in 64 bits (about
    half a three-key ``lexsort``'s time), else the ``lexsort``."""
    if not len(key):
        return np.zeros(0, np.int64)
    low, high = int(day.min()), int(day.max())
    days = high - low + 1
    widest = max(abs(int(key.min())), abs(int(key.max())) + 1) * days
    if widest >= ONE_SORT_LIMIT:
        found: IntArray = np.lexsort((np.arange(len(key)), day, key))
        return found
    return np.argsort(key * days + (day - low), kind="stable")


def _completer_change(
    ev: Evaluator, q: Query, mask: Mask, group: Codes, groups: int
) -> Computed:
    """Per enrolment completed in the period (its status date in it), the
    person's change on the ``outcome`` instrument's score: the latest
    non-baseline assessment from the enrolment date to the period's end,
    less the latest baseline on or before the enrolment date (or, if none,
    the earliest baseline before that follow-up). Completers without both
    are left out; the value is the mean change over the others."""
    rule = q.parameters["outcome"]
    rules = {str(rule["instrument"]): rule}
    scores = _rule_scores(ev, rules)
    assessments = ev.store.frames["assessments"]
    instrument_ok = np.array(
        [
            str(v).split("@")[0] == rule["instrument"]
            for v in assessments.vocab["instrument"].values
        ]
        + [False]
    )
    codes = assessments.col("instrument").astype(np.int64)
    usable = (
        assessments.present[: assessments.size]
        & instrument_ok[np.where(codes < 0, len(instrument_ok) - 1, codes)]
        & ~np.isnan(scores)
        & (assessments.col("beneficiary_key") >= 0)
    )
    baseline_code = [v == "baseline" for v in assessments.vocab["timepoint"].values] + [
        False
    ]
    timepoints = assessments.col("timepoint").astype(np.int64)
    by_person: dict[int, list[tuple[int, bool, float]]] = {}
    people = assessments.col("beneficiary_key")
    days = assessments.col("administered_on")
    for row in np.flatnonzero(usable).tolist():
        by_person.setdefault(int(people[row]), []).append(
            (int(days[row]), bool(baseline_code[timepoints[row]]), float(scores[row]))
        )
    completed = ev.column("enrolment_outcomes", q, "completed").astype(bool)
    person = ev.column("enrolment_outcomes", q, "beneficiary_key")
    enrolled = ev.column("enrolment_outcomes", q, "enrolled_on")
    end = day_number(q.end)
    change = np.full(len(group), np.nan)
    for i in np.flatnonzero(completed & (person >= 0)).tolist():
        rows = sorted(by_person.get(int(person[i]), []))
        start = int(enrolled[i])
        after = [r for r in rows if not r[1] and start <= r[0] <= end]
        if not after:
            continue
        follow = after[-1]
        before = [r for r in rows if r[1] and r[0] <= start]
        base = (
            before[-1]
            if before
            else next((r for r in rows if r[1] and r[0] <= follow[0]), None)
        )
        if base is not None:
            change[i] = follow[2] - base[2]
    keep = ~np.isnan(change)
    return ev.count(group[keep], groups, change[keep]), ev.count(group[keep], groups)


def _rule_scores(ev: Evaluator, rules: dict[str, Any]) -> NDArray[np.float64]:
    """Each assessment row's score named by its instrument's rule (NaN: no
    rule or no such score), once per store state and rules."""
    key = ("rule_scores", tuple(sorted((n, str(r["score"])) for n, r in rules.items())))
    found = ev.store.derived.get(key)
    if found is None:
        frame = ev.store.frames["assessments"]
        score_of = [
            rules.get(str(v).split("@")[0], {}).get("score")
            for v in frame.vocab["instrument"].values
        ]
        codes = frame.col("instrument")
        scores = frame.col("scores")
        found = np.full(frame.size, np.nan)
        for row in np.flatnonzero(frame.present[: frame.size]).tolist():
            name = score_of[codes[row]]
            value = None if name is None else (scores[row] or {}).get(name)
            if value is not None:
                found[row] = float(value)
        ev.store.derived[key] = found
    values: NDArray[np.float64] = found
    return values


def _supervision_hours(
    ev: Evaluator, q: Query, mask: Mask, group: Codes, groups: int
) -> Computed:
    frame = ev.store.frames["supervision"]
    minutes = frame.col("duration_minutes")[mask].astype(np.float64)
    return ev.count(group, groups, minutes / 60.0), zeros(groups)


def _supervision_per_provider_month(
    ev: Evaluator, q: Query, mask: Mask, group: Codes, groups: int
) -> Computed:
    """Supervisee-hours over (distinct supervisees x months in the period):
    the mean monthly hours of supervision each supervised provider received."""
    frame = ev.store.frames["supervision"]
    minutes = frame.col("duration_minutes")[mask].astype(np.float64)
    column = frame.col("supervisee_ids")
    supervisees = [column[i] or [] for i in np.flatnonzero(mask)]
    hours = zeros(groups)
    people: list[set[str]] = [set() for _ in range(groups)]
    for g, m, who in zip(group.tolist(), minutes.tolist(), supervisees, strict=True):
        hours[g] += m / 60.0 * len(who)
        people[g].update(who)
    months = (q.end.year - q.start.year) * 12 + q.end.month - q.start.month + 1
    return hours, np.array([len(p) * months for p in people], np.float64)


def _participant_organisations(
    ev: Evaluator,
    q: Query,
    mask: Mask,
    parts: Sequence[Codes],
    sizes: Sequence[int],
) -> Tables:
    """Distinct organisations the present trainees work for (their own,
    not the cohort's partner's); trainees with none on record are left out."""
    dim = ev.dim("attendance", "participant_organisation")
    codes = ev.codes("attendance", q, "participant_organisation").astype(np.int64)
    ids = np.where(codes == dim.labels.index(UNKNOWN), -1, codes)
    counted = distinct_tables(parts, sizes, ids)
    return {axes: (found, zeros(len(found))) for axes, found in counted.items()}


def _mentoring_hours(
    ev: Evaluator, q: Query, mask: Mask, group: Codes, groups: int
) -> Computed:
    frame = ev.store.frames["mentoring"]
    minutes = frame.col("duration_minutes")[mask].astype(np.float64)
    return ev.count(group, groups, minutes / 60.0), zeros(groups)


def _capacity_change(
    ev: Evaluator, q: Query, mask: Mask, group: Codes, groups: int
) -> Computed:
    """Per (group, assessing organisation, tool, assessed organisation,
    domain): the latest follow-up score minus the first baseline score in
    the period; summed over the pairs that have both, and divided by their
    number (the mean change). A follow-up's group decides the pair's; its
    baseline is the first one in the period whatever its own project (a
    baseline is often taken before the project is set up), so a breakdown
    or filter by project counts the change its follow-ups measured."""
    frame = ev.store.frames["capacity_score"]
    timepoints = frame.vocab["timepoint"].values
    names = ("organisation_id", "tool", "assessed_organisation_id", "domain")
    columns = [frame.col(name) for name in names]
    days, scores = frame.col("assessed_on"), frame.col("score")
    baseline = np.array([t == "baseline" for t in timepoints] + [False])
    is_baseline = baseline[frame.col("timepoint")]
    unfiltered = replace(
        q, filters={k: v for k, v in q.filters.items() if k != "project"}
    )
    first: dict[tuple[int, ...], tuple[int, float]] = {}
    baselines = np.flatnonzero(ev.rows("capacity_score", unfiltered) & is_baseline)
    for i in baselines.tolist():
        key = tuple(int(c[i]) for c in columns)
        seen = (int(days[i]), float(scores[i]))
        if key not in first or seen[0] < first[key][0]:
            first[key] = seen
    last: dict[tuple[int, ...], tuple[int, float]] = {}
    rows = np.flatnonzero(mask)
    for row, g in zip(rows.tolist(), group.tolist(), strict=True):
        if is_baseline[row]:
            continue
        key = (int(g), *(int(c[row]) for c in columns))
        seen = (int(days[row]), float(scores[row]))
        if key not in last or seen[0] >= last[key][0]:
            last[key] = seen
    change, pairs = zeros(groups), zeros(groups)
    for (g, *pair), (day, score) in last.items():
        before = first.get(tuple(pair))
        if before is not None and before[0] <= day:
            change[g] += score - before[1]
            pairs[g] += 1
    return change, pairs


def _alive(frame: Frame) -> Mask:
    alive: Mask = frame.col("alive")
    return alive


def _registered_person(frame: Frame) -> Mask:
    real: Mask = (frame.col("position") > 0) & ~frame.col("erased")
    return real


def _present(frame: Frame) -> Mask:
    present: Mask = frame.col("present")
    return present


def _completed(frame: Frame) -> Mask:
    completed: Mask = frame.col("completed")
    return completed


def _acknowledged(frame: Frame) -> Mask:
    acknowledged: Mask = frame.col("acknowledged")
    return acknowledged


def _certified(frame: Frame) -> Mask:
    certified: Mask = frame.col("certified")
    return certified


FACT_FRAMES = {
    "services": "services",
    "group_activities": "group_activities",
    "group_participation": "group_participation",
    "group_series": "group_series",
    "beneficiaries": "beneficiaries",
    "referrals": "referrals",
    "cases": "cases",
    "case_problems": "case_problems",
    "service_topics": "service_topics",
    "risk_alerts": "risk_alerts",
    "risk_alerts_acknowledged": "risk_alerts",
    "assessments": "assessments",
    "attendance": "attendance",
    "capacity": "capacity",
    "enrolments": "enrolments",
    "enrolment_outcomes": "enrolments",
    "intervention_sessions": "intervention_sessions",
    "results": "results",
    "practice": "practice",
    "supervision": "supervision",
    "mapping": "mapping",
    "capacity_score": "capacity_score",
    "selection": "selection",
    "mentoring": "mentoring",
    "action_points": "action_points",
    "materials": "materials",
    "feedback": "feedback",
}
FACT_ROWS: dict[str, tuple[str, Callable[[Frame], Mask] | None]] = {
    "services": ("service_date", _alive),
    "group_activities": ("held_on", _alive),
    "group_participation": ("held_on", _alive),
    "group_series": ("starts_on", _alive),
    "beneficiaries": ("registration_date", _registered_person),
    "referrals": ("sent_on", None),
    "cases": ("opened_on", None),
    "case_problems": ("opened_on", _alive),
    "service_topics": ("service_date", _alive),
    "risk_alerts": ("raised_on", None),
    "risk_alerts_acknowledged": ("acknowledged_on", _acknowledged),
    "assessments": ("administered_on", None),
    "attendance": ("held_on", _present),
    "capacity": ("held_on", _alive),
    "enrolments": ("enrolled_on", None),
    "enrolment_outcomes": ("status_on", None),
    "intervention_sessions": ("held_on", _alive),
    "results": ("decided_on", None),
    "practice": ("held_on", None),
    "supervision": ("held_on", None),
    "mapping": ("conducted_on", None),
    "capacity_score": ("assessed_on", None),
    "selection": ("decided_on", None),
    "mentoring": ("held_on", None),
    "action_points": ("completed_on", _completed),
    "materials": ("distributed_on", _alive),
    "feedback": ("answered_on", _alive),
}
_PERSON = {
    "sex": "person:beneficiary_key",
    "nationality": "person:beneficiary_key",
    "age_group": "person:beneficiary_key",
    "marital_status": "person:beneficiary_key",
    "disability": "person:beneficiary_key",
    "displacement_status": "person:beneficiary_key",
}
_PLACES = {
    "governorate": "place:site_id:governorate",
    "district": "place:site_id:district",
    "site": "place:site_id:site",
}
_TRAINEE = {
    "audience": "trainee:audience",
    "sex": "trainee:sex",
    "participant_organisation": "trainee:affiliation_organisation_id",
}
FACT_DIMS: dict[str, dict[str, str]] = {
    "services": {
        **_PERSON,
        **_PLACES,
        "organisation": "organisation_id",
        "lead_organisation": "lead_organisation_id",
        "delivered_through": "delivered_through",
        "iasc_layer": "iasc_layer",
        "activity": "activity_code",
        "modality": "modality",
        "team": "team_id",
        "delivery_mode": "delivery_mode",
        "project": "project_id",
        "series": "series_id",
        "topic": "topic_code",
        "language": "language",
        "month": "month:service_date",
    },
    "group_activities": {
        **_PLACES,
        "organisation": "organisation_id",
        "lead_organisation": "lead_organisation_id",
        "delivered_through": "delivered_through",
        "iasc_layer": "iasc_layer",
        "activity": "activity_code",
        "unit": "unit",
        "modality": "modality",
        "series": "series_id",
        "topic": "topic_code",
        "language": "language",
        "team": "team_id",
        "delivery_mode": "delivery_mode",
        "project": "project_id",
        "month": "month:held_on",
    },
    "group_series": {
        **_PLACES,
        "organisation": "organisation_id",
        "activity": "activity_code",
        "topic": "topic_code",
        "series": "series_id",
        "month": "month:starts_on",
    },
    "group_participation": {
        **_PLACES,
        "organisation": "organisation_id",
        "lead_organisation": "lead_organisation_id",
        "delivered_through": "delivered_through",
        "activity": "activity_code",
        "unit": "unit",
        "modality": "modality",
        "participant_organisation": "participant_organisation_id",
        "team": "team_id",
        "delivery_mode": "delivery_mode",
        "project": "project_id",
        "month": "month:held_on",
    },
    "beneficiaries": {
        "sex": "sex",
        "age_group": "person:key",
        "marital_status": "marital_status",
        "disability": "disability",
        "displacement_status": "displacement_status",
        "nationality": "nationality",
        **_PLACES,
        "organisation": "organisation_id",
        "registration_channel": "registration_channel",
        "month": "month:registration_date",
    },
    "referrals": {
        **_PERSON,
        **_PLACES,
        "organisation": "organisation_id",
        "kind": "kind",
        "area": "area",
        "status": "status",
        "month": "month:sent_on",
    },
    "cases": {
        **_PERSON,
        **_PLACES,
        "organisation": "organisation_id",
        "status": "status",
        "risk_level": "risk_level",
        "iasc_layer": "iasc_layer_needed",
        "month": "month:opened_on",
    },
    "case_problems": {
        **_PERSON,
        **_PLACES,
        "organisation": "organisation_id",
        "presenting_problem": "problem",
        "status": "status",
        "month": "month:opened_on",
    },
    "service_topics": {
        **_PLACES,
        "sex": "person:beneficiary_key",
        "organisation": "organisation_id",
        "lead_organisation": "lead_organisation_id",
        "activity": "activity_code",
        "topic": "topic",
        "language": "language",
        "team": "team_id",
        "project": "project_id",
        "month": "month:service_date",
    },
    "risk_alerts": {
        **_PLACES,
        "organisation": "organisation_id",
        "risk_type": "risk_type",
        "month": "month:raised_on",
    },
    "risk_alerts_acknowledged": {
        **_PLACES,
        "organisation": "organisation_id",
        "risk_type": "risk_type",
        "month": "month:acknowledged_on",
    },
    "assessments": {
        **_PERSON,
        "organisation": "organisation_id",
        "instrument": "instrument",
        "month": "month:administered_on",
    },
    "attendance": {
        **_TRAINEE,
        "organisation": "organisation_id",
        "partner_organisation": "partner_organisation_id",
        "course": "course_id",
        "approach": "course_approach",
        "course_level": "course_level",
        "training_modality": "modality",
        "topic": "topic_code",
        "project": "project_id",
        **_PLACES,
        "month": "month:held_on",
    },
    "enrolments": {
        **_PERSON,
        **_PLACES,
        "organisation": "organisation_id",
        "intervention": "intervention",
        "problem_area": "problem_area",
        "status": "status",
        "month": "month:enrolled_on",
    },
    "enrolment_outcomes": {
        **_PERSON,
        **_PLACES,
        "organisation": "organisation_id",
        "intervention": "intervention",
        "problem_area": "problem_area",
        "status": "status",
        "month": "month:status_on",
    },
    "intervention_sessions": {
        **_PERSON,
        **_PLACES,
        "organisation": "organisation_id",
        "intervention": "intervention",
        "month": "month:held_on",
    },
    "capacity": {
        **_TRAINEE,
        "organisation": "organisation_id",
        "component": "component",
        "project": "project_id",
        "month": "month:held_on",
    },
    "results": {
        **_TRAINEE,
        "organisation": "organisation_id",
        "course": "course_id",
        "project": "project_id",
        "course_level": "course_level",
        "month": "month:decided_on",
    },
    "practice": {
        "organisation": "organisation_id",
        "phase": "phase",
        "month": "month:held_on",
    },
    "supervision": {
        "organisation": "organisation_id",
        "component": "purpose",
        "month": "month:held_on",
    },
    "mapping": {
        "organisation": "organisation_id",
        "governorate": "place:location_id:governorate",
        "district": "place:location_id:district",
        "month": "month:conducted_on",
    },
    "capacity_score": {
        "organisation": "organisation_id",
        "domain": "domain",
        "tool": "tool",
        "timepoint": "timepoint",
        "project": "project_id",
        "month": "month:assessed_on",
    },
    "selection": {
        "organisation": "organisation_id",
        "score_band": "score_band",
        "month": "month:decided_on",
    },
    "mentoring": {
        "organisation": "organisation_id",
        "mode": "mode",
        "project": "project_id",
        "month": "month:held_on",
    },
    "action_points": {
        "organisation": "organisation_id",
        "project": "project_id",
        "month": "month:completed_on",
    },
    "materials": {
        **_PLACES,
        "organisation": "organisation_id",
        "lead_organisation": "lead_organisation_id",
        "item": "item_code",
        "language": "language",
        "activity": "activity_code",
        "team": "team_id",
        "project": "project_id",
        "month": "month:distributed_on",
    },
    "feedback": {
        **_PLACES,
        "organisation": "organisation_id",
        "lead_organisation": "lead_organisation_id",
        "form": "form",
        "question": "item",
        "activity": "activity_code",
        "course": "course_id",
        "team": "team_id",
        "project": "project_id",
        "month": "month:answered_on",
    },
}

MEASURES: dict[str, Measure] = {
    "services": _counted("services", weight="people", whole_weights=True),
    "people": _distinct("services", "beneficiary_key"),
    "anonymous_people": _counted(
        "services", weight="people", only="anonymous", whole_weights=True
    ),
    "qualified_services_share": Measure(
        "services", "share", grouped(_qualified_share, adds_up=True), whole=True
    ),
    "group_activities_held": _counted("group_activities"),
    "group_attendance": _counted(
        "group_activities", weight="attendees", whole_weights=True
    ),
    "mean_group_attendance": _mean(
        "group_activities", lambda f: f.col("attendees").astype(np.float64)
    ),
    "sessions_planned": _counted(
        "group_series", weight="planned_sessions", whole_weights=True
    ),
    "group_participants": _counted(
        "group_participation", weight="participants", whole_weights=True
    ),
    "enrolments": _counted("enrolments"),
    "people_completing": _distinct(
        "enrolment_outcomes", "beneficiary_key", only="completed"
    ),
    "enrolment_outcomes": _counted("enrolment_outcomes"),
    "completer_outcome_change": Measure(
        "enrolment_outcomes", "mean", grouped(_completer_change, adds_up=False)
    ),
    "intervention_sessions_attended": _counted("intervention_sessions"),
    "new_beneficiaries": _counted("beneficiaries"),
    "referrals": _counted("referrals"),
    "cases_opened": _counted("cases"),
    "cases_by_presenting_problem": _counted("case_problems"),
    "services_by_topic": _distinct("service_topics", "record_id"),
    "risk_alerts_raised": _counted("risk_alerts"),
    "risk_alerts_acknowledged": _counted("risk_alerts_acknowledged"),
    "improved_share": Measure(
        "assessments", "share", grouped(_improved_share, adds_up=True), whole=True
    ),
    "people_trained": _distinct("attendance", "trainee_id"),
    "training_participations": _counted("attendance"),
    "training_sessions": _distinct("attendance", "session_id"),
    "organisations_trained": Measure(
        "attendance", "count", _participant_organisations, whole=True
    ),
    "training_hours": _counted("attendance", weight="hours"),
    "capacity_building_services": _counted("capacity"),
    "people_certified": _distinct("results", "trainee_id", only="certified"),
    "practice_sessions": _counted("practice"),
    "practice_clients_reached": _distinct(
        "services", "beneficiary_key", keep=_practice_linked
    ),
    "recorded_sessions": _counted("practice", only="recorded"),
    "mean_fidelity": _mean("practice", lambda f: f.col("adherence_score")),
    "supervision_sessions": _counted("supervision"),
    "supervision_hours": Measure(
        "supervision", "count", grouped(_supervision_hours, adds_up=False)
    ),
    "supervision_hours_per_provider_month": Measure(
        "supervision", "rate", grouped(_supervision_per_provider_month, adds_up=False)
    ),
    "organisations_mapped": _distinct("mapping", "mapped_organisation_id"),
    "organisations_assessed": _distinct("capacity_score", "assessed_organisation_id"),
    "organisations_selected": _distinct(
        "selection", "candidate_organisation_id", only="selected"
    ),
    "mentoring_visits": _counted("mentoring"),
    "mentoring_hours": Measure(
        "mentoring", "count", grouped(_mentoring_hours, adds_up=False)
    ),
    "organisations_mentored": _distinct("mentoring", "mentored_organisation_id"),
    "action_points_completed": _counted("action_points"),
    "feedback_responses": _distinct("feedback", "response_id"),
    "feedback_mean_rating": _mean("feedback", lambda f: f.col("rating")),
    "feedback_satisfied_share": Measure(
        "feedback", "share", grouped(_satisfied_share, adds_up=True), whole=True
    ),
    "materials_distributed": _counted(
        "materials", weight="quantity", whole_weights=True
    ),
    "capacity_change": Measure(
        "capacity_score", "mean", grouped(_capacity_change, adds_up=False)
    ),
}
"""What an indicator file's ``measure`` may name, with the fact it reads."""


CATALOGUE = Catalogue(
    frames=FACT_FRAMES,
    rows=FACT_ROWS,
    dims=FACT_DIMS,
    enum_labels=ENUM_LABELS,
    measures=MEASURES,
    labels=dim_labels,
    ages={"services": "age_at_service", "beneficiaries": "age_at_registration"},
)


def evaluator(store: FactStore, bands: AgeBands) -> Evaluator:
    """An evaluator of this catalogue over one refreshed store."""
    return Evaluator(store, bands, CATALOGUE)
