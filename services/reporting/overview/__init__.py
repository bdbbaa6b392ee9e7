"""The programme overview: the tables a programme publishes, as JSON or a
printable page, each figure an indicator query from the catalogue so that the
overview and the indicators cannot disagree. Layers: router -> service.
"""
