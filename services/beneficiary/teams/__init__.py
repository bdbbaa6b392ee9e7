"""Teams: units of one organisation (a governorate's MHPSS team, a mobile
team) that its service records name, and that a token may be limited to.
Layers: router -> service -> schemas -> models.
"""
