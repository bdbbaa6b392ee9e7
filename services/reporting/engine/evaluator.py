"""The query engine's generic half: filter, group and aggregate the columnar
store, exactly. What there is to measure (facts, dims, measures) is the
catalogue's business (``engine/measures.py``), handed to each ``Evaluator``.

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
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from services.reporting.engine.ages import AgeBands
from services.reporting.engine.store import (
    NO_DATE,
    FactStore,
    Frame,
    day_number,
)

UNKNOWN = "unknown"
MATRIX_LIMIT = 64_000_000  # cells of the (group x person) matrix
COUNT_CHUNK = 262_144
"""Rows a weighted count converts to float, or a distinct count marks, at a
time: their scratch (float, int64 per row, 2 MiB) stays in the cache. At
10M rows, a million at a time (8 MiB of scratch) made finding the people
and marking the (cell, person) matrix about a quarter slower."""
DIM_CHUNK = 1_000_000
"""Rows a person's dim is worked out for at a time."""
BAND_SETS_KEPT = 8
"""Age band sets whose age groups a store keeps between queries."""

IntArray = NDArray[np.int64]
Codes = NDArray[np.signedinteger[Any]]
"""Label indices of a dim, in the narrowest signed type its labels fit
(``narrowest``): arithmetic on them widens first (``cross``)."""
Mask = NDArray[np.bool_]
Axes = tuple[int, ...]
"""Positions in a query's ``by``: the dims a cell or margin keeps."""
T = TypeVar("T")


class QueryError(ValueError):
    """A query the catalogue does not allow (unknown dim, bad filter)."""


@dataclass(frozen=True)
class Scope:
    """What a caller may see: None means no restriction on that axis."""

    organisations: frozenset[uuid.UUID] | None = None
    sites: frozenset[uuid.UUID] | None = None
    teams: frozenset[uuid.UUID] | None = None


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
    value: int | float | None
    numerator: int | float | None = None
    denominator: int | float | None = None


@dataclass
class Answer:
    dims: list[str]
    cells: list[Cell]
    margins: dict[tuple[str, ...], list[Cell]]
    """Cells over each proper, non-empty subset of ``dims`` (tables of two
    or three dims), keyed by that subset."""
    total: Cell
    labels: dict[str, dict[str, str]]


def narrowest(labels: int) -> np.dtype[np.signedinteger[Any]]:
    """The smallest signed integer type holding label indices up to
    ``labels - 1``: a store keeps a code per row for each dim an overview
    uses, and at 10M rows int64 codes were 852 MiB per process."""
    for kind in (np.int8, np.int16, np.int32):
        if labels - 1 <= np.iinfo(kind).max:
            return np.dtype(kind)
    return np.dtype(np.int64)


@dataclass
class Dim:
    """A dimension resolved on a frame: a label index per row, kept in the
    narrowest type its labels fit."""

    codes: Codes
    labels: list[str]

    def __post_init__(self) -> None:
        self.codes = self.codes.astype(narrowest(len(self.labels)), copy=False)


def _encode(
    frame: Frame,
    column: str,
    labels: list[str] | None = None,
    rows: slice = slice(None),
) -> Dim:
    """A categorical column (its ``rows``) as indices into ``labels``
    (``unknown`` last)."""
    values = [str(v) for v in frame.vocab[column].values]
    if labels is None:
        labels = sorted(set(values))
    labels = [*labels, UNKNOWN] if UNKNOWN not in labels else list(labels)
    unknown = labels.index(UNKNOWN)
    mapping = np.array(
        [labels.index(v) if v in labels else unknown for v in values] + [unknown],
        np.int64,
    )
    raw = frame.col(column)[rows]
    return Dim(
        mapping.astype(narrowest(len(labels)))[np.where(raw < 0, len(values), raw)],
        labels,
    )


FEW_LABELS = 8
"""Labels a filter allows that ``_among`` compares rows with one by one."""


def _among(dim: Dim, wanted: set[str]) -> Mask:
    """Rows whose label is one of ``wanted``: a comparison per label for a
    few labels (a byte per row each), else a lookup per row, which widens
    every row's code to int64 first."""
    allowed = [label in wanted for label in dim.labels]
    if sum(allowed) > FEW_LABELS or dim.codes.dtype.itemsize > 1:
        found: Mask = np.array(allowed)[dim.codes]
        return found
    mask = np.zeros(len(dim.codes), bool)
    for code in np.flatnonzero(allowed).tolist():
        mask |= dim.codes == code
    return mask


def _from_codes(codes: IntArray, labels: list[str]) -> Dim:
    labels = [*labels, UNKNOWN]
    return Dim(np.where(codes < 0, len(labels) - 1, codes), labels)


def _own_values(fact: str, name: str) -> bool:
    """Whether a row of the fact may carry its own value of a person's dim
    (an anonymous service line's sex and disability), used for the rows
    that do (``anonymous``)."""
    return fact == "services" and name in ("sex", "disability")


class Seen:
    """The people a distinct count counts on a query's rows, in id order,
    each with their first row among them (earliest date, then row) as an
    index into those rows: one pass keeps each person's least (date, row)
    packed in one number, day x rows + row, in 32 bits when the rows and
    days allow (``PACKED_32``), else 64. Where few rows count someone
    (practice clients), it works on those rows alone."""

    def __init__(
        self,
        who: NDArray[np.signedinteger[Any]],
        days: NDArray[Any],
        frame_rows: IntArray | None = None,
    ) -> None:
        """``who`` and ``days`` on a query's rows; or on ``frame_rows``,
        rows of the whole frame (in order), and ``first`` is then a row of
        the frame (``in_frame``)."""
        self.in_frame = frame_rows is not None
        counted = None
        people = int(who.max()) + 1 if len(who) else 0
        known = who >= 0
        if np.count_nonzero(known) * SPARSE < len(who):
            counted = np.flatnonzero(known)
            who, days = who[counted], days[counted]
        del known
        rows = len(who)
        since = int(days.min()) if rows else 0
        span = int(days.max()) - since + 1 if rows else 0
        narrow = span * rows <= PACKED_32
        kind = np.dtype(np.uint32 if narrow else np.uint64)
        none = 2**32 - 1 if narrow else 2**64 - 1  # above every key
        least: NDArray[np.unsignedinteger[Any]] = np.full(people + 1, none, kind)
        for at in range(0, rows, COUNT_CHUNK):  # scratch per chunk
            chunk = slice(at, at + COUNT_CHUNK)
            key: NDArray[np.unsignedinteger[Any]] = (days[chunk] - since).astype(kind)
            key *= key.dtype.type(rows)
            key += np.arange(at, at + len(key), dtype=kind)
            np.minimum.at(least, who[chunk], key)  # the last entry: nobody (-1)
        self.persons: IntArray = np.flatnonzero(least[:people] != none)
        first = (least[self.persons] % least.dtype.type(max(rows, 1))).astype(np.int64)
        self.first: IntArray = first if counted is None else counted[first]
        if frame_rows is not None:
            self.first = frame_rows[self.first]


PACKED_32 = 2**32 - 2
"""The largest days x rows whose (day, row) keys ``Seen`` packs in 32 bits
(below the uint32 that stands for none)."""


ROWS_CHUNK = 262_144
"""Rows whose period a query checks at a time: the check's scratch stays in
the cache, and no boolean per row of the frame is made but the answer."""
FILTERS_KEPT = 16
"""Filters whose rows a store keeps, as bits, between queries."""


SPARSE = 4
"""``Seen`` works on the rows that count someone when they are fewer than
one in this many."""


class Evaluator:
    """Answers queries against one refreshed store. What it derives for a
    period, filters and scope (row masks, the rows' columns and dims) it
    keeps for its own lifetime, so the tables of one overview answered by one
    evaluator share them; build a new one after a refresh."""

    def __init__(self, store: FactStore, bands: AgeBands, catalogue: Catalogue) -> None:
        self.store = store
        self.bands = bands
        self.catalogue = catalogue
        self.memo: dict[tuple[Any, ...], Any] = {}
        self.last_cut: tuple[tuple[Any, ...], Codes] | None = None

    # -- dimensions ---------------------------------------------------------

    def _person_dim(
        self, name: str, key_column: str | None, fact: str, frame: Frame
    ) -> Dim:
        """A person's attribute for rows pointing at beneficiary keys in
        ``key_column`` (``-1``: not a registered person; None: the
        beneficiaries frame itself), worked out ``DIM_CHUNK`` rows at a time:
        its scratch arrays, int64 per row, were the peak of a first overview
        at 10M rows."""
        people = self.store.frames["beneficiaries"]

        def persons(rows: slice) -> IntArray:
            if key_column is None:
                return np.arange(rows.start, min(rows.stop, frame.size), dtype=np.int64)
            found: IntArray = frame.col(key_column)[rows].astype(np.int64)
            return found

        if name == "age_group":
            labels = [*self.bands.labels, UNKNOWN]

            def codes_of(rows: slice) -> Codes:
                bands = self._age_bands(persons(rows), fact, frame, rows)
                return _from_codes(bands, self.bands.labels).codes

        else:
            base = self._person_attribute(name)
            labels = base.labels
            unknown = base.labels.index(UNKNOWN)
            lines = _own_values(fact, name)

            def codes_of(rows: slice) -> Codes:
                person = persons(rows)
                safe = np.where(person >= 0, person, 0)
                found = (
                    base.codes[safe] if people.size else np.zeros(len(person), np.int8)
                )
                codes: Codes = np.where(person >= 0, found, unknown)
                if lines:
                    own = _encode(frame, name, base.labels, rows)
                    codes = np.where(frame.col("anonymous")[rows], own.codes, codes)
                return codes

        parts = [
            codes_of(slice(at, at + DIM_CHUNK))
            for at in range(0, frame.size, DIM_CHUNK)
        ]
        return Dim(np.concatenate(parts) if parts else np.zeros(0, np.int64), labels)

    def _age_bands(
        self, person: IntArray, fact: str, frame: Frame, rows: slice
    ) -> IntArray:
        """Each row's band (of ``rows``) of the person's age on the row's
        date (a service, a registration, a referral...). Services and
        registrations carry the age their producer computed from the date of
        birth (``Catalogue.ages``); elsewhere, or when the birth year has
        been corrected since, the age is the date's year minus the birth
        year. Anonymous lines carry their own group."""
        people = self.store.frames["beneficiaries"]
        safe = np.where(person >= 0, person, 0)
        birth = (
            people.col("birth_year")[safe]
            if people.size
            else np.full(len(person), -1, np.int32)
        ).astype(np.int64)
        days = frame.col(self.catalogue.rows[fact][0])[rows]
        years = (
            np.where(days == NO_DATE, 0, days)
            .astype("datetime64[D]")
            .astype("datetime64[Y]")
            .astype(np.int64)
            + 1970
        )
        known = (person >= 0) & (birth > 0) & (days != NO_DATE)
        ages = np.where(known, years - birth, -1)
        carried = self.catalogue.ages.get(fact)
        if carried is not None:
            given = frame.col(carried)[rows].astype(np.int64)
            agrees = (birth <= 0) | (ages - given == 0) | (ages - given == 1)
            use = (person >= 0) & (given >= 0) & agrees
            ages = np.where(use, given, ages)
        banded = self.bands.band(ages)
        if fact == "services":
            own = np.array(
                [self.bands.of_anonymous(v) for v in frame.vocab["age_group"].values]
                + [-1],
                np.int64,
            )
            raw = frame.col("age_group")[rows].astype(np.int64)
            mapped = own[np.where(raw < 0, len(own) - 1, raw)]
            banded = np.where(frame.col("anonymous")[rows], mapped, banded)
        return banded

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
        index = np.array(
            [labels.index(m) for m in mapping] + [labels.index(UNKNOWN)],
            narrowest(len(labels)),
        )
        raw = frame.col(column)
        return Dim(index[np.where(raw < 0, len(values), raw)], labels)

    def _month_dim(self, days: NDArray[np.int32]) -> Dim:
        """The month of each row's date (none: 1970-01), labelled by the
        months that occur, in order. Worked out per day of the rows' range,
        not per row: no sort and no int64 per row."""
        safe = np.where(days == NO_DATE, 0, days)
        if not len(safe):
            return Dim(np.zeros(0, np.int64), [])
        first = int(safe.min())
        offsets = safe - first
        used = np.bincount(offsets) > 0  # which days of the range occur
        calendar = np.arange(first, first + len(used)).astype("datetime64[D]")
        month_of_day = calendar.astype("datetime64[M]")
        unique = np.unique(month_of_day[used])
        codes = np.searchsorted(unique, month_of_day)  # right for days that occur
        codes = np.minimum(codes, len(unique) - 1)
        return Dim(
            codes.astype(narrowest(len(unique)))[offsets], [str(m) for m in unique]
        )

    def dim(self, fact: str, name: str) -> Dim:
        """A dimension over every row of the fact, computed once per store
        state (the age group once per band set, for the first
        ``BAND_SETS_KEPT`` band sets asked for; any other is kept by this
        evaluator only, so callers choosing bands cannot grow the store's
        memory): an overview's tables and a table's margins share them."""
        if name not in self.catalogue.dims[fact]:
            raise QueryError(f"{name!r} is not a disaggregation of {fact}")
        key = (fact, name, self.bands if name == "age_group" else None)
        found = self.store.derived.get(key)
        if isinstance(found, Dim):
            return found
        if name == "age_group":
            kept: set[AgeBands] = self.store.derived.setdefault(("band sets",), set())
            if self.bands not in kept and len(kept) >= BAND_SETS_KEPT:
                return self._memo(("dim", *key), lambda: self._dim(fact, name))
            kept.add(self.bands)
        found = self.store.derived[key] = self._dim(fact, name)
        return found

    def _dim(self, fact: str, name: str) -> Dim:
        frame = self.store.frames[self.catalogue.frames[fact]]
        source = self.catalogue.dims[fact][name]
        if source == "person:key":  # the beneficiaries frame itself
            return self._person_dim(name, None, fact, frame)
        if source.startswith("person:"):
            return self._person_dim(name, source.split(":", 1)[1], fact, frame)
        if source.startswith("place:"):
            _, column, level = source.split(":")
            return self._place_dim(frame, column, level)
        if source.startswith("month:"):
            return self._month_dim(frame.col(source.split(":", 1)[1]))
        if source.startswith("trainee:"):
            return self._trainee_dim(frame, source.split(":", 1)[1])
        return _encode(frame, source, self.catalogue.enum_labels.get(name))

    def _trainee_dim(self, frame: Frame, column: str) -> Dim:
        trainees = self.store.frames["trainees"]
        base = _encode(trainees, column, self.catalogue.enum_labels.get(column))
        row_of = self._trainee_rows(frame)
        unknown = base.labels.index(UNKNOWN)
        safe = np.where(row_of >= 0, row_of, 0)
        codes = base.codes[safe] if trainees.size else np.zeros(len(row_of), np.int64)
        return Dim(np.where(row_of >= 0, codes, unknown), base.labels)

    def _trainee_rows(self, frame: Frame) -> IntArray:
        """For each row of a training frame, the trainees-frame row (-1: none):
        the trainee of the row's own organisation, as a trainee id is unique
        within its organisation only (decision 0006)."""
        trainees = self.store.frames["trainees"]
        by_id = {}
        ids, owners = trainees.col("trainee_id"), trainees.col("organisation_id")
        vocab = trainees.vocab["trainee_id"].values
        organisations = trainees.vocab["organisation_id"].values
        for row in np.flatnonzero(trainees.present[: trainees.size]):
            owner = organisations[owners[row]] if owners[row] >= 0 else None
            by_id[(owner, vocab[ids[row]])] = row
        raw = frame.col("trainee_id").astype(np.int64)
        org = frame.col("organisation_id").astype(np.int64)
        pairs, inverse = np.unique(np.stack([org, raw]), axis=1, return_inverse=True)
        frame_ids = frame.vocab["trainee_id"].values
        frame_orgs = frame.vocab["organisation_id"].values
        mapping = np.array(
            [
                by_id.get((frame_orgs[o] if o >= 0 else None, frame_ids[t]), -1)
                if t >= 0
                else -1
                for o, t in pairs.T
            ],
            np.int64,
        )
        return mapping[inverse.reshape(-1)] if len(raw) else np.zeros(0, np.int64)

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
        """A filtered query's rows are its unfiltered rows (kept: the
        overview asks for those too) less those the filters leave out."""
        if query.filters:
            kept = self.rows(fact, replace(query, filters={})).copy()
            for name, wanted in query.filters.items():
                kept &= self._filter(fact, name, set(wanted))
            return kept
        frame = self.store.frames[self.catalogue.frames[fact]]
        days = frame.col(self.catalogue.rows[fact][0])
        start, end = day_number(query.start), day_number(query.end)
        live = self._live(fact)
        mask: Mask = np.empty(frame.size, bool)
        before_end = np.empty(min(frame.size, ROWS_CHUNK), bool)
        for at in range(0, frame.size, ROWS_CHUNK):  # scratch that stays cached
            rows = slice(at, at + ROWS_CHUNK)
            found, cut = mask[rows], days[rows]
            np.greater_equal(cut, start, out=found)
            np.less_equal(cut, end, out=before_end[: len(cut)])
            found &= before_end[: len(cut)]
            found &= live[rows]
        if query.scope != Scope():
            mask &= self._scope(fact, frame, query.scope)
        return mask

    def _filter(self, fact: str, name: str, wanted: set[str]) -> Mask:
        """Rows of the whole fact whose ``name`` is one of ``wanted``, kept
        as bits once per store state for the first ``FILTERS_KEPT`` filters
        asked for (an indicator's fixed filter, as structured sessions' four
        activities: 4.9 ms at 10M rows, 0.7 ms to unpack); any other is
        worked out each time, so callers' filters cannot grow the store's
        memory."""
        key = ("filter", fact, name, frozenset(wanted), self._bands_of(name))
        found = self.store.derived.get(key)
        if found is not None:
            size = self.store.frames[self.catalogue.frames[fact]].size
            unpacked: Mask = np.unpackbits(found, count=size).view(np.bool_)
            return unpacked
        among = _among(self.dim(fact, name), wanted)
        kept: set[tuple[Any, ...]] = self.store.derived.setdefault(
            ("filters kept",), set()
        )
        if len(kept) < FILTERS_KEPT:
            kept.add(key)
            self.store.derived[key] = np.packbits(among)
        return among

    def _bands_of(self, name: str) -> AgeBands | None:
        """The band set a dim depends on: the age group's, no other's."""
        return self.bands if name == "age_group" else None

    def _live(self, fact: str) -> Mask:
        """Rows that exist and count (not voided, erased...), once per store
        state."""
        found = self.store.derived.get(("live", fact))
        if found is None:
            frame = self.store.frames[self.catalogue.frames[fact]]
            found = frame.present[: frame.size].copy()
            alive = self.catalogue.rows[fact][1]
            if alive:
                found &= alive(frame)
            self.store.derived[("live", fact)] = found
        live: Mask = found
        return live

    def column(self, fact: str, query: Query, name: str) -> NDArray[Any]:
        """A fact's column on the query's rows."""
        frame = self.store.frames[self.catalogue.frames[fact]]
        return self._memo(
            ("column", name, *self._rows_key(fact, query)),
            lambda: frame.col(name)[self.rows(fact, query)],
        )

    def codes(self, fact: str, query: Query, name: str) -> Codes:
        """A dimension's label index on the query's rows. Only the last one
        cut is kept: all of them, an overview's held some 50 MiB at 10M rows
        until its last table, but tables next to each other share a dim
        (services, then people, by IASC layer), and a cut is a pass over a
        byte per row of the frame (2.7 ms at 10M rows)."""
        key = (name, *self._rows_key(fact, query))
        if self.last_cut is None or self.last_cut[0] != key:
            cut = self.dim(fact, name).codes[self.rows(fact, query)]
            cut.flags.writeable = False  # shared: no caller may change it
            self.last_cut = (key, cut)
        return self.last_cut[1]

    def at_first_row(self, fact: str, query: Query, who: str, name: str) -> Codes:
        """A dimension's label index on the query's rows, each person's
        taken from their first row among them (earliest date, then key):
        people reached by age group are counted once, at the age of their
        first service in the period."""

        def make() -> Codes:
            codes = self.codes(fact, query, name)
            person = self.column(fact, query, who)  # int32 keys
            if not len(person):
                return codes
            frame = self.store.frames[self.catalogue.frames[fact]]
            dates = frame.col(self.catalogue.rows[fact][0])  # read once: not kept
            days = dates[self.rows(fact, query)]
            rows = len(person)
            # each row's place in (date, row) order, one number: no sort
            order = (days - days.min()).astype(np.int64) * rows
            order += np.arange(rows)
            known = person >= 0
            who_else = int(person.max()) + 1  # rows of nobody
            person = np.where(known, person, who_else)
            first = np.full(who_else + 1, np.iinfo(np.int64).max, np.int64)
            np.minimum.at(first, person, order)
            first %= rows  # the first row's index (people with no row: any)
            found: Codes = np.where(known, codes[first][person], codes)
            return found

        return self._memo(("first", who, name, *self._rows_key(fact, query)), make)

    # -- distinct people, one mark per person -------------------------------

    def _people_tables(
        self, measure: Measure, query: Query
    ) -> tuple[list[list[str]], Tables] | None:
        """A distinct count with no dims, or whose dims are all attributes of
        the person counted (sex, disability...; the age group at their first
        row), counted per person instead of per (cell, person) pair: each
        person falls in one cell, so the cells count the people seen in the
        rows (``_seen``, found once for the tables of one measure and rows)
        and the margins are sums of cells. None, for the (cell, person)
        matrix, when a dim is a row's own (its layer, its site) or a row may
        count under a value of its own (``_carries_own``)."""
        if measure.ids is None:
            return None
        fact, sources = measure.fact, self.catalogue.dims[measure.fact]
        for name in query.by:
            if sources[name] != f"person:{measure.person}":
                return None
            if self._carries_own(fact, name):
                return None
        seen = self._seen(measure, query)
        if seen is None:
            return None
        people = self.store.frames["beneficiaries"].size
        if any(name != "age_group" for name in query.by) and (
            not people or (len(seen.persons) and seen.persons[-1] >= people)
        ):
            return None  # keys with no person: as _person_dim has them
        labels, parts = [], []
        for name in query.by:
            if name == "age_group":
                codes = (
                    self.dim(fact, name).codes
                    if seen.in_frame
                    else self.codes(fact, query, name)
                )
                parts.append(codes[seen.first])
                labels.append([*self.bands.labels, UNKNOWN])
            else:
                attribute = self._person_attribute(name)
                parts.append(attribute.codes[seen.persons])
                labels.append(attribute.labels)
        sizes = [len(named) for named in labels]
        counted = rows_per_group(  # one dim's codes as they are, a byte each
            _groups(parts, sizes, len(seen.persons)), math.prod(sizes)
        )
        subsets = lattice(len(sizes))
        tables: Tables = {}
        for axes in subsets:
            others = tuple(a for a in subsets[0] if a not in axes)
            found = counted.reshape(sizes).sum(axis=others).reshape(-1)
            tables[axes] = (found, np.zeros(len(found)))
        return labels, tables

    def _seen(self, measure: Measure, query: Query) -> Seen | None:
        """The people a distinct measure counts on the query's rows, kept
        for the evaluator's lifetime; None when their ids are too many to
        mark (``MATRIX_LIMIT``)."""
        fact, ids = measure.fact, measure.ids
        assert ids is not None

        def make() -> Seen | None:
            frame = self.store.frames[self.catalogue.frames[fact]]
            dates = frame.col(self.catalogue.rows[fact][0])  # read once: not kept
            at = None
            if measure.counted_rows is not None and measure.person is not None:
                at = measure.counted_rows(self, query)
                who, days = frame.col(measure.person)[at], dates[at]
            else:
                who = ids(self, query)
            if len(who) and int(who.max()) + 1 > MATRIX_LIMIT:
                return None
            if at is None:
                days = dates[self.rows(fact, query)]
            return Seen(who, days, at)

        key = ("seen", query.measure, *self._rows_key(fact, query))
        return self._memo(key, make)

    def _carries_own(self, fact: str, name: str) -> bool:
        """Whether some row of the fact counts under its own value of a
        person's dim rather than its person's: an anonymous service line
        carries its own sex and disability (``_person_dim``), and one that
        also named a person would put that person in two cells. Once per
        store state."""
        if not _own_values(fact, name):
            return False
        key = ("carries own", fact)
        found = self.store.derived.get(key)
        if found is None:
            frame = self.store.frames[self.catalogue.frames[fact]]
            column = self.catalogue.dims[fact][name].split(":", 1)[1]
            found = self.store.derived[key] = bool(
                (frame.col("anonymous") & (frame.col(column) >= 0)).any()
            )
        carries: bool = found
        return carries

    def _person_attribute(self, name: str) -> Dim:
        """A person's attribute (sex, disability...) per beneficiaries row,
        once per store state."""
        key = ("person", name)
        found = self.store.derived.get(key)
        if not isinstance(found, Dim):
            people = self.store.frames["beneficiaries"]
            labels = self.catalogue.enum_labels.get(name)
            found = self.store.derived[key] = _encode(people, name, labels)
        return found

    def _scope(self, fact: str, frame: Frame, scope: Scope) -> Mask:
        mask = np.ones(frame.size, bool)
        if scope.organisations is not None:
            visible = self.store.places.with_partners(scope.organisations)
            columns = ["organisation_id"]
            if "lead_organisation_id" in frame.vocab:
                # a partner's record counts under the lead only when a
                # partnership covered it (frozen in lead_organisation_id)
                visible = set(scope.organisations)
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
        if scope.teams is not None and "team_id" not in frame.vocab:
            mask &= False  # facts with no team are not a team's to see
        elif scope.teams is not None:
            values = frame.vocab["team_id"].values
            allowed = np.array([v in scope.teams for v in values] + [False])
            raw = frame.col("team_id").astype(np.int64)
            mask &= allowed[np.where(raw < 0, len(values), raw)]
        return mask

    # -- evaluation ---------------------------------------------------------

    def evaluate(self, query: Query) -> Answer:
        """Cells of the query's disaggregation, its margins and its total,
        from one cross-tabulation of its rows (see ``Measure.compute``)."""
        measure = self.catalogue.measures.get(query.measure)
        if measure is None:
            raise QueryError(f"unknown measure {query.measure!r}")
        fact = measure.fact
        for name in query.by:
            if name not in self.catalogue.dims[fact]:
                raise QueryError(f"{name!r} is not a disaggregation of {fact}")
        found = self._people_tables(measure, query)
        if found is not None:
            labels, tables = found
        else:
            labels = [self.dim(fact, name).labels for name in query.by]
            parts = [
                self.at_first_row(fact, query, measure.person, name)
                if measure.person and name == "age_group"
                else self.codes(fact, query, name)
                for name in query.by
            ]
            sizes = [len(named) for named in labels]
            tables = measure.compute(self, query, self.rows(fact, query), parts, sizes)
        sizes = [len(named) for named in labels]

        def cells(axes: Axes) -> list[Cell]:
            numerator, denominator = tables[axes]
            out = []
            for g in np.flatnonzero((numerator != 0) | (denominator != 0)).tolist():
                key = []
                rest = g
                for axis in reversed(axes):
                    key.append(labels[axis][rest % sizes[axis]])
                    rest //= sizes[axis]
                out.append(
                    measure.cell(tuple(reversed(key)), numerator[g], denominator[g])
                )
            return out

        numerator, denominator = tables[()]
        return Answer(
            dims=list(query.by),
            cells=cells(tuple(range(len(labels)))),
            margins={
                tuple(query.by[a] for a in axes): cells(axes)
                for axes in tables
                if 0 < len(axes) < len(labels)
            },
            total=measure.cell((), numerator[0], denominator[0]),
            labels=self.catalogue.labels(self, list(query.by)),
        )

    # -- helpers used by measures -------------------------------------------

    def frame_weights(self, fact: str, name: str) -> Weights:
        """A column of whole weights on every row of the fact, as
        ``Weights``, once per store state: a total over some rows then
        needs no cut of the rows (``Weights.total``)."""
        key = ("weights", fact, name)
        found = self.store.derived.get(key)
        if not isinstance(found, Weights):
            frame = self.store.frames[self.catalogue.frames[fact]]
            found = self.store.derived[key] = Weights.of(frame.col(name))
        return found

    def weights(self, fact: str, query: Query, name: str) -> Weights:
        """A column of whole weights on the query's rows, as ``Weights``."""
        return self._memo(
            ("weights", name, *self._rows_key(fact, query)),
            lambda: Weights.of(self.column(fact, query, name)),
        )

    @staticmethod
    def count(
        group: Codes,
        groups: int,
        weights: NDArray[Any] | Weights | None = None,
        where: Mask | None = None,
    ) -> NDArray[np.float64]:
        """Rows (those ``where`` keeps), or the sum of ``weights`` over them,
        per group. Whole weights are counted as rows plus, where a weight is
        not one, that weight less one (``Weights``): no float copy of every
        weight. Exact either way, as the sums are whole numbers below 2**53,
        like the one weighted pass they replace."""
        if isinstance(weights, np.ndarray) and weights.dtype.kind not in "biu":
            if where is not None:
                group, weights = group[where], weights[where]
            return np.bincount(group, weights=weights, minlength=groups).astype(
                np.float64
            )
        counted = rows_per_group(group, groups, where)
        if weights is None:
            return counted
        if isinstance(weights, np.ndarray):
            weights = Weights.of(weights)
        heavy, extra = weights.heavy, weights.extra
        if where is not None:
            kept = where[heavy]
            heavy, extra = heavy[kept], extra[kept]
        if len(heavy):
            counted += np.bincount(group[heavy], weights=extra, minlength=groups)
        return counted


@dataclass(frozen=True)
class Weights:
    """Whole weights per row (a service line's people) as the rows whose
    weight is not one and that weight less one: most lines count one
    person, so a count of rows plus these is the sum, without a float
    copy of every weight."""

    heavy: IntArray
    extra: IntArray

    @classmethod
    def of(cls, values: NDArray[Any]) -> Weights:
        heavy = np.flatnonzero(values != 1)
        return cls(heavy, values[heavy].astype(np.int64) - 1)

    def total(self, where: Mask) -> int:
        """The sum of the weights of the rows ``where`` keeps."""
        return int(np.count_nonzero(where)) + int(self.extra[where[self.heavy]].sum())


SMALL_GROUPS = 16
"""Groups of a one-byte group index that ``rows_per_group`` counts one
comparison each (vectorised), not with bincount, which widens every row's
index to int64 first."""


def rows_per_group(
    group: Codes, groups: int, where: Mask | None = None
) -> NDArray[np.float64]:
    """Rows (those ``where`` keeps) per group, ``group`` holding each row's
    group."""
    if groups == 1:
        rows = len(group) if where is None else np.count_nonzero(where)
        return np.array([rows], np.float64)
    if group.dtype.itemsize == 1 and groups <= SMALL_GROUPS:
        return np.array(
            [
                np.count_nonzero(group == g if where is None else (group == g) & where)
                for g in range(groups)
            ],
            np.float64,
        )
    counted = np.zeros(groups, np.float64)
    for at in range(0, len(group), COUNT_CHUNK):  # an int64 copy per chunk
        chunk = slice(at, at + COUNT_CHUNK)
        kept = group[chunk] if where is None else group[chunk][where[chunk]]
        counted += np.bincount(kept, minlength=groups)
    return counted


def lattice(dims: int) -> list[Axes]:
    """Every subset of a table's dims, largest first: the cells, then the
    margins, then the total ``()``; each one's supersets come before it."""
    return [
        axes
        for size in range(dims, -1, -1)
        for axes in itertools.combinations(range(dims), size)
    ]


def cross(parts: Sequence[Codes], sizes: Sequence[int], rows: int) -> IntArray:
    """Each row's cell in the cross-tab of ``parts`` (first dim most
    significant), in int64 whatever the parts' types: dims' codes are as
    narrow as their labels allow, and a cell index (index x stride summed)
    outgrows them (100 sites by 5 layers is 500 cells, past int8)."""
    if not parts:
        return np.zeros(rows, np.int64)
    group = parts[0].astype(np.int64)
    for part, size in zip(parts[1:], sizes[1:], strict=True):
        group *= size
        group += part
    return group


def distinct_tables(
    parts: Sequence[Codes], sizes: Sequence[int], who: NDArray[np.signedinteger[Any]]
) -> dict[Axes, NDArray[np.float64]]:
    """Exact number of distinct ``who`` (>= 0) in each cell of the cross-tab
    of ``parts`` and of each of its margins (``lattice``). The (cell, person)
    pairs are marked once in a boolean matrix and a margin's row is the OR of
    its cells' rows; when the matrix would be large, the unique pairs are
    projected onto each margin's dims and de-duplicated again."""
    subsets = lattice(len(sizes))
    people = int(who.max()) + 1 if len(who) else 0
    if people <= 0:  # no one
        return {a: np.zeros(math.prod(sizes[i] for i in a)) for a in subsets}
    if math.prod(sizes) * (people + 1) > MATRIX_LIMIT:
        return _distinct_pairs(parts, sizes, who, people, subsets)
    columns = people + 1  # the last one collects rows of nobody (-1)
    seen = np.zeros(math.prod(sizes) * columns, bool)
    for at in range(0, len(who), COUNT_CHUNK):  # int64 scratch per chunk
        rows = slice(at, at + COUNT_CHUNK)
        cell = cross([part[rows] for part in parts], sizes, len(who[rows]))
        cell *= columns
        # nobody (-1) lands in the last column of the cell before (of the
        # last cell, for the first), which no count reads
        cell += who[rows]
        seen[cell] = True
    cubes: dict[Axes, NDArray[np.bool_]] = {subsets[0]: seen.reshape(*sizes, columns)}
    for axes in subsets[1:]:
        parent = min(
            (tuple(sorted((*axes, a))) for a in subsets[0] if a not in axes),
            key=lambda p: math.prod(sizes[i] for i in p),
        )
        dropped = next(i for i, a in enumerate(parent) if a not in axes)
        cubes[axes] = np.logical_or.reduce(cubes[parent], axis=dropped)
    return {
        axes: _marked(cube.reshape(-1, columns)[:, :people])
        for axes, cube in cubes.items()
    }


def _marked(matrix: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Marks per row of a (cell, person) matrix, one ``count_nonzero`` per
    row: along an axis it sums the booleans as integers, about 8x slower
    (3.5 ms for 11 governorates by 1M people)."""
    return np.array([np.count_nonzero(row) for row in matrix], np.float64)


def _distinct_pairs(
    parts: Sequence[Codes],
    sizes: Sequence[int],
    who: NDArray[np.signedinteger[Any]],
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
GroupCompute = Callable[["Evaluator", Query, Mask, Codes, int], Computed]
"""A measure per group: the query's rows, each row's group, the groups."""
TableCompute = Callable[
    ["Evaluator", Query, Mask, Sequence[Codes], Sequence[int]], Tables
]
"""A measure per cell and margin: the query's rows, each dim's label index on
those rows, and each dim's number of labels."""


@dataclass(frozen=True)
class Measure:
    fact: str
    kind: str  # count | share | mean | rate
    compute: TableCompute
    whole: bool = False
    """Numerator and denominator count rows, people or cases: answered as
    integers (``3``, not ``3.0``). Hours and scores are not."""
    person: str | None = None
    """The column of the people a distinct count counts: their age group
    is the one of their first row in the query (``at_first_row``)."""
    ids: Callable[[Evaluator, Query], NDArray[np.signedinteger[Any]]] | None = None
    """A distinct count's ids on the query's rows (-1: not counted), which
    ``compute`` counts: with them, a table by the person's attributes only
    is counted per person (``Evaluator._people_tables``)."""
    counted_rows: Callable[[Evaluator, Query], IntArray] | None = None
    """For a distinct count of few rows (practice clients), the rows of the
    whole fact, in order, that count someone among the query's: its people
    are then found on those alone (``Seen``), not on ids for every row."""

    def cell(self, key: tuple[str, ...], numerator: float, denominator: float) -> Cell:
        top, bottom = self._number(numerator), self._number(denominator)
        if self.kind == "count":
            return Cell(key, top)
        if denominator == 0:
            return Cell(key, None, top, bottom)
        value = numerator / denominator
        if self.kind == "share":
            value *= 100
        return Cell(key, round(float(value), 4), top, bottom)

    def _number(self, value: float) -> int | float:
        return int(round(value)) if self.whole else float(value)


def zeros(groups: int) -> NDArray[np.float64]:
    return np.zeros(groups, np.float64)


def _groups(parts: Sequence[Codes], sizes: Sequence[int], rows: int) -> Codes:
    """``cross`` for a measure per group; one dim's codes as they are (a
    byte per row, mostly); with no dims, every row in group 0 as a
    read-only view of one zero, not an int64 per row."""
    if len(parts) == 1:
        return parts[0]
    if parts:
        return cross(parts, sizes, rows)
    return np.broadcast_to(np.int64(0), (rows,))


def grouped(compute: GroupCompute, *, adds_up: bool) -> TableCompute:
    """A measure per group, over a table's cells and margins: measured once
    on the cells when its numerator and denominator are whole numbers summed
    over rows, or over cases that each fall in one cell (a margin is then
    exactly the sum of its cells); otherwise (means, hours, distinct
    supervisees) measured again for each margin on the same rows."""

    def tables(
        ev: Evaluator,
        q: Query,
        mask: Mask,
        parts: Sequence[Codes],
        sizes: Sequence[int],
    ) -> Tables:
        rows = int(np.count_nonzero(mask))
        subsets = lattice(len(sizes))
        numerator, denominator = compute(
            ev, q, mask, _groups(parts, sizes, rows), math.prod(sizes)
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
                group = _groups([parts[a] for a in axes], chosen, rows)
                out[axes] = compute(ev, q, mask, group, math.prod(chosen))
        return out

    return tables


@dataclass(frozen=True)
class Catalogue:
    """What an evaluator can answer (``engine/measures.py`` holds the one in
    use): per fact, its frame in the store, its date column and which rows
    count; its dims (a column, or a source like ``person:<key column>``,
    ``place:<column>:<level>``, ``month:<date column>``, ``trainee:<column>``);
    the fixed label lists of categorical dims; the measures by name; the
    readable labels of dim values; and where ages on a fact's date are."""

    frames: Mapping[str, str]
    rows: Mapping[str, tuple[str, Callable[[Frame], Mask] | None]]
    dims: Mapping[str, Mapping[str, str]]
    enum_labels: Mapping[str, list[str]]
    measures: Mapping[str, Measure]
    labels: Callable[[Evaluator, list[str]], dict[str, dict[str, str]]]
    ages: Mapping[str, str] = field(default_factory=dict)
    """Per fact, the column holding the age its producer computed on the
    fact's date (from the date of birth, which reporting never sees)."""
