"""The items a programme hands out (school bags, hygiene kits, leaflets...),
as data (``materials.csv``): adding an item is a row there, not code. Codes
are never renamed or removed once released, like activity codes.
"""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources


@cache
def materials() -> dict[str, str]:
    """The material items by code, with their English names."""
    text = resources.files("shared.taxonomy").joinpath("materials.csv").read_text()
    return {row["code"]: row["name"] for row in csv.DictReader(text.splitlines())}
