"""Benchmarks that drive the real services over HTTP (not part of the package)."""
