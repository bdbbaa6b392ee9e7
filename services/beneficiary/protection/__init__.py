"""Data protection beyond scope checks, one package per concern, each with
its router, service, schemas and models like every domain:

- ``grants/``: break-the-glass grants and the access review of them;
- ``notices/``: notices to the data protection focal point and their delivery;
- ``retention/``: retention policies and the runs that apply them;
- ``sharing/``: data-sharing agreements and the exports made under them.
"""
