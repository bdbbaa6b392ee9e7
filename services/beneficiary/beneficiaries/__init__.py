"""Registered people: registration with consent, search by blind index, updates
under ``If-Match``, duplicate flags, and ``scoped()``, the rule (own
organisation, own sites) every read of a person starts from. The consent ledger
and erasure live in ``consent/`` and ``subject_rights/``; layers: router ->
service -> schemas -> models.
"""
