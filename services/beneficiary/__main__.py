"""Operations commands of the beneficiary service (see ``shared/cli.py``)."""

import sys

from services.beneficiary.settings import BeneficiarySettings

if __name__ == "__main__" and sys.argv[1:2] == ["import"]:
    # before the other commands' modules: an import needs none of the
    # worker's jobs or the migrations, which cost ~0.15 s of CPU to load
    from services.beneficiary.imports import cli as imports_cli

    sys.exit(imports_cli.main(sys.argv[2:], BeneficiarySettings()))

from services.beneficiary.encrypted import ENCRYPTED
from services.beneficiary.locations.command import LOCATIONS_LOAD
from services.beneficiary.migrations.runner import MIGRATIONS
from services.beneficiary.worker import JOBS, make_worker
from shared.cli import run_service_cli

if __name__ == "__main__":
    run_service_cli(
        prog="python -m services.beneficiary",
        settings=BeneficiarySettings(),
        migrations=MIGRATIONS,
        jobs=JOBS,
        make_worker=make_worker,
        encrypted=ENCRYPTED,
        commands={"locations-load": LOCATIONS_LOAD},
    )
