"""Trainees' feedback: anonymous answers to a short trainee form
(``shared/taxonomy/feedback``) after a training session or a whole cohort,
counted by reporting by course, place and month.
Layers: router -> service -> schemas -> models.
"""
