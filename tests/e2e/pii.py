"""Synthetic PII that cannot occur by chance, and a scanner that finds it
again, in any form a copy could take, in whatever a test captured.

Every value carries a marker made for it (``Qxv`` and eight random consonants,
or random Arabic letters), so a hit means a copy, never a coincidence. Names
are also looked for as ``shared.crypto.normalise_name`` folds them, phones by
their digits (all of them, the local form and the last nine that
``normalise_phone`` keeps), both by their keyed blind indexes, dates of birth
in the usual spellings, and every non-ASCII form as JSON escapes it
(``json.dumps`` writes ``\\u0632``).
"""

from __future__ import annotations

import json
import secrets
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from shared.crypto import KeyRing, normalise_name, normalise_phone

_CONSONANTS = "bcdfghjkmnpqrstvwxz"
_ARABIC_LETTERS = "بتثجحخدذرزسشصضطظعغفقكلمن"
_ARABIC_DIGITS = "٠١٢٣٤٥٦٧٨٩"
EXCERPT = 60


def marker() -> str:
    """A token no data, id, hash or ciphertext of the platform contains."""
    return "Qxv" + "".join(secrets.choice(_CONSONANTS) for _ in range(8))


@dataclass(frozen=True)
class Needle:
    text: str
    kind: str
    what: str
    digits: bool = False


@dataclass(frozen=True)
class Hit:
    kind: str
    what: str
    found: str
    excerpt: str

    def __str__(self) -> str:
        excerpt = self.excerpt.replace("\n", "\\n")
        return f"{self.what} ({self.kind}): {self.found!r} in ...{excerpt}..."


@dataclass
class Pii:
    """The PII one test creates, and every form of it to look for."""

    needles: list[Needle] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)
    indexed: list[tuple[str, str, str]] = field(default_factory=list)
    """(blind index kind, whose, normalised value) of every name and phone."""

    def _add(
        self, kind: str, what: str, *forms: str, digit_forms: Iterable[str] = ()
    ) -> None:
        """One value: its forms as substrings, its digit forms only where no
        digit stands either side (a longer number is not a phone's copy)."""
        self.kinds[kind] += 1
        for digits, group in [(False, forms), (True, digit_forms)]:
            for form in dict.fromkeys(f for f in group if f):
                for text in dict.fromkeys([form, json.dumps(form)[1:-1]]):
                    self.needles.append(Needle(text, kind, what, digits))

    def name(self, who: str, given: str = "Zahraa") -> str:
        family = marker()
        full = f"{given} {family}"
        self._add("name", f"name of {who}", full, normalise_name(full) or "", family)
        self.indexed.append(("name", who, normalise_name(full) or ""))
        return full

    def arabic_name(self, who: str) -> str:
        """All in Arabic script, with diacritics and a hamza that the blind
        index folds away (so the normalised form differs from the input)."""
        family = "".join(secrets.choice(_ARABIC_LETTERS) for _ in range(7))
        full = f"آمِنة {family}"
        self._add("name", f"name of {who}", full, normalise_name(full) or "", family)
        self.indexed.append(("name", who, normalise_name(full) or ""))
        return full

    def phone(self, who: str, arabic_digits: bool = False) -> str:
        """An Iraqi mobile number (+964 7XX XXX XXXX)."""
        rest = "7" + "".join(secrets.choice("0123456789") for _ in range(9))
        shown = f"+964 {rest[:3]} {rest[3:6]} {rest[6:]}"
        if arabic_digits:
            shown = shown.translate(str.maketrans("0123456789", _ARABIC_DIGITS))
        last_nine = normalise_phone(shown) or ""
        assert last_nine == rest[-9:]
        self._add(
            "phone",
            f"phone of {who}",
            shown,
            f"{rest[:3]} {rest[3:6]} {rest[6:]}",
            digit_forms=[f"964{rest}", f"0{rest}", rest, last_nine],
        )
        self.indexed.append(("phone", who, last_nine))
        return shown

    def email(self, who: str) -> str:
        local = marker()
        address = f"{local.lower()}@example.org"
        self._add("email", f"email of {who}", address, local)
        return address

    def address(self, who: str) -> str:
        street = marker()
        full = f"House 12, {street} Street, Al-Zuhour, Mosul"
        self._add("address", f"address of {who}", full, street)
        return full

    def text(self, what: str, template: str) -> str:
        """Free text; ``{}`` in ``template`` becomes the marker."""
        token = marker()
        self._add("free text", what, token)
        return template.format(token)

    def date_of_birth(self, who: str, year: int) -> str:
        """A birth date whose year may cross a boundary, never the date."""
        born = date(year, 1 + secrets.randbelow(12), 1 + secrets.randbelow(28))
        d, m, y = f"{born.day:02d}", f"{born.month:02d}", f"{born.year}"
        self._add(
            "date of birth",
            f"date of birth of {who}",
            digit_forms=[
                born.isoformat(),
                f"{d}/{m}/{y}",
                f"{d}-{m}-{y}",
                f"{d}.{m}.{y}",
                f"{m}/{d}/{y}",
                f"{y}/{m}/{d}",
                f"{y}{m}{d}",
            ],
        )
        return born.isoformat()

    def add_blind_indexes(self, keyring: KeyRing) -> None:
        """The keyed blind indexes of every name and phone so far, under every
        key of the ring: a copy would let whoever holds it link people."""
        for kind, who, normalised in self.indexed:
            self._add(
                "blind index",
                f"{kind} blind index of {who}",
                *keyring.blind_indexes(kind, normalised),
            )

    def find(self, haystack: str) -> list[Hit]:
        """Every copy in ``haystack``, ignoring case; the longest form wins
        where forms overlap (a full name, not also its family name)."""
        folded = haystack.casefold()
        shown = haystack if len(folded) == len(haystack) else folded
        taken: list[tuple[int, int]] = []
        hits = []
        for needle in sorted(self.needles, key=lambda n: -len(n.text)):
            form = needle.text.casefold()
            at = folded.find(form)
            while at != -1:
                end = at + len(form)
                apart = not needle.digits or not (
                    folded[at - 1 : at].isdigit() or folded[end : end + 1].isdigit()
                )
                if apart and not any(a <= at and end <= b for a, b in taken):
                    taken.append((at, end))
                    excerpt = shown[max(at - EXCERPT, 0) : end + EXCERPT]
                    found = shown[at:end]
                    hits.append(Hit(needle.kind, needle.what, found, excerpt))
                at = folded.find(form, at + 1)
        return hits


def as_text(content: Any) -> str:
    """What a scanner reads: bytes as UTF-8, anything else as JSON."""
    if isinstance(content, bytes):
        return content.decode("utf-8", errors="replace")
    if isinstance(content, str):
        return content
    return json.dumps(content, ensure_ascii=False, default=repr, sort_keys=True)


@dataclass
class Scan:
    """Every place looked at, by source, and every marker found there."""

    pii: Pii
    seen: Counter[str] = field(default_factory=Counter)
    hits: list[tuple[str, str, Hit]] = field(default_factory=list)
    """(source, where, hit)"""

    def check(self, source: str, where: str, content: Any) -> None:
        self.seen[source] += 1
        for hit in self.pii.find(as_text(content)):
            self.hits.append((source, where, hit))

    @property
    def leaks(self) -> list[str]:
        return [f"{source} | {where} | {hit}" for source, where, hit in self.hits]

    def kinds_found(self, source: str) -> set[str]:
        return {hit.kind for found_in, _, hit in self.hits if found_in == source}

    def check_all(self, source: str, items: Iterable[tuple[str, Any]]) -> None:
        for where, content in items:
            self.check(source, where, content)

    def report(self, limit: int = 60) -> str:
        shown = self.leaks[:limit]
        more = len(self.leaks) - len(shown)
        tail = [f"... and {more} more"] if more > 0 else []
        return "\n".join([f"{len(self.leaks)} copies of PII found:", *shown, *tail])
