"""Safe sharing: record-level exports for a named partner only under a
data-sharing agreement (purpose, fields, expiry), only of consented
records, every one logged."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/sharing-agreements", tags=["data protection"])
