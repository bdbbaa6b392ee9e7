"""A batch's ids sorted by number give the order ``sorted`` gives (rows are
locked in it, so two writers never deadlock); a record refused half-way
leaves none of its rows in the batch."""

from __future__ import annotations

import uuid

from sqlalchemy import MetaData, Table

from shared.bulk import ROWS_KEY, Rows, collect
from shared.db import sorted_ids


def test_uuids_sort_as_sorted_sorts_them() -> None:
    ids = [uuid.uuid4() for _ in range(500)]
    assert sorted_ids([*ids, *ids[:50]]) == sorted(set(ids))


def test_other_ids_sort_as_they_are() -> None:
    assert sorted_ids(["b", "a", "b"]) == ["a", "b"]
    assert sorted_ids([]) == []


class _Session:
    info: dict[str, object]

    def __init__(self) -> None:
        self.info = {}


def test_a_record_refused_half_way_leaves_no_rows() -> None:
    session, rows = _Session(), Rows()
    table, other = Table("t", MetaData()), Table("u", MetaData())
    with collect(session, rows):  # type: ignore[arg-type]
        rows.add(table, {"n": 1})
    try:
        with collect(session, rows) as collecting:  # type: ignore[arg-type]
            assert session.info[ROWS_KEY] is rows
            collecting.add(table, {"n": 2})
            collecting.add(other, {"n": 3})
            raise ValueError("refused")
    except ValueError:
        pass
    assert rows.tables == {table: [{"n": 1}], other: []}
    assert session.info[ROWS_KEY] is None
