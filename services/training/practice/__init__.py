"""Supervised practice: real client groups run by trainees, their sessions by
phase, recordings as metadata only, and fidelity reviews. Clients are the
beneficiary service's pseudonymous ids, checked with it over HTTP and forgotten
when it erases them; layers: router -> service -> models.
"""
