"""What the erasure and subject access routes of every service share: a
reason is required (it goes to the audit log, which keeps it for ever), and
a record is rendered as one readable, printable HTML document.

The document is built from the same JSON the API returns, so the two can
never say different things; every value is escaped.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any

from fastapi.responses import HTMLResponse

from shared.audit import Actor
from shared.crypto import normalise_name, normalise_phone
from shared.errors import FieldError, Invalid

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


def document_response(
    title: str, intro: Sequence[str], sections: Mapping[str, Any]
) -> HTMLResponse:
    """A printable page, never cached, that loads nothing from anywhere."""
    return HTMLResponse(
        render_document(title, intro, sections), headers=DOCUMENT_HEADERS
    )


def render_document(
    title: str, intro: Sequence[str], sections: Mapping[str, Any]
) -> str:
    body = "".join(
        f"<section><h2>{escape(_label(name))}</h2>{_value(value)}</section>"
        for name, value in sections.items()
    )
    lead = "".join(f"<p>{escape(line)}</p>" for line in intro)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{escape(title)}</title><style>"
        "body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222}"
        "h2{border-bottom:2px solid #444;margin-top:1.6em}"
        "table{border-collapse:collapse;margin:.4em 0 1em}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;"
        "vertical-align:top}th{background:#f3f3f3}"
        "dl{display:grid;grid-template-columns:max-content auto;gap:2px 14px;"
        "margin:.4em 0 1em}dt{font-weight:600}dd{margin:0}"
        ".item{border-left:3px solid #bbb;padding-left:10px;margin:.6em 0}"
        ".none{color:#777;font-style:italic}"
        "section{page-break-inside:auto}@media print{body{margin:0}}"
        "</style></head><body>"
        f"<h1>{escape(title)}</h1>{lead}{body}</body></html>"
    )


_ACRONYMS = {"id": "ID", "ids": "IDs", "pii": "PII", "iasc": "IASC"}


def _label(key: str) -> str:
    words = key.replace("_", " ").strip().split()
    if not words:
        return key
    words[0] = words[0].capitalize()
    return " ".join(_ACRONYMS.get(w.lower(), w) for w in words)


def _scalar(value: Any) -> str:
    if value is None or value == "":
        return "<span class=none>–</span>"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return escape(value.isoformat(timespec="seconds"))
    return escape(str(value))


def _flat(value: Any) -> bool:
    return not isinstance(value, Mapping | list | tuple)


def _value(value: Any) -> str:
    if isinstance(value, Mapping):
        if not value:
            return "<p class=none>none</p>"
        rows = "".join(
            f"<dt>{escape(_label(str(key)))}</dt><dd>"
            + (_scalar(item) if _flat(item) else _value(item))
            + "</dd>"
            for key, item in value.items()
        )
        return f"<dl>{rows}</dl>"
    if isinstance(value, list | tuple):
        if not value:
            return "<p class=none>none</p>"
        if all(_flat(v) for v in value):
            return escape(", ".join(str(v) for v in value))
        if all(
            isinstance(v, Mapping) and all(_flat(x) for x in v.values()) for v in value
        ):
            columns = list(dict.fromkeys(k for v in value for k in v))
            head = "".join(f"<th>{escape(_label(str(c)))}</th>" for c in columns)
            rows = "".join(
                "<tr>"
                + "".join(f"<td>{_scalar(v.get(c))}</td>" for c in columns)
                + "</tr>"
                for v in value
            )
            return f"<table><tr>{head}</tr>{rows}</table>"
        return "".join(f"<div class=item>{_value(v)}</div>" for v in value)
    return f"<p>{_scalar(value)}</p>"
