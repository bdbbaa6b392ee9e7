"""Small-cell suppression (domain.md 6.4), attacked from outside.

The attacker below is written from the problem statement, not from the module:
it finds lines by scanning the published keys, recovers cells by chained
subtraction, looks for a null-space witness for every suppressed cell (checked
by multiplying it back into the equations, so a wrong elimination fails loudly
instead of passing), and bounds every suppressed cell by propagating
"suppressed means at least 1" through the lines.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.reporting.suppression import ALL, suppress, suppress_rate

Key = tuple[str, ...]
Cells = dict[Key, int]
Line = tuple[list[Key], Key]


def publish(interior: Mapping[Key, int], width: int) -> Cells:
    """Every cell of the table, margins included, from its interior counts."""
    cells: Cells = {}
    for key, count in interior.items():
        for mask in itertools.product((False, True), repeat=width):
            margin = tuple(ALL if m else v for v, m in zip(key, mask, strict=True))
            cells[margin] = cells.get(margin, 0) + count
    return cells


def table_1d(**counts: int) -> Cells:
    return publish({(name,): n for name, n in counts.items()}, 1)


def find_lines(cells: Mapping[Key, int]) -> list[Line]:
    lines: list[Line] = []
    for margin in cells:
        for axis, value in enumerate(margin):
            if value != ALL:
                continue
            interior = [
                key
                for key in cells
                if key[axis] != ALL
                and all(key[a] == margin[a] for a in range(len(key)) if a != axis)
            ]
            if interior:
                lines.append((interior, margin))
    return lines


def subtraction_attack(cells: Mapping[Key, int], hidden: set[Key]) -> dict[Key, int]:
    known = {key: n for key, n in cells.items() if key not in hidden}
    recovered: dict[Key, int] = {}
    lines = find_lines(cells)
    progress = True
    while progress:
        progress = False
        for interior, margin in lines:
            unknown = [key for key in [*interior, margin] if key not in known]
            if len(unknown) != 1:
                continue
            (target,) = unknown
            if target == margin:
                value = sum(known[key] for key in interior)
            else:
                value = known[margin] - sum(
                    known[key] for key in interior if key != target
                )
            known[target] = recovered[target] = value
            progress = True
    return recovered


def equations(cells: Mapping[Key, int], columns: Sequence[Key]) -> list[list[int]]:
    position = {key: col for col, key in enumerate(columns)}
    rows = []
    for interior, margin in find_lines(cells):
        row = [0] * len(columns)
        for key in interior:
            if key in position:
                row[position[key]] += 1
        if margin in position:
            row[position[margin]] -= 1
        if any(row):
            rows.append(row)
    return rows


def null_space(rows: list[list[int]], width: int) -> list[list[Fraction]]:
    matrix = [[Fraction(v) for v in row] for row in rows]
    pivot_columns: list[int] = []
    rank = 0
    for col in range(width):
        found = next((r for r in range(rank, len(matrix)) if matrix[r][col]), None)
        if found is None:
            continue
        matrix[rank], matrix[found] = matrix[found], matrix[rank]
        lead = matrix[rank][col]
        matrix[rank] = [v / lead for v in matrix[rank]]
        for r in range(len(matrix)):
            if r != rank and matrix[r][col]:
                factor = matrix[r][col]
                pairs = zip(matrix[r], matrix[rank], strict=True)
                matrix[r] = [a - factor * b for a, b in pairs]
        pivot_columns.append(col)
        rank += 1
    basis = []
    for free in (c for c in range(width) if c not in pivot_columns):
        vector = [Fraction(0)] * width
        vector[free] = Fraction(1)
        for r, col in enumerate(pivot_columns):
            vector[col] = -matrix[r][free]
        basis.append(vector)
    return basis


def linear_attack(cells: Mapping[Key, int], hidden: set[Key]) -> set[Key]:
    """Suppressed cells that no equation-preserving change can move."""
    columns = sorted(hidden)
    rows = equations(cells, columns)
    basis = null_space(rows, len(columns))
    for vector in basis:
        assert all(
            sum(a * d for a, d in zip(row, vector, strict=True)) == 0 for row in rows
        )
    return {key for col, key in enumerate(columns) if all(v[col] == 0 for v in basis)}


def bounds_attack(
    cells: Mapping[Key, int], hidden: set[Key]
) -> dict[Key, tuple[float, float]]:
    lo: dict[Key, float] = {
        key: (1 if key in hidden else n) for key, n in cells.items()
    }
    hi: dict[Key, float] = {
        key: (math.inf if key in hidden else n) for key, n in cells.items()
    }
    lines = find_lines(cells)
    for _ in range(10_000):
        changed = False
        for interior, margin in lines:
            tighter = {
                margin: (sum(lo[k] for k in interior), sum(hi[k] for k in interior))
            }
            for key in interior:
                others = [k for k in interior if k != key]
                tighter[key] = (
                    lo[margin] - sum(hi[k] for k in others),
                    hi[margin] - sum(lo[k] for k in others),
                )
            for key, (low, high) in tighter.items():
                if low > lo[key] or high < hi[key]:
                    lo[key], hi[key] = max(lo[key], low), min(hi[key], high)
                    changed = True
        if not changed:
            return {key: (lo[key], hi[key]) for key in hidden}
    raise AssertionError("bounds did not settle")


def assert_protected(cells: Cells, hidden: set[Key]) -> None:
    assert subtraction_attack(cells, hidden) == {}
    assert linear_attack(cells, hidden) == set()
    for key, (low, high) in bounds_attack(cells, hidden).items():
        assert low <= cells[key] <= high, key
        assert low < high, (key, low, high)


@st.composite
def tables(draw: st.DrawFn, *, small: bool = True) -> tuple[Cells, list[str], int]:
    width = draw(st.integers(1, 3))
    largest = {1: 6, 2: 4, 3: 3}[width]
    sizes = [draw(st.integers(1, largest)) for _ in range(width)]
    threshold = draw(st.sampled_from([3, 5, 10]))
    big = st.integers(threshold, 40)
    counts = (
        st.one_of(st.just(0), st.integers(1, threshold - 1), big)
        if small
        else st.one_of(st.just(0), big)
    )
    grid = itertools.product(*[[f"v{i}" for i in range(size)] for size in sizes])
    interior = {key: draw(counts) for key in grid}
    return publish(interior, width), [f"d{i}" for i in range(width)], threshold


EXAMPLES = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


BRIDGE = publish(
    {
        (row, f"a{col}"): n
        for row, counts in {
            "v0": [13, 4, 0],
            "v1": [34, 0, 0],
            "v2": [0, 6, 32],
        }.items()
        for col, n in enumerate(counts)
    },
    2,
)


class TestAttacker:
    def test_subtraction_recovers_a_lone_cell_and_what_follows(self) -> None:
        cells = publish({("f", "a"): 3, ("f", "b"): 9, ("m", "a"): 7, ("m", "b"): 8}, 2)

        recovered = subtraction_attack(cells, {("f", "a"), ("f", ALL)})

        assert recovered == {("f", "a"): 3, ("f", ALL): 12}

    def test_linear_algebra_solves_a_cell_subtraction_cannot(self) -> None:
        hidden: set[Key] = {
            (ALL, "a1"),
            (ALL, "a2"),
            ("v0", ALL),
            ("v0", "a0"),
            ("v0", "a1"),
            ("v1", ALL),
            ("v1", "a0"),
            ("v2", "a1"),
            ("v2", "a2"),
        }

        assert subtraction_attack(BRIDGE, hidden) == {}
        assert linear_attack(BRIDGE, hidden) == {("v0", "a1")}

    def test_bounds_pin_two_ones_that_sum_to_two(self) -> None:
        cells = table_1d(a=1, b=1, c=50)

        bounds = bounds_attack(cells, {("a",), ("b",)})

        assert bounds == {("a",): (1, 1), ("b",): (1, 1)}


class TestSuppress:
    def test_one_small_cell_in_a_line_takes_the_next_smallest(self) -> None:
        cells = table_1d(a=3, b=7, c=20)

        assert suppress(cells, ["sex"], 5) == {("a",), ("b",)}

    def test_two_dimensions_close_a_rectangle(self) -> None:
        cells = publish(
            {
                ("f", "a"): 3,
                ("f", "b"): 12,
                ("f", "c"): 20,
                ("m", "a"): 15,
                ("m", "b"): 9,
                ("m", "c"): 30,
            },
            2,
        )

        hidden = suppress(cells, ["sex", "age"], 5)

        assert hidden == {("f", "a"), ("f", "b"), ("m", "a"), ("m", "b")}
        assert_protected(cells, hidden)

    def test_the_margin_is_taken_when_the_rest_of_the_line_is_zero(self) -> None:
        cells = table_1d(a=3, b=0, c=0)

        assert suppress(cells, ["layer"], 5) == {("a",), (ALL,)}

    def test_a_row_of_zeros_forces_its_margin_and_no_zero(self) -> None:
        cells = publish(
            {
                ("f", "a"): 2,
                ("f", "b"): 0,
                ("m", "a"): 11,
                ("m", "b"): 17,
            },
            2,
        )

        hidden = suppress(cells, ["sex", "age"], 5)

        assert {("f", "a"), ("f", ALL)} <= hidden
        assert all(cells[key] > 0 for key in hidden)
        assert_protected(cells, hidden)

    def test_a_cell_every_line_protects_is_still_solved_for(self) -> None:
        cells = BRIDGE

        hidden = suppress(cells, ["site", "age"], 5)

        assert ("v0", "a1") in hidden
        assert_protected(cells, hidden)

    def test_zeros_are_never_complements(self) -> None:
        cells = table_1d(a=4, b=0, c=0, d=9, e=30)

        assert suppress(cells, ["site"], 5) == {("a",), ("d",)}

    def test_two_ones_in_a_line_are_not_left_to_sum_to_two(self) -> None:
        cells = table_1d(a=1, b=1, c=50)

        hidden = suppress(cells, ["site"], 5)

        assert hidden == {("a",), ("b",), ("c",)}
        assert_protected(cells, hidden)

    def test_nothing_is_suppressed_when_every_count_is_zero_or_large(self) -> None:
        cells = publish({("f", "a"): 0, ("f", "b"): 5, ("m", "a"): 12}, 2)
        cells[("m", "b")] = 0

        assert suppress(cells, ["sex", "age"], 5) == set()

    def test_a_table_without_dimensions_is_one_cell(self) -> None:
        assert suppress({(): 3}, [], 5) == {()}
        assert suppress({(): 30}, [], 5) == set()

    def test_non_additive_margins_still_leave_two_per_line(self) -> None:
        cells: Cells = {("l1",): 30, ("l2",): 25, ("l3",): 3, ("l4",): 4, (ALL,): 50}

        hidden = suppress(cells, ["iasc_layer"], 5)

        assert {("l3",), ("l4",)} < hidden

    @pytest.mark.parametrize(
        "cells",
        [
            {("a",): 3},
            {("a",): 3, ("a", ALL): 3},
            {("a",): -1, (ALL,): -1},
        ],
    )
    def test_rejects_tables_that_are_not_whole(self, cells: Cells) -> None:
        with pytest.raises(ValueError, match=r"margins|dimension|non-negative"):
            suppress(cells, ["site"], 5)

    @EXAMPLES
    @given(tables())
    def test_every_small_cell_is_suppressed_and_no_zero(
        self, table: tuple[Cells, list[str], int]
    ) -> None:
        cells, dims, threshold = table

        hidden = suppress(cells, dims, threshold)

        assert {key for key, n in cells.items() if 0 < n < threshold} <= hidden
        assert all(cells[key] > 0 for key in hidden)

    @EXAMPLES
    @given(tables())
    def test_no_suppressed_cell_can_be_recovered(
        self, table: tuple[Cells, list[str], int]
    ) -> None:
        cells, dims, threshold = table

        assert_protected(cells, suppress(cells, dims, threshold))

    @settings(max_examples=50, deadline=None)
    @given(tables(small=False))
    def test_nothing_is_suppressed_without_small_cells(
        self, table: tuple[Cells, list[str], int]
    ) -> None:
        cells, dims, threshold = table

        assert suppress(cells, dims, threshold) == set()


class TestSuppressRate:
    @pytest.mark.parametrize(
        ("numerator", "denominator", "expected"),
        [
            (3, 40, True),
            (0, 40, False),
            (5, 40, False),
            (12, 4, True),
            (0, 0, True),
            (40, 40, False),
        ],
    )
    def test_small_numerator_or_denominator(
        self, numerator: int, denominator: int, expected: bool
    ) -> None:
        assert suppress_rate(numerator, denominator, 5) is expected

    def test_rejects_negative_counts(self) -> None:
        with pytest.raises(ValueError, match="negative"):
            suppress_rate(-1, 10, 5)
