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
