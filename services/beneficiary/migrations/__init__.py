"""Alembic migrations of the beneficiary database; ``runner.py`` applies them
and then loads the reference places.
"""
