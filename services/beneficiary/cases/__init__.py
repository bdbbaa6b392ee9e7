"""Case management: a case's intake, its state machine, assessments scored with
standard instruments and outcomes from the first to the latest, plus the care
inside it (plan, follow-ups, safety plans). Risk alerts raised by assessments
belong to ``risk/``; layers: router -> service -> schemas -> models.
"""
