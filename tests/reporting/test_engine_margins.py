"""The engine derives a table's margins and total from one cross-tab of its
rows. On random small fact sets, every margin must equal the same query asked
with only that margin's dims, and the cells must equal a plain count over the
rows; the vectorised improvement share must equal the rule applied case by
case, ties included."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import create_async_engine

from services.reporting.engine import evaluator as engine_evaluator
from services.reporting.engine import measures as engine_measures
from services.reporting.engine.ages import AgeBands
from services.reporting.engine.evaluator import Answer, Evaluator, Query
from services.reporting.engine.measures import evaluator as make_evaluator
from services.reporting.engine.store import FactStore

ORGS = [uuid.UUID(int=1), uuid.UUID(int=2)]
SITES = [uuid.UUID(int=11), uuid.UUID(int=12), None]
FIRST_DAY = date(2026, 1, 1)
SERVICE_DIMS = [
    "sex",
    "age_group",
    "disability",
    "iasc_layer",
    "organisation",
    "delivered_through",
    "site",
    "month",
]
examples = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def store_of(**rows: list[tuple[Any, ...]]) -> FactStore:
    store = FactStore(create_async_engine("sqlite+aiosqlite://"))
    for frame, loaded in rows.items():
        store.frames[frame].load(loaded)
    return store


def evaluator(store: FactStore) -> Evaluator:
    return make_evaluator(store, AgeBands.parse("0-17,18-59,60+"))


@contextmanager
def matrix_limit(limit: int) -> Iterator[None]:
    """Small enough, it sends distinct counts down the de-duplicated pairs
    path instead of the boolean matrix."""
    saved = engine_evaluator.MATRIX_LIMIT
    engine_evaluator.MATRIX_LIMIT = limit
    try:
        yield
    finally:
        engine_evaluator.MATRIX_LIMIT = saved


@contextmanager
def packed_wide(wide: bool) -> Iterator[None]:
    """Wide, people's first (day, row) keys are packed in 64 bits, as for
    more rows and days than 32 bits hold."""
    saved = engine_evaluator.PACKED_32
    engine_evaluator.PACKED_32 = -1 if wide else saved
    try:
        yield
    finally:
        engine_evaluator.PACKED_32 = saved


@contextmanager
def sorted_in_one(one: bool) -> Iterator[None]:
    """Not in one, the first and latest rows per case are ordered by a
    three-key lexsort, as for keys x days past 64 bits."""
    saved = engine_measures.ONE_SORT_LIMIT
    engine_measures.ONE_SORT_LIMIT = saved if one else 0
    try:
        yield
    finally:
        engine_measures.ONE_SORT_LIMIT = saved


people_rows = st.lists(
    st.tuples(
        st.sampled_from(["female", "male", "other", None]),
        st.integers(1940, 2025),
        st.sampled_from(["yes", "no", None]),
    ),
    max_size=8,
)
service_rows = st.lists(
    st.tuples(
        st.booleans(),  # alive
        st.integers(-1, 7),  # person index; -1: anonymous line
        st.sampled_from(ORGS),
        st.sampled_from(["direct", "partner"]),
        st.sampled_from(["basic_services", "community_family", "specialized"]),
        st.integers(0, 120),  # day
        st.sampled_from(SITES),
        st.integers(1, 5),  # people on an anonymous line
        st.sampled_from(["female", "male", None]),
        st.sampled_from(["under_18", "adult", "0_17", "18_plus", None]),
        st.one_of(st.none(), st.integers(0, 90)),  # age at service
    ),
    max_size=40,
)


def service_store(
    people: list[tuple[Any, ...]], services: list[tuple[Any, ...]]
) -> FactStore:
    beneficiaries = [
        (
            key,
            key,  # position
            False,  # erased
            ORGS[0],
            SITES[0],
            sex,
            birth_year,
            "single",
            disability,
            "host",
            FIRST_DAY,
            "in_person",
            None,  # age at registration
            None,  # nationality
        )
        for key, (sex, birth_year, disability) in enumerate(people, start=1)
    ]
    lines = []
    for key, line in enumerate(services, start=1):
        alive, person, org, through, layer, day, site, count, sex, age, aged = line
        anonymous = person < 0 or person >= len(people)
        lines.append(
            (
                key,
                alive,
                anonymous,
                None if anonymous else person + 1,
                org,
                ORGS[0],
                through,
                "individual_counselling",
                layer,
                FIRST_DAY + timedelta(days=day),
                site,
                "in_person",
                None,
                count if anonymous else 1,
                sex if anonymous else None,
                age if anonymous else None,
                None,
                None if anonymous else aged,
                None,  # team
                None,  # delivery mode
                None,  # project
                None,  # series
                None,  # group activity
                None,  # topic
                None,  # language
            )
        )
    return store_of(beneficiaries=beneficiaries, services=lines)


def cells_of(answer: Answer) -> dict[tuple[str, ...], float | None]:
    return {cell.key: cell.value for cell in answer.cells}


@examples
@given(
    people=people_rows,
    services=service_rows,
    measure=st.sampled_from(["people", "services"]),
    by=st.lists(st.sampled_from(SERVICE_DIMS), min_size=1, max_size=3, unique=True),
    first=st.integers(0, 120),
    days=st.integers(0, 120),
    pairs=st.booleans(),
    wide=st.booleans(),
)
def test_margins_equal_the_same_query_by_fewer_dims(
    people: list[tuple[Any, ...]],
    services: list[tuple[Any, ...]],
    measure: str,
    by: list[str],
    first: int,
    days: int,
    pairs: bool,
    wide: bool,
) -> None:
    store = service_store(people, services)
    start = FIRST_DAY + timedelta(days=first)
    end = start + timedelta(days=days)
    limit = 1 if pairs else engine_evaluator.MATRIX_LIMIT
    with matrix_limit(limit), packed_wide(wide):
        found = evaluator(store).evaluate(Query(measure, start, end, by))
        for size in range(1, len(by)):
            for subset, cells in found.margins.items():
                if len(subset) != size:
                    continue
                alone = evaluator(store).evaluate(Query(measure, start, end, subset))
                assert {c.key: c.value for c in cells} == cells_of(alone)
        assert len(found.margins) == 2 ** len(by) - 2
        total = evaluator(store).evaluate(Query(measure, start, end, []))
    assert found.total.value == total.total.value

    ev = evaluator(store)
    mask = ev.rows("services", Query(measure, start, end, by))
    dims = [ev.dim("services", name) for name in by]
    frame = store.frames["services"]
    first_age: dict[int, int] = {}  # a person's age group: at their first service
    if "age_group" in by and measure == "people":
        ages = dims[by.index("age_group")]
        days_of = frame.col("service_date")
        for row in sorted(mask.nonzero()[0].tolist(), key=lambda r: days_of[r]):
            who = int(frame.col("beneficiary_key")[row])
            first_age.setdefault(who, int(ages.codes[row]))
    expected: dict[tuple[str, ...], Any] = {}
    for row in mask.nonzero()[0].tolist():
        who = int(frame.col("beneficiary_key")[row])
        key = tuple(
            d.labels[first_age.get(who, d.codes[row])]
            if name == "age_group"
            else d.labels[d.codes[row]]
            for name, d in zip(by, dims, strict=True)
        )
        if measure == "services":
            expected[key] = expected.get(key, 0) + int(frame.col("people")[row])
        elif frame.col("beneficiary_key")[row] >= 0:
            expected.setdefault(key, set()).add(int(frame.col("beneficiary_key")[row]))
    if measure == "people":
        expected = {key: len(who) for key, who in expected.items()}
    assert cells_of(found) == {k: float(v) for k, v in expected.items() if v}


assessment_rows = st.lists(
    st.tuples(
        st.integers(0, 4),  # case
        st.sampled_from(ORGS),
        st.sampled_from(["phq9", "srq20", "gad7"]),
        st.sampled_from(["baseline", "follow_up", "closure"]),
        st.integers(0, 60),  # day
        st.one_of(st.none(), st.integers(0, 27)),  # total score
    ),
    max_size=30,
)
RULES: list[dict[str, Any]] = [
    {"instrument": "phq9", "score": "total", "better": "lower", "threshold": 6},
    {"instrument": "srq20", "score": "total", "better": "higher", "threshold": 3},
]


def improvement_by_hand(
    rows: list[tuple[Any, ...]], start: date, end: date, group_of: Any
) -> dict[Any, tuple[int, int]]:
    """The rule applied case by case, rows in key order: (improved, cases)
    per group of the case's latest follow-up row. A case is its id within
    its organisation (ids are unique per organisation only)."""
    rules = {r["instrument"]: r for r in RULES}
    baseline: dict[tuple[Any, str], tuple[date, int]] = {}
    latest: dict[tuple[Any, str], tuple[date, int, int]] = {}
    for row, (case, org, instrument, timepoint, day, score) in enumerate(rows):
        when = FIRST_DAY + timedelta(days=day)
        if instrument not in rules or score is None or when > end:
            continue
        key = ((case, org), instrument)
        if timepoint == "baseline":
            if key not in baseline or when < baseline[key][0]:
                baseline[key] = (when, score)
        elif when >= start and (key not in latest or when > latest[key][0]):
            latest[key] = (when, score, row)
    improved: dict[Any, bool] = {}
    where: dict[Any, tuple[date, int]] = {}
    for key, (when, score, row) in latest.items():
        if key not in baseline or baseline[key][0] > when:
            continue
        rule = rules[key[1]]
        gain = score - baseline[key][1]
        if rule["better"] == "lower":
            gain = -gain
        improved[key[0]] = improved.get(key[0], False) or gain >= rule["threshold"]
        if key[0] not in where or when > where[key[0]][0]:
            where[key[0]] = (when, row)
    out: dict[Any, tuple[int, int]] = {}
    for case, better in improved.items():
        group = group_of(where[case][1])
        top, bottom = out.get(group, (0, 0))
        out[group] = (top + better, bottom + 1)
    return out


@examples
@given(
    rows=assessment_rows,
    first=st.integers(0, 60),
    days=st.integers(0, 60),
    by=st.lists(st.sampled_from(["organisation", "month"]), max_size=2, unique=True),
    one_sort=st.booleans(),
)
def test_improvement_share_follows_the_rule_case_by_case(
    rows: list[tuple[Any, ...]], first: int, days: int, by: list[str], one_sort: bool
) -> None:
    cases = [uuid.UUID(int=100 + n) for n in range(5)]
    store = store_of(
        assessments=[
            (
                key,
                cases[case],
                None,
                org,
                instrument,
                timepoint,
                FIRST_DAY + timedelta(days=day),
                {} if score is None else {"total": score},
            )
            for key, (case, org, instrument, timepoint, day, score) in enumerate(
                rows, start=1
            )
        ]
    )
    start = FIRST_DAY + timedelta(days=first)
    end = start + timedelta(days=days)
    query = Query("improved_share", start, end, by, parameters={"improvement": RULES})
    with sorted_in_one(one_sort):
        found = evaluator(store).evaluate(query)

    def group_of(row: int) -> tuple[str, ...]:
        _, org, _, _, day, _ = rows[row]
        when = FIRST_DAY + timedelta(days=day)
        values = {"organisation": str(org), "month": when.strftime("%Y-%m")}
        return tuple(values[name] for name in by)

    expected = improvement_by_hand(rows, start, end, group_of)
    got = {c.key: (c.numerator, c.denominator) for c in found.cells} if by else {}
    if by:
        assert got == {k: (float(a), float(b)) for k, (a, b) in expected.items()}
    top = sum(a for a, _ in expected.values())
    bottom = sum(b for _, b in expected.values())
    if bottom:
        assert (found.total.numerator, found.total.denominator) == (top, bottom)
    else:
        assert found.total.value is None


@pytest.mark.parametrize("one_sort", [True, False])
def test_improvement_compares_the_earliest_baseline_with_the_latest_follow_up(
    one_sort: bool,
) -> None:
    """Each case would count as improved if the wrong row were taken: a
    later baseline (case 0), an earlier follow-up (case 1), the second of
    two follow-ups on one day (case 2). Rows sorted as one number or by
    lexsort alike."""
    rows = [
        (0, ORGS[0], "phq9", "baseline", 5, 20),
        (0, ORGS[0], "phq9", "baseline", 1, 10),
        (0, ORGS[0], "phq9", "follow_up", 30, 12),
        (1, ORGS[0], "phq9", "baseline", 1, 20),
        (1, ORGS[0], "phq9", "follow_up", 30, 18),
        (1, ORGS[0], "phq9", "follow_up", 20, 10),
        (2, ORGS[0], "phq9", "baseline", 1, 20),
        (2, ORGS[0], "phq9", "follow_up", 30, 18),
        (2, ORGS[0], "phq9", "follow_up", 30, 5),
    ]
    cases = [uuid.UUID(int=100 + n) for n in range(3)]
    store = store_of(
        assessments=[
            (key, cases[case], None, org, instrument, timepoint, day, score)
            for key, (case, org, instrument, timepoint, day, score) in enumerate(
                [
                    (*r[:4], FIRST_DAY + timedelta(days=r[4]), {"total": r[5]})
                    for r in rows
                ],
                start=1,
            )
        ]
    )
    end = FIRST_DAY + timedelta(days=60)
    query = Query(
        "improved_share", FIRST_DAY, end, [], parameters={"improvement": RULES}
    )
    with sorted_in_one(one_sort):
        found = evaluator(store).evaluate(query)
    assert (found.total.numerator, found.total.denominator) == (0, 3)
    assert improvement_by_hand(rows, FIRST_DAY, end, lambda row: ()) == {(): (0, 3)}


def test_a_store_keeps_the_age_groups_of_a_few_band_sets_only() -> None:
    people = [("female", 2000, "no"), ("male", 1950, "yes")]
    services = [
        (
            True,
            person,
            ORGS[0],
            "direct",
            "specialized",
            3,
            SITES[0],
            1,
            None,
            None,
            None,
        )
        for person in (0, 1)
    ]
    store = service_store(people, services)
    start, end = FIRST_DAY, FIRST_DAY + timedelta(days=30)
    assert engine_evaluator.BAND_SETS_KEPT < 13
    for last in range(20, 33):
        bands = AgeBands.parse(f"0-{last - 1},{last}+")
        found = make_evaluator(store, bands).evaluate(
            Query("services", start, end, ["age_group"])
        )
        young, old = bands.labels
        expected = {(young,): 1.0, (old,): 1.0} if last > 26 else {(old,): 2.0}
        assert cells_of(found) == expected  # aged 26 and 76
    kept = {key[2] for key in store.derived if key[1:2] == ("age_group",)}
    assert len(kept) == engine_evaluator.BAND_SETS_KEPT


def test_a_store_keeps_the_rows_of_a_few_filters_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Filtered rows are kept as bits for the first filters a store state
    sees; past those, each is worked out again, and answers stay right
    either way, asked once or twice."""
    monkeypatch.setattr(engine_evaluator, "FILTERS_KEPT", 2)
    layers = ["basic_services", "community_family", "specialized"]
    services = [
        (True, -1, ORGS[0], "direct", layer, day, SITES[0], 1, None, None, None)
        for day, layer in enumerate(layers * 3 + layers[:1])
    ]
    store = service_store([], services)
    end = FIRST_DAY + timedelta(days=30)
    wanted = [[a, b] for a in layers for b in layers if a < b] + [[a] for a in layers]
    for _ in range(2):
        for chosen in wanted:
            found = evaluator(store).evaluate(
                Query("services", FIRST_DAY, end, filters={"iasc_layer": chosen})
            )
            expected = sum(1 for line in services if line[4] in chosen)
            assert found.total.value == expected, chosen
    assert len(store.derived[("filters kept",)]) == 2


def test_a_line_with_its_own_sex_and_a_person_counts_them_in_both_cells() -> None:
    """People by sex are counted once per person (one cell each) unless a
    row carries a sex of its own: a service line marked anonymous that
    also names a person counts that person under the line's sex, as well
    as under the person's own from their other line."""
    store = service_store([("female", 1990, "no")], [])
    line = (
        True,  # alive
        True,  # anonymous, yet naming person 1
        1,
        ORGS[0],
        ORGS[0],
        "direct",
        "individual_counselling",
        "specialized",
        FIRST_DAY,
        SITES[0],
        "in_person",
        None,
        1,
        "male",  # its own sex
        None,
        "no",  # its own disability
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    )
    registered = (True, False, 1, *line[3:13], None, None, None, 30, *line[17:])
    store.frames["services"].load([(1, *line), (2, *registered)])
    end = FIRST_DAY + timedelta(days=30)
    found = evaluator(store).evaluate(Query("people", FIRST_DAY, end, ["sex"]))
    assert cells_of(found) == {("female",): 1.0, ("male",): 1.0}
    assert found.total.value == 1
    found = evaluator(store).evaluate(
        Query("people", FIRST_DAY, end, ["disability", "sex"])
    )
    assert cells_of(found) == {("no", "female"): 1.0, ("no", "male"): 1.0}
    assert {c.key: c.value for c in found.margins[("disability",)]} == {("no",): 1.0}


@pytest.mark.parametrize("wide", [False, True])
def test_a_person_among_few_counted_rows_takes_the_age_of_their_first_one(
    wide: bool,
) -> None:
    """With most rows anonymous, people are found on the rows that count
    someone alone; their first row (by date, not by row) must still be
    found among all the query's rows: aged 17 on day 3, in a later row
    than the one of day 20 at 18. Keys packed in 32 bits or 64 alike."""

    def line(person: int, day: int, aged: int | None = None) -> tuple[Any, ...]:
        place = (ORGS[0], "direct", "specialized", day, SITES[0])
        return (True, person, *place, 2, "female", "adult", aged)

    anonymous = [line(-1, day) for day in range(12)]
    services = [line(0, 20, 18), *anonymous, line(0, 3, 17), line(1, 5, 40)]
    store = service_store([("female", 2008, "no"), ("male", 1986, "no")], services)
    end = FIRST_DAY + timedelta(days=30)
    for by in (["age_group"], ["sex", "age_group"]):
        with packed_wide(wide):
            found = evaluator(store).evaluate(Query("people", FIRST_DAY, end, by))
        ages = {cell.key[-1]: cell.value for cell in found.cells}
        assert ages == {"0_17": 1, "18_59": 1}, by


@pytest.mark.parametrize("wide", [False, True])
def test_practice_clients_take_the_age_of_their_first_linked_row(wide: bool) -> None:
    """Practice clients are found on the rows of the whole frame that a
    practice session links (not on ids for every row of the period): a
    client's age group is the one of their first linked row by date (aged
    17 on day 3, in a later row than day 20's at 18), whatever their rows
    that are not linked (aged 60 on day 1)."""
    session = uuid.UUID(int=500)

    def line(person: int, day: int, aged: int | None, linked: bool) -> tuple[Any, ...]:
        anonymous = person < 0
        return (
            True,  # alive
            anonymous,
            None if anonymous else person + 1,
            ORGS[0],
            ORGS[0],
            "direct",
            "individual_counselling",
            "specialized",
            FIRST_DAY + timedelta(days=day),
            SITES[0],
            "in_person",
            None,  # staff
            2 if anonymous else 1,
            "female" if anonymous else None,
            "adult" if anonymous else None,
            None,  # disability
            aged,
            None,  # team
            None,  # delivery mode
            None,  # project
            None,  # series
            session if linked else None,
            None,  # topic
            None,  # language
        )

    lines = [
        line(0, 1, 60, False),
        line(0, 20, 18, True),
        *(line(-1, day, None, True) for day in range(6)),
        line(0, 3, 17, True),
        line(1, 5, 40, True),
        line(1, 6, 41, False),
    ]
    store = service_store([("female", 2008, "no"), ("male", 1986, "no")], [])
    store.frames["services"].load([(key, *row) for key, row in enumerate(lines, 1)])
    store.frames["practice"].load(
        [(1, ORGS[0], FIRST_DAY, "practicum", 2, True, 1.0, session)]
    )
    end = FIRST_DAY + timedelta(days=30)
    for by, expected in (
        (["age_group"], {("0_17",): 1, ("18_59",): 1}),
        (["sex", "age_group"], {("female", "0_17"): 1, ("male", "18_59"): 1}),
        (["sex"], {("female",): 1, ("male",): 1}),
    ):
        with packed_wide(wide):
            found = evaluator(store).evaluate(
                Query("practice_clients_reached", FIRST_DAY, end, by)
            )
        assert cells_of(found) == expected, by
        assert found.total.value == 2
