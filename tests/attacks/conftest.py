"""A low bad-credential limit for the attack tests."""

import pytest
from fastapi import FastAPI

from tests.attacks.limits import LIMIT


@pytest.fixture
def low_limit(
    apps: dict[str, FastAPI],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for target in apps.values():
        monkeypatch.setattr(target.state.settings, "auth_failures_per_minute", LIMIT)
