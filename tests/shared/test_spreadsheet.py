"""CSV cells never open as a formula, whichever separator a spreadsheet
guesses, and the text comes back as written (pure logic: no database)."""

from __future__ import annotations

import io

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from shared.spreadsheet import guard_cell, unguard, write_csv_row
from tests.shared.spreadsheets import no_formula_either_way

TRICKY = st.text(alphabet=st.sampled_from(list("=+-@\t\r\n;,\"' a1")), max_size=12)
CELLS = st.lists(st.one_of(TRICKY, st.text(max_size=20)), min_size=1, max_size=4)


def written(rows: list[list[str]]) -> str:
    out = io.StringIO()
    for row in rows:
        write_csv_row(out, row)
    return out.getvalue()


@pytest.mark.long
@settings(max_examples=2000)
@given(st.lists(CELLS, min_size=1, max_size=3))
@example([["Ali;=1+2;x"]])
@example([["indicator", "Ali;=1+2;x", "2"]])
@example([["x;", "=1"], ["-2"]])
def test_no_field_starts_a_formula_and_the_text_round_trips(
    rows: list[list[str]],
) -> None:
    back = no_formula_either_way(written(rows))
    assert back == [[guard_cell(c) for c in row] for row in rows]
    assert [[unguard(c) for c in row] for row in back] == rows


def test_the_reviews_example() -> None:
    assert written([["Ali;=1+2;x"]]) == '"Ali;\'=1+2;x"\n'
    assert guard_cell("''=x") == "'''=x"
    assert unguard("'''=x") == "''=x"
