"""A batch's ids sorted by number give the order ``sorted`` gives (rows are
locked in it, so two writers never deadlock)."""

from __future__ import annotations

import uuid

from shared.db import sorted_ids


def test_uuids_sort_as_sorted_sorts_them() -> None:
    ids = [uuid.uuid4() for _ in range(500)]
    assert sorted_ids([*ids, *ids[:50]]) == sorted(set(ids))


def test_other_ids_sort_as_they_are() -> None:
    assert sorted_ids(["b", "a", "b"]) == ["a", "b"]
    assert sorted_ids([]) == []
