"""Delivery of notices to the data protection focal point's webhook:
signed, retried with back-off, dead-lettered after the last try."""

from __future__ import annotations

from typing import Any


async def deliver_protection_notice(ctx: dict[str, Any], notice_id: str) -> None:
    raise NotImplementedError("notices are being built")


async def redeliver_protection_notices(ctx: dict[str, Any]) -> int:
    raise NotImplementedError("notices are being built")
