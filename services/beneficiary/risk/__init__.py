"""Risk alerts: a suicide-risk signal, from an assessment's item or a case
worker's flag, delivered to the case's supervisor by webhook and kept open
until someone acknowledges it with the action taken. Delivery is a job sent
after the commit, so no alert leaves for a write that rolled back; layers:
router -> service -> models.
"""
