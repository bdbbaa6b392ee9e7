"""Apps started in-process as the tests use them."""

from __future__ import annotations

from asgi_lifespan import LifespanManager
from starlette.types import ASGIApp

STARTUP_SECONDS = 60
"""asgi-lifespan waits 5 s by default: a start that migrates SQLite or opens
pools on a loaded 2-core machine can take longer without anything being wrong."""


def running(app: ASGIApp) -> LifespanManager:
    """The app's startup run on entry and its shutdown on exit."""
    return LifespanManager(app, startup_timeout=STARTUP_SECONDS, shutdown_timeout=30)
