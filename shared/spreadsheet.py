"""CSV that a spreadsheet opens as text, whichever separator it guesses.

A spreadsheet runs a cell starting with ``=``, ``+``, ``-``, ``@``, tab or CR
as a formula. Guarding only a cell's first character is not enough: a
spreadsheet set for ``;`` (most locales with a decimal comma) splits
``Ali;=1+2;x``, written unquoted by a ``,`` writer, into three cells, the
second a formula. So every CSV writer here uses ``write_csv_row``:

- a ``'`` goes before every formula start that begins a cell for *some*
  reader: at the start of the text, and after each ``,``, ``;``, tab, line
  break or ``"`` in it (where a reader using another separator, or ending a
  quoted field, starts a new one); apostrophes already there count as part
  of the start, so the guard can be told from the text (``unguard`` undoes
  it exactly);
- every cell holding a separator, a line break or a quote is quoted;
- lines end with LF, not CRLF: a ``;`` reader that meets a quoted cell
  ending in ``;`` reads on, quoted, into the line end, and a field must not
  start with CR.

``tests/shared/test_spreadsheet.py`` checks with Hypothesis that no field read
back with ``,`` or ``;`` starts a formula and that the text round-trips.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Protocol

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_STARTS = r"""(?:^|(?<=[,;\t\r\n"]))"""
_FORMULA = r"""(?='*[=+\-@\t\r])"""
_GUARD = re.compile(_STARTS + _FORMULA)
_UNGUARD = re.compile(_STARTS + "'" + _FORMULA)
_QUOTED = frozenset(',;\t\r\n"')


class Number(str):
    """A number the caller wrote out (a spreadsheet reads ``-3`` as minus
    three, not a formula): written as it is."""


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def guard_cell(text: str) -> str:
    """The text with a ``'`` before every place a spreadsheet could start a
    formula (see the module docstring)."""
    return _GUARD.sub("'", text)


def guard_leading(text: str) -> str:
    """A single spreadsheet cell (XLSX): only its start can be a formula."""
    return "'" + text if text.startswith(FORMULA_START) else text


def unguard(text: str) -> str:
    """The text ``guard_cell`` was given."""
    return _UNGUARD.sub("", text)


def write_csv_row(out: _Writable, cells: Iterable[str | int | float | None]) -> None:
    """One CSV line (``,``-separated, LF: see the module docstring): text
    guarded, numbers as they are, None empty; a cell with a separator, line
    break or quote quoted."""
    line = []
    for cell in cells:
        if cell is None:
            text = ""
        elif isinstance(cell, str) and not isinstance(cell, Number):
            text = guard_cell(cell)
        else:
            text = str(cell)
        if _QUOTED.intersection(text):
            text = '"' + text.replace('"', '""') + '"'
        line.append(text)
    if line == [""]:  # an empty line would read back as no cell at all
        line = ['""']
    out.write(",".join(line) + "\n")


__all__ = [
    "FORMULA_START",
    "Number",
    "guard_cell",
    "guard_leading",
    "unguard",
    "write_csv_row",
]
