"""The ``audit_entry`` table: ``AuditEntryBase`` (``shared/audit.py``) on this
service's ``Table``, so each entry commits with the records it describes or not
at all. On PostgreSQL a trigger refuses updates and deletes: the log is
append-only.
"""

from services.beneficiary.db import Table
from shared.audit import AuditEntryBase, AuditLog


class AuditEntry(AuditEntryBase, Table, table=True):
    __tablename__ = "audit_entry"


audit_log = AuditLog(AuditEntry)
"""The one way this service's routes write ``audit_entry`` rows."""
