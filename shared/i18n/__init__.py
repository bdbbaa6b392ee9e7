"""Words for people: every service that renders text for a person (documents,
the dashboard, labels next to codes in exports, place names) asks this module,
so that one catalogue per language says what a code is called.

Catalogues are data (``catalogues/<lang>.json``, flat keys, one file per
language; see docs/languages.md and the decision record on catalogues). A
message missing in a language falls back to English, and an unknown code to
itself, so a page never breaks for want of a word; the test suite refuses a
catalogue that lacks a key English has. The language is chosen by a ``lang``
query parameter, else ``Accept-Language``, else the caller's organisation's
default language where the service knows it, else English.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Query, Request, Response

CATALOGUES = Path(__file__).with_name("catalogues")
ENGLISH = "en"
LANGUAGES = ("en", "ar", "ckb")
"""English, Arabic, Sorani Kurdish (Arabic script)."""
RIGHT_TO_LEFT = frozenset({"ar", "ckb"})
PLURAL_CATEGORIES = {
    "en": ("one", "other"),
    "ar": ("zero", "one", "two", "few", "many", "other"),
    "ckb": ("one", "other"),
}
"""CLDR plural categories each language's plural messages must give."""
UNKNOWN = "unknown"
_ARABIC_INDIC = str.maketrans("0123456789.,", "٠١٢٣٤٥٦٧٨٩٫٬")
_AGE_PLUS = re.compile(r"^(\d+)_plus$")
_AGE_RANGE = re.compile(r"^(\d+)_(\d+)$")
_WEIGHTED = re.compile(
    r"^\s*([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]+)*\s*(?:;\s*q=([0-9.]+))?"
)

Message = str | dict[str, str]


@cache
def catalogue(lang: str) -> dict[str, Message]:
    """The messages of one language, as shipped."""
    data: dict[str, Message] = json.loads(
        (CATALOGUES / f"{lang}.json").read_text(encoding="utf-8")
    )
    return data


def plural_category(lang: str, count: int) -> str:
    """CLDR's cardinal plural rule for whole numbers."""
    if lang == "ar":
        tail = count % 100
        if count == 0:
            return "zero"
        if count == 1:
            return "one"
        if count == 2:
            return "two"
        if 3 <= tail <= 10:
            return "few"
        if 11 <= tail <= 99:
            return "many"
        return "other"
    return "one" if count == 1 else "other"


def asked(lang: str | None, accept_language: str | None) -> str | None:
    """The language a request names: ``lang`` when it is one we have, else
    the best ``Accept-Language`` choice we have; None when neither does."""
    if lang:
        base = lang.strip().replace("_", "-").split("-")[0].lower()
        if base in LANGUAGES:
            return base
    offered: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        found = _WEIGHTED.match(part)
        if found is None:
            continue
        try:
            weight = float(found.group(2) or 1)
        except ValueError:
            continue
        base = found.group(1).lower()
        if base in LANGUAGES and weight > 0:
            offered.append((-weight, position, base))
    return min(offered)[2] if offered else None


def negotiate(
    lang: str | None, accept_language: str | None, default: str | None = None
) -> str:
    """``lang`` wins when it names a language we have; then the best
    ``Accept-Language`` choice we have; then ``default`` (the caller's
    organisation's default language) when it is one we have; then English."""
    found = asked(lang, accept_language)
    if found is not None:
        return found
    return default if default in LANGUAGES else ENGLISH


@dataclass(frozen=True)
class Language:
    """One language's words, numbers and direction."""

    code: str

    @property
    def direction(self) -> str:
        return "rtl" if self.code in RIGHT_TO_LEFT else "ltr"

    def _message(self, key: str) -> Message | None:
        found = catalogue(self.code).get(key)
        return found if found is not None else catalogue(ENGLISH).get(key)

    def has(self, key: str) -> bool:
        return self._message(key) is not None

    def text(self, key: str, count: int | None = None, **values: object) -> str:
        """A message with ``{name}`` fields filled in (numbers in the
        language's digits); ``count`` picks the plural form."""
        message = self._message(key)
        if message is None:
            raise KeyError(f"no message {key!r}")
        if isinstance(message, dict):
            category = plural_category(self.code, count or 0)
            message = message.get(category) or message["other"]
        shown = {
            name: self.number(value) if isinstance(value, int | float) else value
            for name, value in {**values, "count": count}.items()
        }
        return message.format(**shown)

    def label(self, dim: str, value: str) -> str:
        """The word for a code of a vocabulary (``sex``/``female`` ->
        "Female"), age groups included (``18_plus`` -> "18 and over"); an
        unknown code is shown as it is. ``unknown`` is "Not recorded" unless
        the dimension has its own word for it (``language.unknown``: a school
        bag has no language)."""
        if value == UNKNOWN:
            own = self._message(f"{dim}.{UNKNOWN}")
            return own if isinstance(own, str) else self.text("value.unknown")
        message = self._message(f"{dim}.{value}")
        if isinstance(message, str):
            return message
        if dim == "age_group":
            if plus := _AGE_PLUS.match(value):
                return self.text("age.plus", low=int(plus.group(1)))
            if span := _AGE_RANGE.match(value):
                return self.text(
                    "age.range", low=int(span.group(1)), high=int(span.group(2))
                )
        return value

    def join(self, parts: Iterable[str]) -> str:
        return self.text("list.separator").join(parts)

    def number(self, value: float) -> str:
        """Grouped, at most one decimal, in the language's digits."""
        shown = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
        return shown.translate(_ARABIC_INDIC) if self.code in RIGHT_TO_LEFT else shown

    def date(self, day: date | datetime) -> str:
        """ISO order (unambiguous in every script), in the language's digits;
        in right-to-left text isolated left to right (U+2066 ... U+2069), or
        the bidi algorithm would show 2026-03-01 as 01-03-2026."""
        shown = (
            day.strftime("%Y-%m-%d %H:%M") if isinstance(day, datetime) else str(day)
        )
        if self.code not in RIGHT_TO_LEFT:
            return shown
        return f"\u2066{shown.translate(_ARABIC_INDIC)}\u2069"


IN_ENGLISH = Language(ENGLISH)


LangQuery = Annotated[
    str | None,
    Query(
        max_length=35,
        description="Language of the text: en, ar or ckb. It wins over "
        "Accept-Language; without either, the caller's organisation's default "
        "language where the route knows it, else English.",
    ),
]
"""The ``lang`` query parameter of every route that renders words."""


def chosen_language(
    request: Request, response: Response, lang: str | None, default: str | None
) -> Language:
    """``negotiate`` for a request: ``lang``, its Accept-Language, then
    ``default``; the response says which language it got."""
    chosen = Language(negotiate(lang, request.headers.get("accept-language"), default))
    response.headers["Content-Language"] = chosen.code
    return chosen


def language_of(
    request: Request, response: Response, lang: LangQuery = None
) -> Language:
    """The caller's language where no organisation is known (a page served
    before sign-in, a shared list); the response says which it got."""
    return chosen_language(request, response, lang, None)


LanguageDep = Annotated[Language, Depends(language_of)]
