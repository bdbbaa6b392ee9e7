"""Alembic migrations of the reporting database, applied by ``runner.py``."""
