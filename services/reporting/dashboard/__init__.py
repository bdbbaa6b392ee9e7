"""The browser dashboard: one self-contained page that draws the programme
overview from ``v1/overview``. It adds no data of its own and shows only what
the caller's token may read.
"""
