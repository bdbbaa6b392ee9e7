"""The read model: fact tables folded from the producers' events (no PII), the
copied places and organisations, the feed cursors, and the counters that order
ingestions. Written only by ``ingest/``; read by the engine, and by the
exports' feeds (``touched_period``).
"""
