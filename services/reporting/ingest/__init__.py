"""Ingestion: the queue's fast path and the change-feed pull, both ending in
one fold of events into facts per transaction, idempotent and tolerant of
order: a repeated event counts once, and an older one never overwrites a newer
fact.
"""
