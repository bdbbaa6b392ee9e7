"""A service's arq worker run in burst mode inside a test."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


async def run_burst(make: Callable[..., Any], runtime: Any) -> None:
    worker = make(runtime, burst=True)
    try:
        await asyncio.wait_for(worker.main(), 30)
    finally:
        await worker.close()
