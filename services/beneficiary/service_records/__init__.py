"""Service records, the MHPSS acts the indicators count: one service to one
registered, consenting person, group sessions with their attendance lists, and
anonymous counts of people served without registration. Each write adds its
outbox event in the same transaction; layers: router -> service -> schemas ->
models.
"""
