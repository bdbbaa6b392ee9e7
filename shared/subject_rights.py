"""What the erasure and subject access routes of every service share: a
reason is required (it goes to the audit log, which keeps it for ever), and
a record is rendered as one readable, printable HTML document.

The document is built from the same JSON the API returns, so the two can
never say different things; every value is escaped (Jinja2 autoescape), codes
of vocabularies are shown as words and places and organisations by name, in
the language asked for.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse

from shared.audit import Actor
from shared.crypto import normalise_name, normalise_phone
from shared.errors import FieldError, Invalid
from shared.i18n import IN_ENGLISH, Language
from shared.i18n.templates import render

NO_STORE = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}
DOCUMENT_HEADERS = {
    **NO_STORE,
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "Referrer-Policy": "no-referrer",
}
_REASON_LOC: list[str | int] = ["header", "X-Access-Reason"]
_SHORTEST_NAME_PART = 3
_SHORTEST_PHONE_DIGITS = 6


def require_reason(actor: Actor) -> str:
    """The caller's ``X-Access-Reason``, which these routes cannot do without
    (checked once the record is known to be the caller's: another
    organisation's is a 404 whatever the headers)."""
    reason = (actor.reason or "").strip()
    if not reason:
        raise Invalid(
            "Say why in the X-Access-Reason header; it is kept in the audit log.",
            errors=[FieldError(loc=_REASON_LOC, msg="required", type="missing")],
        )
    return reason


def mentions(
    text: str | None,
    names: Sequence[str | None],
    phones: Sequence[str | None] = (),
    verbatim: Sequence[str | None] = (),
) -> bool:
    """Whether free text names the person (any part of a name, folded as
    duplicate detection folds it), gives one of their phone numbers, or
    holds one of the ``verbatim`` values (an email address) whatever the case."""
    if not text:
        return False
    if any(v and v.casefold() in text.casefold() for v in verbatim):
        return True
    words = set((normalise_name(text) or "").split())
    digits = "".join(str(unicodedata.digit(c)) for c in text if c.isdecimal())
    named = any(
        part in words
        for name in names
        for part in (normalise_name(name) or "").split()
        if len(part) >= _SHORTEST_NAME_PART
    )
    return named or any(
        number is not None
        and len(number) >= _SHORTEST_PHONE_DIGITS
        and number in digits
        for number in (normalise_phone(p) for p in phones)
    )


def refuse_identifying_reason(
    reason: str,
    names: Sequence[str | None],
    phones: Sequence[str | None],
    verbatim: Sequence[str | None] = (),
) -> None:
    """An erasure's reason outlives the erasure in the append-only audit log,
    so it must not name the person or give their phone number."""
    if mentions(reason, names, phones, verbatim):
        raise Invalid(
            "The reason names the person or gives their phone number; the "
            "audit log keeps it after the erasure. Say why without them "
            "(e.g. 'request received in writing on 2026-03-01').",
            errors=[FieldError(loc=_REASON_LOC, msg="identifies", type="value")],
        )


FIELD_VOCABULARY = {
    "sex": "sex",
    "disability": "disability",
    "marital_status": "marital_status",
    "displacement_status": "displacement_status",
    "iasc_layer": "iasc_layer",
    "iasc_layer_needed": "iasc_layer",
    "delivered_through": "delivered_through",
    "modality": "modality",
    "activity_code": "activity",
    "area": "area",
    "registration_channel": "registration_channel",
    "purpose": "purpose",
    "audience": "audience",
    "level": "course_level",
    "item_code": "item",
    "language": "language",
}
"""Fields whose values are codes of a vocabulary, shown as its words."""
NAMED_IDS = frozenset({"site_id", "organisation_id", "lead_organisation_id"})
"""Fields holding the id of a place or an organisation: the document shows
its name (``names``), never the id."""
TEMPLATES = Path(__file__).with_name("templates")


def document_response(
    title: str,
    intro: Sequence[str],
    sections: Mapping[str, Any],
    language: Language = IN_ENGLISH,
    names: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """A printable page, never cached, that loads nothing from anywhere."""
    return HTMLResponse(
        render_document(title, intro, sections, language, names or {}),
        headers=DOCUMENT_HEADERS | {"Content-Language": language.code},
    )


def ids_to_name(value: Any) -> set[str]:
    """The place and organisation ids a record mentions (to look up their
    names once)."""
    found: set[str] = set()
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key in NAMED_IDS and isinstance(item, str):
                found.add(item)
            else:
                found |= ids_to_name(item)
    elif isinstance(value, list | tuple):
        for item in value:
            found |= ids_to_name(item)
    return found


def render_document(
    title: str,
    intro: Sequence[str],
    sections: Mapping[str, Any],
    language: Language = IN_ENGLISH,
    names: Mapping[str, str] | None = None,
) -> str:
    named = names or {}

    def heading(key: str) -> str:
        for message in (f"field.{key}", f"question.{key}"):
            if language.has(message):
                return language.text(message)
        return _label(key)

    def word(key: str, item: Any) -> str:
        if key in NAMED_IDS:
            return named.get(str(item), language.text("value.unknown"))
        if key in FIELD_VOCABULARY and isinstance(item, str):
            return language.label(FIELD_VOCABULARY[key], item)
        if key == "form" and isinstance(item, str):
            code, _, version = item.partition("@")
            return f"{language.label('form', code)} {version}".strip()
        if isinstance(item, int | float):
            return language.number(item)
        return str(item)

    def shown(key: str, item: Any) -> bool:
        """Internal ids stay out of a document for people; places and
        organisations are named instead."""
        if key in NAMED_IDS:
            return True
        return not (
            (key == "id" or key.endswith("_id")) and isinstance(item, str | None)
        )

    return render(
        TEMPLATES,
        "record.html",
        language,
        title=title,
        intro=intro,
        sections=sections,
        heading=heading,
        word=word,
        shown=shown,
        words=lambda key, items: [word(key, i) for i in items],
        flat=_flat,
        all_flat=lambda items: all(_flat(v) for v in items),
        table_like=lambda items: all(
            isinstance(v, Mapping) and all(_cell(x) for x in v.values()) for v in items
        ),
        columns_of=lambda items: [
            c for c in dict.fromkeys(k for v in items for k in v) if shown(c, "")
        ],
    )


_ACRONYMS = {"id": "ID", "ids": "IDs", "pii": "PII", "iasc": "IASC"}


def _label(key: str) -> str:
    words = key.replace("_", " ").strip().split()
    if not words:
        return key
    words[0] = words[0].capitalize()
    return " ".join(_ACRONYMS.get(w.lower(), w) for w in words)


def _flat(value: Any) -> bool:
    return not isinstance(value, Mapping | list | tuple)


def _cell(value: Any) -> bool:
    """What a table cell shows: a value, or a list of values (a service
    record's topics), joined."""
    return _flat(value) or (
        isinstance(value, list | tuple) and all(_flat(v) for v in value)
    )
