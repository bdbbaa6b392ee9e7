"""Data protection beyond scope checks: break-the-glass grants, notices to the
data protection focal point, retention policies and their runs, and
data-sharing agreements with the exports made under them. Outside the layer
contract: each concern pairs its routes with its logic (``access_review.py``
with ``grants.py``, ``sharing.py`` with ``sharing_service.py``;
``retention.py`` holds both).
"""
