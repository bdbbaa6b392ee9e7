"""Organisations: a programme's lead agencies and their implementing partners,
and the lead's approval that makes a partner's work count under it. Users and
roles are not kept here (they come in tokens); layers: router -> service ->
schemas -> models.
"""
