"""Indicator arithmetic over the columnar store: filter, group, aggregate.

Every measure is exact. Distinct counts (people, trainees) mark each
(group, person) pair in a boolean matrix, or de-duplicate pair codes when the
matrix would be large; nothing is estimated. A measure sees only the rows of
its period, fixed filters, the caller's filters and the caller's scope.
"""

from __future__ import annotations

import itertools
import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

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
Axes = tuple[int, ...]
"""Positions in a query's ``by``: the dims a cell or margin keeps."""
T = TypeVar("T")


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
    margins: dict[tuple[str, ...], list[Cell]]
    """Cells over each proper, non-empty subset of ``dims`` (tables of two
    or three dims), keyed by that subset."""
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
    """Answers queries against one refreshed store. What it derives for a
    period, filters and scope (row masks, the rows' columns and dims) it
    keeps for its own lifetime, so the tables of one overview answered by one
    evaluator share them; build a new one after a refresh."""

    def __init__(self, store: FactStore, bands: AgeBands) -> None:
        self.store = store
        self.bands = bands
        self.memo: dict[tuple[Any, ...], Any] = {}

    # -- dimensions ---------------------------------------------------------

    def _person_dim(
        self, name: str, person: IntArray, end: date, frame: Frame | None = None
    ) -> Dim:
        """A person's attribute for rows pointing at beneficiary keys
        (``-1``: not a registered person)."""
        people = self.store.frames["beneficiaries"]
        safe = np.where(person >= 0, person, 0)
        if name == "age_group":
            birth = (
                people.col("birth_year")[safe]
                if people.size
                else np.zeros(len(person), np.int32)
            )
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

    def _memo(self, key: tuple[Any, ...], make: Callable[[], T]) -> T:
        if key not in self.memo:
            self.memo[key] = make()
        found: T = self.memo[key]
        return found

    @staticmethod
    def _rows_key(fact: str, query: Query) -> tuple[Any, ...]:
        """What decides a fact's rows: period, filters and scope."""
        filters = tuple(sorted((k, tuple(v)) for k, v in query.filters.items()))
        return (fact, query.start, query.end, filters, query.scope)

    def rows(self, fact: str, query: Query) -> Mask:
        """Rows of a fact in the period, filters and scope."""
        return self._memo(
            ("rows", *self._rows_key(fact, query)), lambda: self._rows(fact, query)
        )

    def _rows(self, fact: str, query: Query) -> Mask:
        frame = self.store.frames[FACT_FRAMES[fact]]
        days = frame.col(FACT_ROWS[fact][0])
        mask: Mask = (days >= day_number(query.start)) & (days <= day_number(query.end))
        mask &= self._live(fact)
        if query.scope != Scope():
            mask &= self._scope(fact, frame, query.scope)
        for name, wanted in query.filters.items():
            dim = self.dim(fact, name, query.end)
            allowed = np.array([label in set(wanted) for label in dim.labels])
            mask &= allowed[dim.codes]
        return mask

    def _live(self, fact: str) -> Mask:
        """Rows that exist and count (not voided, erased...), once per store
        state."""
        found = self.store.derived.get(("live", fact))
        if found is None:
            frame = self.store.frames[FACT_FRAMES[fact]]
            found = frame.present[: frame.size].copy()
            alive = FACT_ROWS[fact][1]
            if alive:
                found &= alive(frame)
            self.store.derived[("live", fact)] = found
        live: Mask = found
        return live

    def column(self, fact: str, query: Query, name: str) -> NDArray[Any]:
        """A fact's column on the query's rows."""
        frame = self.store.frames[FACT_FRAMES[fact]]
        return self._memo(
            ("column", name, *self._rows_key(fact, query)),
            lambda: frame.col(name)[self.rows(fact, query)],
        )

    def codes(self, fact: str, query: Query, name: str) -> IntArray:
        """A dimension's label index on the query's rows."""
        return self._memo(
            ("codes", name, *self._rows_key(fact, query)),
            lambda: self.dim(fact, name, query.end).codes[self.rows(fact, query)],
        )

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

    def evaluate(self, query: Query) -> Answer:
        """Cells of the query's disaggregation, its margins and its total,
        from one cross-tabulation of its rows (see ``Measure.compute``)."""
        measure = MEASURES.get(query.measure)
        if measure is None:
            raise QueryError(f"unknown measure {query.measure!r}")
        fact = measure.fact
        dims = [self.dim(fact, name, query.end) for name in query.by]
        parts = [self.codes(fact, query, name) for name in query.by]
        sizes = [len(d.labels) for d in dims]
        tables = measure.compute(self, query, self.rows(fact, query), parts, sizes)

        def cells(axes: Axes) -> list[Cell]:
            numerator, denominator = tables[axes]
            out = []
            for g in np.flatnonzero((numerator != 0) | (denominator != 0)).tolist():
                key = []
                rest = g
                for axis in reversed(axes):
                    key.append(dims[axis].labels[rest % sizes[axis]])
                    rest //= sizes[axis]
                out.append(
                    measure.cell(tuple(reversed(key)), numerator[g], denominator[g])
                )
            return out

        numerator, denominator = tables[()]
        return Answer(
            dims=list(query.by),
            cells=cells(tuple(range(len(dims)))),
            margins={
                tuple(query.by[a] for a in axes): cells(axes)
                for axes in tables
                if 0 < len(axes) < len(dims)
            },
            total=measure.cell((), numerator[0], denominator[0]),
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

    def qualified_since(self, competent_level: int = 3) -> dict[tuple[Any, str], int]:
        """(organisation id, staff id) -> first day the person was certified
        or assessed competent. A staff code is the registering
        organisation's own: another organisation's trainee with the same
        code is someone else."""
        trainees = self.store.frames["trainees"]
        staff_of: dict[Any, tuple[Any, str]] = {}
        ids = trainees.vocab["trainee_id"].values
        organisations = trainees.vocab["organisation_id"].values
        staff = trainees.vocab["staff_id"].values
        present = trainees.present[: trainees.size]
        known = (trainees.col("staff_id") >= 0) & (trainees.col("organisation_id") >= 0)
        for row in np.flatnonzero(present & known):
            staff_of[ids[trainees.col("trainee_id")[row]]] = (
                organisations[trainees.col("organisation_id")[row]],
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
                code = staff_of.get(vocab[tid[row]])
                if code is None or days[row] == NO_DATE:
                    continue
                if code[0] == deciders[oid[row]]:
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

    def qualified_from(self, fact: str, query: Query, column: str) -> IntArray:
        """Per service of the query, the first day its staff code was
        qualified within the organisation in ``column`` (who delivered it,
        or the programme's lead, which trains its partners' staff); never:
        the largest day."""
        found = self.store.derived.get(("qualified_from", column))
        if found is None:
            services = self.store.frames["services"]
            width = len(services.vocab["staff_id"].values) + 1
            organisations = {v: i for i, v in enumerate(services.vocab[column].values)}
            staff = {v: i for i, v in enumerate(services.vocab["staff_id"].values)}
            days = {
                organisations[o] * width + staff[s]: day
                for (o, s), day in self.qualified_since().items()
                if o in organisations and s in staff
            }
            keys = np.array(sorted(days), np.int64)
            found = (keys, np.array([days[k] for k in keys], np.int64), width)
            self.store.derived[("qualified_from", column)] = found
        keys, qualified_days, width = found
        organisation = self.column(fact, query, column).astype(np.int64)
        code = self.column(fact, query, "staff_id").astype(np.int64)
        never = np.full(len(code), np.iinfo(np.int32).max, np.int64)
        if not len(keys):
            return never
        wanted = organisation * width + code
        at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
        hit = (keys[at] == wanted) & (code >= 0) & (organisation >= 0)
        since: IntArray = np.where(hit, qualified_days[at], never)
        return since

    # -- helpers used by measures -------------------------------------------

    @staticmethod
    def count(
        group: IntArray, groups: int, weights: NDArray[Any] | None = None
    ) -> NDArray[np.float64]:
        return np.bincount(group, weights=weights, minlength=groups).astype(np.float64)


def lattice(dims: int) -> list[Axes]:
    """Every subset of a table's dims, largest first: the cells, then the
    margins, then the total ``()``; each one's supersets come before it."""
    return [
        axes
        for size in range(dims, -1, -1)
        for axes in itertools.combinations(range(dims), size)
    ]


def cross(parts: Sequence[IntArray], sizes: Sequence[int], rows: int) -> IntArray:
    """Each row's cell in the cross-tab of ``parts`` (first dim most
    significant)."""
    group = np.zeros(rows, np.int64)
    for part, size in zip(parts, sizes, strict=True):
        group = group * size + part
    return group


def distinct_tables(
    parts: Sequence[IntArray], sizes: Sequence[int], who: IntArray
) -> dict[Axes, NDArray[np.float64]]:
    """Exact number of distinct ``who`` (>= 0) in each cell of the cross-tab
    of ``parts`` and of each of its margins (``lattice``). The (cell, person)
    pairs are marked once in a boolean matrix and a margin's row is the OR of
    its cells' rows; when the matrix would be large, the unique pairs are
    projected onto each margin's dims and de-duplicated again."""
    subsets = lattice(len(sizes))
    if not (who >= 0).any():
        return {a: np.zeros(math.prod(sizes[i] for i in a)) for a in subsets}
    people = int(who.max()) + 1
    if math.prod(sizes) * (people + 1) > MATRIX_LIMIT:
        return _distinct_pairs(parts, sizes, who, people, subsets)
    columns = people + 1  # the last one collects rows of nobody (-1)
    seen = np.zeros(math.prod(sizes) * columns, bool)
    cell = cross(parts, sizes, len(who))
    seen[cell * columns + np.where(who >= 0, who, people)] = True
    cubes: dict[Axes, NDArray[np.bool_]] = {subsets[0]: seen.reshape(*sizes, columns)}
    for axes in subsets[1:]:
        parent = min(
            (tuple(sorted((*axes, a))) for a in subsets[0] if a not in axes),
            key=lambda p: math.prod(sizes[i] for i in p),
        )
        dropped = next(i for i, a in enumerate(parent) if a not in axes)
        cubes[axes] = np.logical_or.reduce(cubes[parent], axis=dropped)
    return {
        axes: np.array(
            [np.count_nonzero(row[:people]) for row in cube.reshape(-1, columns)],
            np.float64,
        )
        for axes, cube in cubes.items()
    }


def _distinct_pairs(
    parts: Sequence[IntArray],
    sizes: Sequence[int],
    who: IntArray,
    people: int,
    subsets: list[Axes],
) -> dict[Axes, NDArray[np.float64]]:
    keep = who >= 0
    cell = cross([part[keep] for part in parts], sizes, int(keep.sum()))
    pairs = np.unique(cell * people + who[keep])
    ids = pairs % people
    cells = np.unravel_index(pairs // people, tuple(sizes)) if sizes else ()
    out = {}
    for axes in subsets:
        chosen = [sizes[a] for a in axes]
        kept = np.unique(
            cross([cells[a] for a in axes], chosen, len(pairs)) * people + ids
        )
        out[axes] = np.bincount(kept // people, minlength=math.prod(chosen)).astype(
            np.float64
        )
    return out


# -- measures -----------------------------------------------------------------

Computed = tuple[NDArray[np.float64], NDArray[np.float64]]
"""Numerator and denominator per cell."""
Tables = dict[Axes, Computed]
"""A measure over a table's cells and over each of its margins (``lattice``)."""
GroupCompute = Callable[["Evaluator", Query, Mask, IntArray, int], Computed]
"""A measure per group: the query's rows, each row's group, the groups."""
TableCompute = Callable[
    ["Evaluator", Query, Mask, Sequence[IntArray], Sequence[int]], Tables
]
"""A measure per cell and margin: the query's rows, each dim's label index on
those rows, and each dim's number of labels."""


@dataclass(frozen=True)
class Measure:
    fact: str
    kind: str  # count | share | mean | rate
    compute: TableCompute

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


def _grouped(compute: GroupCompute, *, adds_up: bool) -> TableCompute:
    """A measure per group, over a table's cells and margins: measured once
    on the cells when its numerator and denominator are whole numbers summed
    over rows, or over cases that each fall in one cell (a margin is then
    exactly the sum of its cells); otherwise (means, hours, distinct
    supervisees) measured again for each margin on the same rows."""

    def tables(
        ev: Evaluator,
        q: Query,
        mask: Mask,
        parts: Sequence[IntArray],
        sizes: Sequence[int],
    ) -> Tables:
        rows = int(np.count_nonzero(mask))
        subsets = lattice(len(sizes))
        numerator, denominator = compute(
            ev, q, mask, cross(parts, sizes, rows), math.prod(sizes)
        )
        out = {subsets[0]: (numerator, denominator)}
        for axes in subsets[1:]:
            chosen = [sizes[a] for a in axes]
            if adds_up:
                others = tuple(a for a in subsets[0] if a not in axes)
                out[axes] = (
                    numerator.reshape(sizes).sum(axis=others).reshape(-1),
                    denominator.reshape(sizes).sum(axis=others).reshape(-1),
                )
            else:
                group = cross([parts[a] for a in axes], chosen, rows)
                out[axes] = compute(ev, q, mask, group, math.prod(chosen))
        return out

    return tables


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
        ev: Evaluator, q: Query, mask: Mask, group: IntArray, groups: int
    ) -> Computed:
        weights = None if weight is None else ev.column(fact, q, weight)
        if only is not None:
            keep = ev.column(fact, q, only)
            group = group[keep]
            weights = None if weights is None else weights[keep]
        return ev.count(group, groups, weights), _zeros(groups)

    adds_up = weight is None or whole_weights
    return Measure(fact, "count", _grouped(compute, adds_up=adds_up))


def _distinct(fact: str, who: str, only: str | None = None) -> Measure:
    """Distinct ``who`` (a person or trainee) among the rows (those whose
    boolean column ``only`` is set)."""

    def tables(
        ev: Evaluator,
        q: Query,
        mask: Mask,
        parts: Sequence[IntArray],
        sizes: Sequence[int],
    ) -> Tables:
        ids = ev.column(fact, q, who).astype(np.int64)
        if only is not None:
            ids = np.where(ev.column(fact, q, only), ids, -1)
        counted = distinct_tables(parts, sizes, ids)
        return {axes: (found, _zeros(len(found))) for axes, found in counted.items()}

    return Measure(fact, "count", tables)


def _mean(fact: str, value: Callable[[Frame], NDArray[np.float64]]) -> Measure:
    def compute(
        ev: Evaluator, q: Query, mask: Mask, group: IntArray, groups: int
    ) -> Computed:
        frame = ev.store.frames[FACT_FRAMES[fact]]
        values = value(frame)[mask]
        keep = ~np.isnan(values)
        total = ev.count(group[keep], groups, values[keep])
        return total, ev.count(group[keep], groups)

    return Measure(fact, "mean", _grouped(compute, adds_up=False))


def _qualified_share(
    ev: Evaluator, q: Query, mask: Mask, group: IntArray, groups: int
) -> Computed:
    """Services (people served) by staff certified, or assessed at a
    competent level, on or before the service date, among services whose
    staff is known."""
    raw = ev.column("services", q, "staff_id")
    since = np.minimum(
        ev.qualified_from("services", q, "organisation_id"),
        ev.qualified_from("services", q, "lead_organisation_id"),
    )
    qualified = since <= ev.column("services", q, "service_date")
    weights = ev.column("services", q, "people")
    return (
        ev.count(group, groups, np.where(qualified, weights, 0)),
        ev.count(group, groups, np.where(raw >= 0, weights, 0)),
    )


def _improved_share(
    ev: Evaluator, q: Query, mask: Mask, group: IntArray, groups: int
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
    key = frame.col("case_id").astype(np.int64) * max(len(names), 1) + rule_of
    usable = (
        frame.present[: frame.size] & (days <= day_number(q.end)) & ~np.isnan(values)
    )

    def first_per_key(rows: IntArray, day_order: IntArray) -> IntArray:
        """The first row of each key, by ``day_order`` then row."""
        ordered = rows[np.lexsort((rows, day_order[rows], key[rows]))]
        starts = np.ones(len(ordered), bool)
        starts[1:] = key[ordered][1:] != key[ordered][:-1]
        return ordered[starts]

    baseline = first_per_key(np.flatnonzero(usable & is_baseline), days)
    follow_rows = np.flatnonzero(usable & ~is_baseline & mask)
    latest = first_per_key(follow_rows, -days)
    first_seen = follow_rows[np.unique(key[follow_rows], return_index=True)[1]]
    if len(baseline) == 0 or len(latest) == 0:
        return _zeros(groups), _zeros(groups)
    base = baseline[
        np.minimum(np.searchsorted(key[baseline], key[latest]), len(baseline) - 1)
    ]
    valid = (key[base] == key[latest]) & (days[base] <= days[latest])
    if not valid.any():
        return _zeros(groups), _zeros(groups)
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
    column = frame.col("supervisee_ids")
    supervisees = [column[i] or [] for i in np.flatnonzero(mask)]
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
    "services": _counted("services", weight="people", whole_weights=True),
    "people": _distinct("services", "beneficiary_key"),
    "anonymous_people": _counted(
        "services", weight="people", only="anonymous", whole_weights=True
    ),
    "qualified_services_share": Measure(
        "services", "share", _grouped(_qualified_share, adds_up=True)
    ),
    "new_beneficiaries": _counted("beneficiaries"),
    "referrals": _counted("referrals"),
    "cases_opened": _counted("cases"),
    "improved_share": Measure(
        "assessments", "share", _grouped(_improved_share, adds_up=True)
    ),
    "people_trained": _distinct("attendance", "trainee_id"),
    "training_participations": _counted("attendance"),
    "training_hours": _counted("attendance", weight="hours"),
    "people_certified": _distinct("results", "trainee_id", only="certified"),
    "practice_sessions": _counted("practice"),
    "recorded_sessions": _counted("practice", only="recorded"),
    "mean_fidelity": _mean("practice", lambda f: f.col("adherence_score")),
    "supervision_sessions": _counted("supervision"),
    "supervision_hours": Measure(
        "supervision", "count", _grouped(_supervision_hours, adds_up=False)
    ),
    "supervision_hours_per_provider_month": Measure(
        "supervision", "rate", _grouped(_supervision_per_provider_month, adds_up=False)
    ),
}
"""What an indicator file's ``measure`` may name, with the fact it reads."""
