"""The three apps as the other suites run them (fresh PostgreSQL, real Redis)."""

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
