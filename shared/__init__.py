"""What crosses a service boundary: settings, database and session helpers,
authentication and roles, problem+json errors, the job queue, the outbox and
change feed, event contracts, taxonomies and instruments. It never imports a
service (import-linter checks it), so each service can rely on it without
depending on another.
"""
