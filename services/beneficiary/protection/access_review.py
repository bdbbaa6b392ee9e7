"""Access review for auditors, and break-the-glass access outside one's
site scope: a reason, a time limit, and a notice to the data protection
focal point."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["data protection"])
