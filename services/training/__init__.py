"""The training service: the people a programme trains (trainees, contact
details encrypted), its courses, cohorts and attendance, results and
certification, the Training-of-Trainers cascade, supervised practice and
supervision. Like the beneficiary service it publishes ids and facts through
its outbox and change feed, and deals with the beneficiary service only over
HTTP and the queue, by pseudonymous id. Its domain folders keep request and
response models in ``service.py``: there is no ``schemas.py`` layer.
"""
