"""Structured interventions: enrolling a person in a protocol, sessions
attended (each counted by exactly one service record), drop-outs and
completion, against the windows for outcome measures. The definitions are
``shared/taxonomy/interventions.py``; layers: router -> service -> models.
"""
