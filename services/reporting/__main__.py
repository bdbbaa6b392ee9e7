"""Operations commands of the reporting service (see ``shared/cli.py``)."""

from services.reporting.migrations.runner import MIGRATIONS
from services.reporting.settings import ReportingSettings
from services.reporting.worker import JOBS, make_worker
from shared.cli import run_service_cli

if __name__ == "__main__":
    run_service_cli(
        prog="python -m services.reporting",
        settings=ReportingSettings(),
        migrations=MIGRATIONS,
        jobs=JOBS,
        make_worker=make_worker,
    )
