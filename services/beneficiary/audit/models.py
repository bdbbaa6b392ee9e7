from services.beneficiary.db import Table
from shared.audit import AuditEntryBase


class AuditEntry(AuditEntryBase, Table, table=True):
    __tablename__ = "audit_entry"
