"""Duplicate review for supervisors: the candidate pairs registration
flagged, and the merge of one record into another (layers: router ->
service -> schemas)."""
