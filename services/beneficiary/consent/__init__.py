"""The consent ledger: what each person agreed to, per purpose, as entries that
are added and never edited, and the checks (``require_consent()``) that every
other domain calls before it records anything. It has no routes of its own: the
ledger is read and written under ``/v1/beneficiaries``.
"""
