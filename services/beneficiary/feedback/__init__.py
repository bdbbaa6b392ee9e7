"""Participants' feedback: anonymous answers to a short satisfaction form
(``shared/taxonomy/feedback``) after a group session or a service, counted
by reporting as responses, mean ratings and shares satisfied.
Layers: router -> service -> schemas -> models.
"""
