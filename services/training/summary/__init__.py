"""The training summary a programme reports (people trained, hours, completion,
certification, pre/post change, trainers produced, supervision), read from the
other training folders' tables. It has no tables of its own; layers: router ->
service.
"""
