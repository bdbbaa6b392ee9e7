"""Write the three services' OpenAPI documents to ``docs/openapi/`` (``make
openapi``). The committed copies are the published contract: a test fails
when a service's document differs from its copy, so the contract changes only
on purpose, in a commit that shows the difference."""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from services.beneficiary.app import create_app as beneficiary_app
from services.beneficiary.settings import BeneficiarySettings
from services.reporting.app import create_app as reporting_app
from services.reporting.settings import ReportingSettings
from services.training.app import create_app as training_app
from services.training.settings import TrainingSettings

SNAPSHOTS = Path(__file__).resolve().parent.parent / "docs" / "openapi"
APPS: dict[str, tuple[Callable[[Any], FastAPI], type[Any]]] = {
    "beneficiary": (beneficiary_app, BeneficiarySettings),
    "training": (training_app, TrainingSettings),
    "reporting": (reporting_app, ReportingSettings),
}


def document(service: str) -> str:
    """The service's OpenAPI as committed, in the order the service serves
    it (the order of media types and properties tells generators what to
    prefer), two-space indent. Built from default settings (no service is
    started)."""
    factory, settings_class = APPS[service]
    with tempfile.TemporaryDirectory() as data_dir:
        app = factory(settings_class(data_dir=Path(data_dir)))
        return json.dumps(app.openapi(), indent=2) + "\n"


def main() -> None:
    SNAPSHOTS.mkdir(parents=True, exist_ok=True)
    for service in APPS:
        (SNAPSHOTS / f"{service}.json").write_text(document(service))
        sys.stdout.write(f"wrote docs/openapi/{service}.json\n")


if __name__ == "__main__":
    main()
