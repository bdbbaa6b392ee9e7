"""Operations commands of the training service (see ``shared/cli.py``)."""

from services.training.encrypted import ENCRYPTED
from services.training.migrations.runner import MIGRATIONS
from services.training.settings import TrainingSettings
from services.training.worker import JOBS, make_worker
from shared.cli import run_service_cli

if __name__ == "__main__":
    run_service_cli(
        prog="python -m services.training",
        settings=TrainingSettings(),
        migrations=MIGRATIONS,
        jobs=JOBS,
        make_worker=make_worker,
        encrypted=ENCRYPTED,
    )
