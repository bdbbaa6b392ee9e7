"""Retention policies per record type and organisation, and the runs
that apply them (see docs/retention.md)."""
