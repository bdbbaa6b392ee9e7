"""Age bands: how ages become the ``age_group`` of an answer.

A band set is chosen per query (``age_bands=0-17,18-59,60+`` or a preset's
name), so two reports needing different bands are answered side by side;
``REPORTING_AGE_BANDS`` is only the default. A band's label is its range
(``0_17``, ``60_plus``): the same names anonymous counts are written with
(``shared.contracts.enums.AgeGroup``), so what is written is what is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

AGE_BAND_PRESETS: dict[str, str] = {
    "children_adults": "0-17,18+",
    "hpc": "0-17,18-59,60+",
    "unhcr_agd": "0-4,5-11,12-17,18-59,60+",
}
"""Named band sets a report can ask for by name: children and adults; the
humanitarian programme cycle's children, adults and older people; UNHCR's
age, gender and diversity groups."""

LEGACY_ANONYMOUS_GROUPS = {"under_18": "0_17", "adult": "18_plus"}
"""Names anonymous counts were written with before they took the band
labels; stored facts and old events still carry them."""

_BAND = re.compile(r"^(\d{1,3})(?:-(\d{1,3})|\+)$")
_LABEL = re.compile(r"^(\d{1,3})_(?:(\d{1,3})|plus)$")


@dataclass(frozen=True)
class AgeBands:
    """Age groups like ``0-17,18+``: labels ``0_17`` and ``18_plus``."""

    bounds: tuple[tuple[int, int | None], ...]

    @classmethod
    def parse(cls, text: str) -> AgeBands:
        """A preset's name, or bands contiguous from 0 with an open last
        one; ``ValueError`` says what is wrong."""
        text = AGE_BAND_PRESETS.get(text.strip(), text)
        bounds: list[tuple[int, int | None]] = []
        for part in text.split(","):
            found = _BAND.match(part.strip())
            if found is None:
                raise ValueError(
                    f"{part.strip()!r} is not an age band like 0-17 or 60+ "
                    f"(or use a preset: {', '.join(AGE_BAND_PRESETS)})"
                )
            low, high = found.groups()
            bounds.append((int(low), None if high is None else int(high)))
        expected: int | None = 0
        for low, high in bounds:
            if expected is None or low != expected or (high is not None and high < low):
                raise ValueError(f"age bands must be contiguous from 0: {text!r}")
            expected = None if high is None else high + 1
        if expected is not None:
            raise ValueError(f"the last age band must be open, like 60+: {text!r}")
        return cls(tuple(bounds))

    @property
    def text(self) -> str:
        """The bands as ``parse`` reads them (``0-17,18+``)."""
        return ",".join(
            f"{low}+" if high is None else f"{low}-{high}" for low, high in self.bounds
        )

    @property
    def labels(self) -> list[str]:
        return [label_of(low, high) for low, high in self.bounds]

    def band(self, ages: NDArray[Any]) -> NDArray[np.int64]:
        """Band index per age; -1 where the age is unknown (negative)."""
        edges = np.array([low for low, _ in self.bounds[1:]])
        out = np.searchsorted(edges, ages, side="right").astype(np.int64)
        out[ages < 0] = -1
        return out

    def of_anonymous(self, group: str | None) -> int:
        """An anonymous count's group (a range like ``0_17``) falls in a
        band only when one band holds the whole range; else unknown."""
        span = range_of(LEGACY_ANONYMOUS_GROUPS.get(group or "", group or ""))
        if span is None:
            return -1
        low, high = span
        first, last = self.band(np.array([low, 130 if high is None else high]))
        return int(first) if first == last else -1


def label_of(low: int, high: int | None) -> str:
    return f"{low}_plus" if high is None else f"{low}_{high}"


def range_of(label: str) -> tuple[int, int | None] | None:
    """The ages a band label covers (None: not a band label)."""
    found = _LABEL.match(label)
    if found is None:
        return None
    low, high = found.groups()
    return int(low), None if high is None else int(high)
