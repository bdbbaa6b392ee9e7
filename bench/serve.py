"""Uvicorn factory for the benchmark: the beneficiary app with settings from
the environment only, so each uvicorn worker process builds the same app.

    uvicorn --factory bench.serve:app
"""

from __future__ import annotations

from fastapi import FastAPI

from services.beneficiary.app import create_app
from services.beneficiary.settings import BeneficiarySettings


def app() -> FastAPI:
    """Build the app from ``BENEFICIARY_*`` variables, as a deployment would."""
    return create_app(BeneficiarySettings())
