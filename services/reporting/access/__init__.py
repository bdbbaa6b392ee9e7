"""Who may read reporting, and how much: the caller behind a bearer token or an
integrator's API key, their organisation and site scope, and the keys
themselves (stored as hashes, rate limited, limited to their issuer's sites).
Layers: router -> service -> models.
"""
