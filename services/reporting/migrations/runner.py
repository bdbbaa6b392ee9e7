"""The reporting service's migrations."""

from pathlib import Path

from shared.migrations import Migrations

MIGRATIONS = Migrations(Path(__file__).parent)
