"""Offline-first sync for field devices: a batch upserted in one transaction
with an answer per record, offline edits that lost to a newer version kept for
a supervisor, and a pull of changes since a cursor. Layers: router -> service
-> schemas -> models.
"""
