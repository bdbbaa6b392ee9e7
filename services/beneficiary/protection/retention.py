"""Retention: policies per record type and organisation, applied by a
scheduled job (or a dry run that only lists what would be affected)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

router = APIRouter(prefix="/v1/retention", tags=["data protection"])


async def apply_retention(ctx: dict[str, Any]) -> int:
    """Apply every organisation's retention policies (the daily job)."""
    raise NotImplementedError("retention is being built")
