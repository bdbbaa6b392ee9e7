"""The three apps as the other suites run them (fresh PostgreSQL, real Redis)."""

import pytest
from fastapi import FastAPI

from tests.beneficiary.conftest import (  # noqa: F401  (the same app and callers)
    alice,
    app,
    bob,
    clean_tables,
    client,
    engine,
    issue,
    orgs,
    settings,
    signing_key,
    site_ids,
)
from tests.reporting.conftest import (  # noqa: F401  (reporting side)
    catch_up,
    clean_reporting_tables,
    reporting_app,
    reporting_client,
    reporting_settings,
)
from tests.training.conftest import (  # noqa: F401  (training side)
    clean_training_tables,
    linked_training,
    training_app,
    training_client,
    training_settings,
)


@pytest.fixture
def apps(
    app: FastAPI,  # noqa: F811
    training_app: FastAPI,  # noqa: F811
    reporting_app: FastAPI,  # noqa: F811
) -> dict[str, FastAPI]:
    return {"beneficiary": app, "training": training_app, "reporting": reporting_app}
