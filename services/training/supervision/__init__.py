"""Clinical supervision of trainees: who supervised whom, how and for how long,
and how many cases were discussed. Notes are encrypted and events carry counts
only; layers: router -> service -> models.
"""
