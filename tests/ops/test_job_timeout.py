"""JOB_TIMEOUT_SECONDS, the setting test_worker_killed.py relies on: it cuts
every job's timeout on a service's worker, and so how long arq leaves a job
whose worker died blocked (the worker's longest timeout plus 10 s)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import pytest

from services.beneficiary.settings import BeneficiarySettings
from services.beneficiary.worker import make_worker as beneficiary_worker
from services.reporting.settings import ReportingSettings
from services.reporting.worker import make_worker as reporting_worker
from shared.app import Runtime

REDIS = "redis://127.0.0.1:1/0"  # never connected to: the worker is only built


def _runtime(settings: object) -> Runtime:
    return cast(Runtime, SimpleNamespace(settings=settings))


async def test_unset_the_longest_job_sets_the_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("JOB_TIMEOUT_SECONDS", "REPORTING_JOB_TIMEOUT_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    worker = reporting_worker(_runtime(ReportingSettings(redis_url=REDIS)))
    assert worker.in_progress_timeout_s == 1800 + 10  # run_export's 30 minutes
    assert worker.functions["ingest_events"].timeout_s == 60


async def test_the_platform_wide_cap_applies_to_every_job_and_cron(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOB_TIMEOUT_SECONDS", "5")
    monkeypatch.setenv("REPORTING_JOB_TIMEOUT_SECONDS", "20")
    beneficiary = beneficiary_worker(_runtime(BeneficiarySettings(redis_url=REDIS)))
    assert {f.timeout_s for f in beneficiary.functions.values()} == {5}
    assert beneficiary.in_progress_timeout_s == 15
    reporting = reporting_worker(_runtime(ReportingSettings(redis_url=REDIS)))
    assert reporting.in_progress_timeout_s == 30  # the prefixed value wins
    assert reporting.functions["ingest_events"].timeout_s == 20
