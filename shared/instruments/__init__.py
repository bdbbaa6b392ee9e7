"""Standard instruments as data, and the one scoring engine for all of them.

An instrument is a JSON definition (``definitions/<code>@<version>.json``):
items, answer scales, reverse items, scores (sums of items or of other
scores, with an optional multiplier and a missing-item rule), severity bands per
norm set, risk rules and change thresholds. Adding an instrument means adding
a definition file and its scoring tests, not code.
"""

from shared.instruments.engine import (
    Instrument,
    ResponseError,
    ScoreResult,
    assess_change,
    get_instrument,
    instruments,
    score,
)

__all__ = [
    "Instrument",
    "ResponseError",
    "ScoreResult",
    "assess_change",
    "get_instrument",
    "instruments",
    "score",
]
