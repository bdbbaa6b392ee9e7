"""Checks on CSV cells shared by the export tests."""

from __future__ import annotations

import csv
import io

from shared.spreadsheet import FORMULA_START


def no_formula_either_way(text: str) -> list[list[str]]:
    """CSV text read with ``,`` and with ``;``: no field starts a formula.
    Returns the ``,`` reading."""
    for delimiter in (",", ";"):
        for fields in read(text, delimiter):
            for field in fields:
                assert not field.startswith(FORMULA_START), (delimiter, field, text)
    return read(text, ",")


def read(text: str, delimiter: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
