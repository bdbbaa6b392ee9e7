"""The three FastAPI services (beneficiary, training, reporting) and the
embedded stack that mounts them in one process with demo data (``stack.py``,
``demo.py``). Each service has its own database, settings and worker, and never
imports another: they talk over HTTP change feeds and queued jobs, and
import-linter refuses anything else.
"""
