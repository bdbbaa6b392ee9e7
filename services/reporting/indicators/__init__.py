"""Indicator answers over HTTP: the catalogue, and any indicator for any period
and disaggregation, from the engine, suppressed for callers without
record-level access. Layers: router -> service.
"""
