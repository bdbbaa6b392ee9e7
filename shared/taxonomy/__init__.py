"""Controlled vocabularies as data: the activity list and its IASC layers,
presenting problems, structured interventions, competency tools and fidelity
checklists. Adding an entry means a data file, not code; an activity code, once
released, is never renamed or removed.
"""
