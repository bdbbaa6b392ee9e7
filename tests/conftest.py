"""Test infrastructure: real PostgreSQL and Redis, never mocked.

TEST_DATABASE_URL names a PostgreSQL server (its database is only used to
create fresh test databases); TEST_REDIS_URL a Redis database the suite may
flush. When either cannot be reached the suite fails: it never skips
(tests/databases.py).

Fixtures every suite shares live in the tests/fixtures/ package, registered
here as plugins: ``beneficiary_app``, ``beneficiary_client``,
``training_app``, ``reporting_client``, the callers ``alice`` and ``bob``...
Helpers that are not fixtures live in modules beside the tests that are not
test modules (``tests/beneficiary/api.py``, ``tests/training/api.py``,
``tests/callers.py``); a test module never imports from another.

Every test carries the marker of its suite (the folder under tests/, e.g.
``-m reporting``), and the suites of whole processes carry ``ops``, ``browser``,
``deploy`` or ``image`` too, so ``make test-fast`` leaves them out without their
modules saying so (and ``make test`` leaves out ``image``, which needs the
image ``make image`` builds: ``make image-check`` runs it). Tests that start
the project's own commands, a worker, the embedded stack or Node.js carry
``processes`` (a module here, a single test by its decorator): each costs
seconds of CPU in interpreters starting, so ``make test-fast`` leaves them
out too; ``make test`` runs them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURE_PLUGINS = (
    "tests.fixtures.infrastructure",
    "tests.fixtures.beneficiary",
    "tests.fixtures.training",
    "tests.fixtures.reporting",
    "tests.fixtures.linked",
    "tests.fixtures.logs",
)


def pytest_configure(config: pytest.Config) -> None:
    """Register the shared fixtures, except in pytest-xdist's controller:
    it runs no test, and the fixtures import the three services, about
    2.5 s of CPU spent before any worker starts."""
    if distributes(config):
        return
    for plugin in FIXTURE_PLUGINS:
        config.pluginmanager.import_plugin(plugin)


def distributes(config: pytest.Config) -> bool:
    """This process is pytest-xdist's controller, handing tests to workers
    (as pytest-xdist decides it: workers to start, not only collecting)."""
    return (
        not hasattr(config, "workerinput")
        and not config.getoption("collectonly")
        and config.getoption("dist", "no") != "no"
        and bool(config.getoption("tx", None))
    )


TESTS = Path(__file__).parent
PROCESS_SUITES = {
    "ops": "ops",
    "smoke/test_dashboard.py": "browser",
    "smoke/test_dashboard_oidc.py": "browser",  # Chromium too
    "smoke/test_embedded_stack.py": "processes",
    "reporting/test_typescript_client.py": "processes",  # node and tsc
    "reporting/test_generated_clients.py": "processes",  # openapi-python-client
    "deploy": "deploy",
    "image": "image",
}
"""Path under tests/ (folder or module) -> marker of a suite that runs whole
processes; `make test-fast` deselects these markers."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its suite folder and, for suites of whole
    processes, with ``ops``, ``browser``, ``deploy``, ``image`` or
    ``processes`` (pyproject registers them). Tests marked ``long`` go
    first, in their order (a stable sort): pytest-xdist then starts them
    early, and the run ends on short tests, with both workers busy."""
    for item in items:
        if not item.path.is_relative_to(TESTS):
            continue
        relative = item.path.relative_to(TESTS)
        if len(relative.parts) > 1:
            item.add_marker(relative.parts[0])
        for where in (relative.parts[0], relative.as_posix()):
            if where in PROCESS_SUITES:
                item.add_marker(PROCESS_SUITES[where])
    items.sort(key=lambda item: item.get_closest_marker("long") is None)
