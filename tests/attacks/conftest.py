"""The three apps as the other suites run them (fresh PostgreSQL, real Redis)."""

import pytest
from fastapi import FastAPI

from tests.beneficiary.conftest import (  # noqa: F401  (beneficiary side)
    app,
    clean_tables,
    client,
    engine,
    issue,
    orgs,
    settings,
    signing_key,
)
from tests.e2e.conftest import apps  # noqa: F401  (the three, by name)
from tests.reporting.conftest import (  # noqa: F401  (reporting side)
    clean_reporting_tables,
    reporting_app,
    reporting_settings,
)
from tests.training.conftest import (  # noqa: F401  (training side)
    clean_training_tables,
    linked_training,
    training_app,
    training_settings,
)

LIMIT = 4
"""The bad-credential limit the ``low_limit`` fixture sets."""


@pytest.fixture
def low_limit(
    apps: dict[str, FastAPI],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for target in apps.values():
        monkeypatch.setattr(target.state.settings, "auth_failures_per_minute", LIMIT)
