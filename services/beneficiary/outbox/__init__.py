"""The beneficiary service's side of the outbox: the job that numbers committed
events and sends them to reporting (and erasures to training), and the change
feed others pull. The machinery is ``shared/outbox.py``; this package only
binds it to the service's tables.
"""
