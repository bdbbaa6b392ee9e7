"""A started service leaves what it loaded at startup out of the garbage
collector's full passes, which otherwise walk every module, model and schema
while a sync batch's rows are alive; what it allocates later is still
collected."""

from __future__ import annotations

import gc
import weakref

from fastapi import FastAPI


class _Node:
    def __init__(self) -> None:
        self.me = self


async def test_startup_objects_are_frozen_later_garbage_is_collected(
    beneficiary_app: FastAPI,
) -> None:
    assert gc.get_freeze_count() > 10_000
    cycle = _Node()
    gone = weakref.ref(cycle)
    del cycle
    gc.collect()
    assert gone() is None
