"""Cohorts, the training events: a run of a course with its dates, modality and
facilitators, the trainees enrolled, its sessions and who attended each, and
each trainee's hours. Layers: router -> service -> models.
"""
