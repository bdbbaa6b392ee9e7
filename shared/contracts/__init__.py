"""Wire models between services: events, ingestion batches, erasure and subject
access, shared vocabularies and the free-text type. Pydantic only, no SQL and
no FastAPI, and never PII: other services know a person only by a pseudonymous
id.
"""
