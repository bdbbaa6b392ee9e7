"""The training service's side of the outbox: the job that numbers committed
events and sends them to reporting, and the change feed reporting pulls. The
machinery is ``shared/outbox.py``; this package only binds it to the service's
tables.
"""
