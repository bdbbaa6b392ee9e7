"""Indicator arithmetic over the columnar store: filter, group, aggregate.

Every measure is exact. Distinct counts (people, trainees) mark each
(group, person) pair in a boolean matrix, or de-duplicate pair codes when the
matrix would be large; nothing is estimated. A measure sees only the rows of
its period, fixed filters, the caller's filters and the caller's scope.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
from numpy.typing import NDArray

from services.reporting.engine.store import (
    NO_DATE,
    FactStore,
    Frame,
    day_number,
)
from shared.contracts.enums import (
    CourseLevel,
    DeliveredThrough,
    DisabilityStatus,
    DisplacementStatus,
    MaritalStatus,
    Modality,
    Sex,
    TrainingAudience,
)
from shared.taxonomy.iasc import IascLayer

UNKNOWN = "unknown"
MATRIX_LIMIT = 64_000_000  # cells of the (group x person) matrix

IntArray = NDArray[np.int64]
Mask = NDArray[np.bool_]


class QueryError(ValueError):
    """A query the catalogue does not allow (unknown dim, bad filter)."""


@dataclass(frozen=True)
class AgeBands:
    """Age groups like ``0-17,18+``: labels ``0_17`` and ``18_plus``."""

    bounds: tuple[tuple[int, int | None], ...]

    @classmethod
    def parse(cls, text: str) -> AgeBands:
        bounds: list[tuple[int, int | None]] = []
        for part in text.split(","):
            part = part.strip()
            if part.endswith("+"):
                bounds.append((int(part[:-1]), None))
            else:
                first, last = part.split("-")
                bounds.append((int(first), int(last)))
        expected: int | None = 0
        for low, high in bounds:
            if low != expected:
                raise ValueError(f"age bands must be contiguous from 0: {text!r}")
            expected = None if high is None else high + 1
        if expected is not None:
            raise ValueError(f"the last age band must be open, like 60+: {text!r}")
        return cls(tuple(bounds))

    @property
    def labels(self) -> list[str]:
        return [
            f"{low}_plus" if high is None else f"{low}_{high}"
            for low, high in self.bounds
        ]

    def band(self, ages: NDArray[Any]) -> IntArray:
        """Band index per age; -1 where the age is unknown (negative)."""
        edges = np.array([low for low, _ in self.bounds[1:]])
        out = np.searchsorted(edges, ages, side="right").astype(np.int64)
        out[ages < 0] = -1
        return out

    def of_anonymous(self, group: str | None) -> int:
        """Anonymous counts only know under/over 18: map when a band says
        exactly that much, else unknown."""
        under = self.band(np.array([0, 17]))
        adult = self.band(np.array([18, 130]))
        if group == "under_18" and under[0] == under[1]:
            return int(under[0])
        if group == "adult" and adult[0] == adult[1]:
            return int(adult[0])
        return -1


@dataclass(frozen=True)
class Scope:
    """What a caller may see: None means no restriction on that axis."""

    organisations: frozenset[uuid.UUID] | None = None
    sites: frozenset[uuid.UUID] | None = None


@dataclass
class Query:
    measure: str
    start: date
    end: date
    by: Sequence[str] = ()
    filters: Mapping[str, Sequence[str]] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    scope: Scope = field(default_factory=Scope)


@dataclass
class Cell:
    key: tuple[str, ...]
    value: float | None
    numerator: float | None = None
    denominator: float | None = None


@dataclass
class Answer:
    dims: list[str]
    cells: list[Cell]
    total: Cell
    labels: dict[str, dict[str, str]]


@dataclass
class Dim:
    """A dimension resolved on a frame: a label index per row."""

    codes: IntArray
    labels: list[str]


def _encode(frame: Frame, column: str, labels: list[str] | None = None) -> Dim:
    """A categorical column as indices into ``labels`` (``unknown`` last)."""
    values = [str(v) for v in frame.vocab[column].values]
    if labels is None:
        labels = sorted(set(values))
    labels = [*labels, UNKNOWN] if UNKNOWN not in labels else list(labels)
    unknown = labels.index(UNKNOWN)
    mapping = np.array(
        [labels.index(v) if v in labels else unknown for v in values] + [unknown],
        np.int64,
    )
    raw = frame.col(column).astype(np.int64)
    return Dim(mapping[np.where(raw < 0, len(values), raw)], labels)


def _from_codes(codes: IntArray, labels: list[str]) -> Dim:
    labels = [*labels, UNKNOWN]
    return Dim(np.where(codes < 0, len(labels) - 1, codes), labels)


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
}


class Evaluator:
    """Answers queries against one refreshed store."""

    def __init__(self, store: FactStore, bands: AgeBands) -> None:
        self.store = store
        self.bands = bands

    # -- dimensions ---------------------------------------------------------

    def _person_dim(
        self, name: str, person: IntArray, end: date, frame: Frame | None = None
    ) -> Dim:
        """A person's attribute for rows pointing at beneficiary keys
        (``-1``: not a registered person)."""
        people = self.store.frames["beneficiaries"]
        safe = np.where(person >= 0, person, 0)
        if name == "age_group":
            birth = people.col("birth_year")[safe] if people.size else np.zeros(0)
            ages = np.where((person >= 0) & (birth > 0), end.year - birth, -1)
            banded = self.bands.band(ages)
            if frame is not None:  # anonymous lines carry their own group
                anonymous = frame.col("anonymous")
                own = np.array(
                    [
                        self.bands.of_anonymous(v)
                        for v in frame.vocab["age_group"].values
                    ]
                    + [-1],
                    np.int64,
                )
                raw = frame.col("age_group").astype(np.int64)
                mapped = own[np.where(raw < 0, len(own) - 1, raw)]
                banded = np.where(anonymous, mapped, banded)
            return _from_codes(banded, self.bands.labels)
        column = {"sex": "sex", "disability": "disability"}.get(name, name)
        labels = ENUM_LABELS.get(name)
        base = _encode(people, column, labels)
        found = base.codes[safe] if people.size else np.zeros(len(person), np.int64)
        unknown = base.labels.index(UNKNOWN)
        codes: IntArray = np.where(person >= 0, found, unknown)
        if frame is not None and name in ("sex", "disability"):
            lines = _encode(frame, name, base.labels)
            codes = np.where(frame.col("anonymous"), lines.codes, codes)
        return Dim(codes, base.labels)

    def _place_dim(self, frame: Frame, column: str, level: str) -> Dim:
        places = self.store.places
        values = frame.vocab[column].values
        labels: list[str] = []
        mapping = []
        for v in values:
            found = places.ancestor(v, level) if level != "site" else v
            label = str(found) if found is not None else UNKNOWN
            if label not in labels:
                labels.append(label)
            mapping.append(label)
        if UNKNOWN not in labels:
            labels.append(UNKNOWN)
        index = np.array([labels.index(m) for m in mapping] + [labels.index(UNKNOWN)])
        raw = frame.col(column).astype(np.int64)
        return Dim(index[np.where(raw < 0, len(values), raw)], labels)

    def _month_dim(self, days: NDArray[np.int32]) -> Dim:
        safe = np.where(days == NO_DATE, 0, days).astype("datetime64[D]")
        months = safe.astype("datetime64[M]")
        unique, codes = np.unique(months, return_inverse=True)
        return Dim(codes.astype(np.int64), [str(m) for m in unique])

    def dim(self, fact: str, name: str, end: date) -> Dim:
        """A dimension over every row of the fact, computed once per store
        state (the age group once per period end year): an overview's tables
        and a table's margins share them."""
        if name not in FACT_DIMS[fact]:
            raise QueryError(f"{name!r} is not a disaggregation of {fact}")
        key = (fact, name, end.year if name == "age_group" else None)
        found = self.store.derived.get(key)
        if not isinstance(found, Dim):
            found = self.store.derived[key] = self._dim(fact, name, end)
        return found

    def _dim(self, fact: str, name: str, end: date) -> Dim:
        frame = self.store.frames[FACT_FRAMES[fact]]
        source = FACT_DIMS[fact][name]
        if source == "person:key":  # the beneficiaries frame itself
            person = np.arange(frame.size, dtype=np.int64)
            return self._person_dim(name, person, end)
        if source.startswith("person:"):
            person = frame.col(source.split(":", 1)[1]).astype(np.int64)
            return self._person_dim(
                name, person, end, frame if fact == "services" else None
            )
        if source.startswith("place:"):
            _, column, level = source.split(":")
            return self._place_dim(frame, column, level)
        if source.startswith("month:"):
            return self._month_dim(frame.col(source.split(":", 1)[1]))
        if source.startswith("trainee:"):
            return self._trainee_dim(frame, source.split(":", 1)[1])
        return _encode(frame, source, ENUM_LABELS.get(name))

    def _trainee_dim(self, frame: Frame, column: str) -> Dim:
        trainees = self.store.frames["trainees"]
        base = _encode(trainees, column, ENUM_LABELS.get(column))
        row_of = self._trainee_rows(frame)
        unknown = base.labels.index(UNKNOWN)
        safe = np.where(row_of >= 0, row_of, 0)
        codes = base.codes[safe] if trainees.size else np.zeros(len(row_of), np.int64)
        return Dim(np.where(row_of >= 0, codes, unknown), base.labels)

    def _trainee_rows(self, frame: Frame) -> IntArray:
        """For each row of a training frame, the trainees-frame row (-1: none)."""
        trainees = self.store.frames["trainees"]
        by_id = {}
        ids = trainees.col("trainee_id")
        vocab = trainees.vocab["trainee_id"].values
        for row in np.flatnonzero(trainees.present[: trainees.size]):
            by_id[vocab[ids[row]]] = row
        mapping = np.array(
            [by_id.get(v, -1) for v in frame.vocab["trainee_id"].values] + [-1],
            np.int64,
        )
        raw = frame.col("trainee_id").astype(np.int64)
        return mapping[np.where(raw < 0, len(mapping) - 1, raw)]

    # -- rows ---------------------------------------------------------------

    def rows(self, fact: str, query: Query) -> Mask:
        """Rows of a fact in the period, filters and scope."""
        frame = self.store.frames[FACT_FRAMES[fact]]
        date_column, alive = FACT_ROWS[fact]
        mask = frame.present[: frame.size].copy()
        if alive:
            mask &= alive(frame)
        days = frame.col(date_column)
        mask &= (days >= day_number(query.start)) & (days <= day_number(query.end))
        mask &= self._scope(fact, frame, query.scope)
        for name, wanted in query.filters.items():
            dim = self.dim(fact, name, query.end)
            allowed = np.array([label in set(wanted) for label in dim.labels])
            mask &= allowed[dim.codes]
        return mask

    def _scope(self, fact: str, frame: Frame, scope: Scope) -> Mask:
        mask = np.ones(frame.size, bool)
        if scope.organisations is not None:
            visible = self.store.places.with_partners(scope.organisations)
            columns = ["organisation_id"]
            if fact == "services":
                columns.append("lead_organisation_id")
            seen = np.zeros(frame.size, bool)
            for column in columns:
                values = frame.vocab[column].values
                allowed = np.array([v in visible for v in values] + [False])
                raw = frame.col(column).astype(np.int64)
                seen |= allowed[np.where(raw < 0, len(values), raw)]
            mask &= seen
        if scope.sites is not None and "site_id" not in frame.vocab:
            mask &= False  # facts with no site are not a site's to see
        elif scope.sites is not None:
            values = frame.vocab["site_id"].values
            allowed = np.array([v in scope.sites for v in values] + [False])
            raw = frame.col("site_id").astype(np.int64)
            mask &= allowed[np.where(raw < 0, len(values), raw)]
        return mask

    # -- evaluation ---------------------------------------------------------

    def evaluate(self, query: Query, *, with_total: bool = True) -> Answer:
        """Cells of the query's disaggregation and, unless told not to (a
        table's margins need no total of their own), its total."""
        measure = MEASURES.get(query.measure)
        if measure is None:
            raise QueryError(f"unknown measure {query.measure!r}")
        fact = measure.fact
        mask = self.rows(fact, query)
        dims = [self.dim(fact, name, query.end) for name in query.by]
        group = np.zeros(int(mask.sum()), np.int64)
        sizes = [len(d.labels) for d in dims]
        for d in dims:
            group = group * len(d.labels) + d.codes[mask]
        groups = int(np.prod(sizes)) if sizes else 1
        numerator, denominator = measure.compute(self, query, mask, group, groups)
        if not dims:  # one group: it is the total
            total_num, total_den = numerator, denominator
        elif with_total:
            total_num, total_den = measure.compute(
                self, query, mask, np.zeros(len(group), np.int64), 1
            )
        else:
            total_num, total_den = np.full(1, np.nan), np.full(1, np.nan)
        cells = []
        for g in np.flatnonzero((numerator != 0) | (denominator != 0)):
            key = []
            rest = int(g)
            for size, d in zip(reversed(sizes), reversed(dims), strict=True):
                key.append(d.labels[rest % size])
                rest //= size
            cells.append(
                measure.cell(tuple(reversed(key)), numerator[g], denominator[g])
            )
        return Answer(
            dims=list(query.by),
            cells=cells,
            total=measure.cell((), total_num[0], total_den[0]),
            labels=self.labels(list(query.by)),
        )

    def labels(self, dims: list[str]) -> dict[str, dict[str, str]]:
        places = self.store.places
        out: dict[str, dict[str, str]] = {}
        for name in dims:
            if name in ("site", "district", "governorate"):
                out[name] = {str(k): v for k, v in places.names.items()}
            elif name in ("organisation", "lead_organisation"):
                out[name] = {str(k): v for k, v in places.organisations.items()}
            elif name == "iasc_layer":
                out[name] = {layer.value: layer.label for layer in IascLayer}
            elif name == "activity":
                from shared.taxonomy.activities import activities

                out[name] = {a.code: a.name for a in activities().values()}
        return out

    def qualified_since(self, competent_level: int = 3) -> dict[str, int]:
        """Staff id -> first day the person was certified or assessed competent."""
        trainees = self.store.frames["trainees"]
        staff_of: dict[Any, str] = {}
        ids = trainees.vocab["trainee_id"].values
        staff = trainees.vocab["staff_id"].values
        present = trainees.present[: trainees.size]
        for row in np.flatnonzero(present & (trainees.col("staff_id") >= 0)):
            staff_of[ids[trainees.col("trainee_id")[row]]] = staff[
                trainees.col("staff_id")[row]
            ]
        since: dict[str, int] = {}

        def note(frame: Frame, rows: Mask, date_column: str) -> None:
            tid = frame.col("trainee_id")
            days = frame.col(date_column)
            vocab = frame.vocab["trainee_id"].values
            for row in np.flatnonzero(rows):
                code = staff_of.get(vocab[tid[row]])
                if code is not None and days[row] != NO_DATE:
                    since[code] = min(since.get(code, int(days[row])), int(days[row]))

        results = self.store.frames["results"]
        note(
            results,
            results.present[: results.size] & results.col("certified"),
            "decided_on",
        )
        competency = self.store.frames["competency"]
        note(
            competency,
            competency.present[: competency.size]
            & (competency.col("overall_level") >= competent_level),
            "assessed_on",
        )
        return since

    # -- helpers used by measures -------------------------------------------

    @staticmethod
    def count(
        group: IntArray, groups: int, weights: NDArray[Any] | None = None
    ) -> NDArray[np.float64]:
        return np.bincount(group, weights=weights, minlength=groups).astype(np.float64)

    @staticmethod
    def distinct(group: IntArray, groups: int, who: IntArray) -> NDArray[np.float64]:
        """Exact number of distinct ``who`` (>= 0) per group."""
        keep = who >= 0
        group, who = group[keep], who[keep]
        if len(who) == 0:
            return np.zeros(groups)
        people = int(who.max()) + 1
        if groups * people <= MATRIX_LIMIT:
            seen = np.zeros((groups, people), bool)
            seen[group, who] = True
            counted: NDArray[np.float64] = seen.sum(axis=1).astype(np.float64)
            return counted
        pairs = np.unique(group * people + who)
        return np.bincount(pairs // people, minlength=groups).astype(np.float64)


# -- measures -----------------------------------------------------------------

Computed = tuple[NDArray[np.float64], NDArray[np.float64]]


@dataclass(frozen=True)
class Measure:
    fact: str
    kind: str  # count | share | mean | rate
    compute: Callable[[Evaluator, Query, Mask, IntArray, int], Computed]

    def cell(self, key: tuple[str, ...], numerator: float, denominator: float) -> Cell:
        if self.kind == "count":
            return Cell(key, float(numerator))
        if denominator == 0:
            return Cell(key, None, float(numerator), float(denominator))
        value = numerator / denominator
        if self.kind == "share":
            value *= 100
        return Cell(key, round(float(value), 4), float(numerator), float(denominator))


def _zeros(groups: int) -> NDArray[np.float64]:
    return np.zeros(groups, np.float64)


def _counted(
    fact: str, weight: str | None = None, only: Callable[[Frame], Mask] | None = None
) -> Measure:
    def compute(
        ev: Evaluator, q: Query, mask: Mask, group: IntArray, groups: int
    ) -> Computed:
        frame = ev.store.frames[FACT_FRAMES[fact]]
        keep = np.ones(len(group), bool) if only is None else only(frame)[mask]
        weights = (
            None if weight is None else frame.col(weight)[mask][keep].astype(np.float64)
        )
        return ev.count(group[keep], groups, weights), _zeros(groups)

    return Measure(fact, "count", compute)


def _distinct(
    fact: str, who: str, only: Callable[[Frame], Mask] | None = None
) -> Measure:
    def compute(
        ev: Evaluator, q: Query, mask: Mask, group: IntArray, groups: int
    ) -> Computed:
        frame = ev.store.frames[FACT_FRAMES[fact]]
        keep = np.ones(len(group), bool) if only is None else only(frame)[mask]
        ids = frame.col(who)[mask][keep].astype(np.int64)
        return ev.distinct(group[keep], groups, ids), _zeros(groups)

    return Measure(fact, "count", compute)


def _mean(fact: str, value: Callable[[Frame], NDArray[np.float64]]) -> Measure:
    def compute(
        ev: Evaluator, q: Query, mask: Mask, group: IntArray, groups: int
    ) -> Computed:
        frame = ev.store.frames[FACT_FRAMES[fact]]
        values = value(frame)[mask]
        keep = ~np.isnan(values)
        total = ev.count(group[keep], groups, values[keep])
        return total, ev.count(group[keep], groups)

    return Measure(fact, "mean", compute)


def _qualified_share(
    ev: Evaluator, q: Query, mask: Mask, group: IntArray, groups: int
) -> Computed:
    """Services (people served) by staff certified, or assessed at a
    competent level, on or before the service date, among services whose
    staff is known."""
    services = ev.store.frames["services"]
    qualified_from = ev.qualified_since()
    staff_vocab = services.vocab["staff_id"].values
    since = np.array(
        [qualified_from.get(s, np.iinfo(np.int32).max) for s in staff_vocab]
        + [np.iinfo(np.int32).max],
        np.int64,
    )
    raw = services.col("staff_id").astype(np.int64)[mask]
    known = raw >= 0
    dates = services.col("service_date")[mask]
    qualified = known & (since[np.where(known, raw, len(staff_vocab))] <= dates)
    weights = services.col("people")[mask].astype(np.float64)
    return (
        ev.count(group[qualified], groups, weights[qualified]),
        ev.count(group[known], groups, weights[known]),
    )


def _improved_share(
    ev: Evaluator, q: Query, mask: Mask, group: IntArray, groups: int
) -> Computed:
    """Cases whose latest follow-up in the period improved on baseline by
    at least the rule's threshold, on any of the rule's instruments; the
    denominator is cases with a baseline and such a follow-up. Grouped by the
    case's dims at its latest follow-up row."""
    frame = ev.store.frames["assessments"]
    rules = {r["instrument"]: r for r in q.parameters.get("improvement", [])}
    instruments = [str(v).split("@")[0] for v in frame.vocab["instrument"].values]
    timepoints = frame.vocab["timepoint"].values
    cases = frame.col("case_id")
    days = frame.col("administered_on")
    scores = frame.col("scores")
    instrument_codes = frame.col("instrument")
    timepoint_codes = frame.col("timepoint")
    rows_all = frame.present[: frame.size]
    index_of_row = np.full(frame.size, -1, np.int64)
    index_of_row[np.flatnonzero(mask)] = np.arange(int(mask.sum()))
    baseline: dict[tuple[int, str], tuple[int, float]] = {}
    latest: dict[tuple[int, str], tuple[int, float, int]] = {}
    end = day_number(q.end)
    for row in np.flatnonzero(rows_all & (days <= end)).tolist():
        instrument = instruments[instrument_codes[row]]
        rule = rules.get(instrument)
        if rule is None:
            continue
        value = (scores[row] or {}).get(rule["score"])
        if value is None:
            continue
        key = (int(cases[row]), instrument)
        day = int(days[row])
        if timepoints[timepoint_codes[row]] == "baseline":
            if key not in baseline or day < baseline[key][0]:
                baseline[key] = (day, float(value))
        elif mask[row] and (key not in latest or day > latest[key][0]):
            latest[key] = (day, float(value), int(row))
    improved: dict[int, bool] = {}
    where: dict[int, tuple[int, int]] = {}
    for key, (day, value, row) in latest.items():
        base = baseline.get(key)
        if base is None or base[0] > day:
            continue
        rule = rules[key[1]]
        change = value - base[1]
        gain = -change if rule.get("better", "lower") == "lower" else change
        case = key[0]
        improved[case] = improved.get(case, False) or gain >= float(rule["threshold"])
        if case not in where or day > where[case][0]:
            where[case] = (day, row)  # grouped by its latest follow-up
    numerator, denominator = _zeros(groups), _zeros(groups)
    for case, better in improved.items():
        g = group[index_of_row[where[case][1]]]
        denominator[g] += 1
        numerator[g] += better
    return numerator, denominator


def _supervision_hours(
    ev: Evaluator, q: Query, mask: Mask, group: IntArray, groups: int
) -> Computed:
    frame = ev.store.frames["supervision"]
    minutes = frame.col("duration_minutes")[mask].astype(np.float64)
    return ev.count(group, groups, minutes / 60.0), _zeros(groups)


def _supervision_per_provider_month(
    ev: Evaluator, q: Query, mask: Mask, group: IntArray, groups: int
) -> Computed:
    """Supervisee-hours over (distinct supervisees x months in the period):
    the mean monthly hours of supervision each supervised provider received."""
    frame = ev.store.frames["supervision"]
    minutes = frame.col("duration_minutes")[mask].astype(np.float64)
    supervisees = [frame.col("supervisee_ids")[i] or [] for i in np.flatnonzero(mask)]
    hours = _zeros(groups)
    people: list[set[str]] = [set() for _ in range(groups)]
    for g, m, who in zip(group.tolist(), minutes.tolist(), supervisees, strict=True):
        hours[g] += m / 60.0 * len(who)
        people[g].update(who)
    months = (q.end.year - q.start.year) * 12 + q.end.month - q.start.month + 1
    return hours, np.array([len(p) * months for p in people], np.float64)


def _alive(frame: Frame) -> Mask:
    alive: Mask = frame.col("alive")
    return alive


def _registered_person(frame: Frame) -> Mask:
    real: Mask = (frame.col("position") > 0) & ~frame.col("erased")
    return real


def _present(frame: Frame) -> Mask:
    present: Mask = frame.col("present")
    return present


def _certified(frame: Frame) -> Mask:
    certified: Mask = frame.col("certified")
    return certified


FACT_FRAMES = {
    "services": "services",
    "beneficiaries": "beneficiaries",
    "referrals": "referrals",
    "cases": "cases",
    "assessments": "assessments",
    "attendance": "attendance",
    "results": "results",
    "practice": "practice",
    "supervision": "supervision",
}
FACT_ROWS: dict[str, tuple[str, Callable[[Frame], Mask] | None]] = {
    "services": ("service_date", _alive),
    "beneficiaries": ("registration_date", _registered_person),
    "referrals": ("sent_on", None),
    "cases": ("opened_on", None),
    "assessments": ("administered_on", None),
    "attendance": ("held_on", _present),
    "results": ("decided_on", None),
    "practice": ("held_on", None),
    "supervision": ("held_on", None),
}
_PERSON = {
    "sex": "person:beneficiary_key",
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
_TRAINEE = {"audience": "trainee:audience", "sex": "trainee:sex"}
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
        "month": "month:service_date",
    },
    "beneficiaries": {
        "sex": "sex",
        "age_group": "person:key",
        "marital_status": "marital_status",
        "disability": "disability",
        "displacement_status": "displacement_status",
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
    "assessments": {
        **_PERSON,
        "organisation": "organisation_id",
        "instrument": "instrument",
        "month": "month:administered_on",
    },
    "attendance": {
        **_TRAINEE,
        "organisation": "organisation_id",
        "month": "month:held_on",
    },
    "results": {
        **_TRAINEE,
        "organisation": "organisation_id",
        "course_level": "course_level",
        "month": "month:decided_on",
    },
    "practice": {
        "organisation": "organisation_id",
        "phase": "phase",
        "month": "month:held_on",
    },
    "supervision": {"organisation": "organisation_id", "month": "month:held_on"},
}

MEASURES: dict[str, Measure] = {
    "services": _counted("services", weight="people"),
    "people": _distinct("services", "beneficiary_key"),
    "anonymous_people": _counted(
        "services", weight="people", only=lambda f: f.col("anonymous")
    ),
    "qualified_services_share": Measure("services", "share", _qualified_share),
    "new_beneficiaries": _counted("beneficiaries"),
    "referrals": _counted("referrals"),
    "cases_opened": _counted("cases"),
    "improved_share": Measure("assessments", "share", _improved_share),
    "people_trained": _distinct("attendance", "trainee_id"),
    "training_participations": _counted("attendance"),
    "training_hours": _counted("attendance", weight="hours"),
    "people_certified": _distinct("results", "trainee_id", only=_certified),
    "practice_sessions": _counted("practice"),
    "recorded_sessions": _counted("practice", only=lambda f: f.col("recorded")),
    "mean_fidelity": _mean("practice", lambda f: f.col("adherence_score")),
    "supervision_sessions": _counted("supervision"),
    "supervision_hours": Measure("supervision", "count", _supervision_hours),
    "supervision_hours_per_provider_month": Measure(
        "supervision", "rate", _supervision_per_provider_month
    ),
}
"""What an indicator file's ``measure`` may name, with the fact it reads."""
