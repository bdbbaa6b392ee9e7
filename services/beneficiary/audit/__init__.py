"""The beneficiary service's audit log: the table every read or write of a
person's records adds a row to (through ``audit_log`` in
``audit/models.py``, an ``AuditLog`` of ``shared/audit.py``, in the same
transaction), and the auditors' API over it.
Nothing here edits or deletes an entry. Layers: router -> service -> models.
"""
