"""Alembic migrations of the training database, applied by ``runner.py``."""
