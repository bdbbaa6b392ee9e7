"""Partnerships: the agreement between a lead and a partner (for a project,
a period, places and activities) under which the partner's records roll up
to the lead. Layers: router -> service -> schemas -> models.
"""
