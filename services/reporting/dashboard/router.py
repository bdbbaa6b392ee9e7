"""``/dashboard``: the programme overview as charts, for people with a token.

One self-contained page (``page.html``: HTML, CSS and script inline, nothing
fetched from elsewhere). Its script reads ``v1/overview`` by a relative URL,
so the page works wherever the service is mounted (``/dashboard`` alone,
``/reporting/dashboard`` in the stack), sending the token only to this
origin as ``Authorization: Bearer``. The page is rendered in the language
asked for (``lang``, else Accept-Language), right to left for Arabic and
Kurdish, and asks the API for words in the same language. The person
pastes the token into the page, which keeps it in the tab's sessionStorage;
a token in the address (``?token=``) is refused, since it would stay in
proxy logs, the browser's history and Referer headers. The printable
document needs the token too, so the page fetches it and shows it in a
sandboxed ``srcdoc`` iframe (no scripts run in it) with a Print button.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from shared.app import checks_own_query
from shared.contracts.enums import Sex
from shared.errors import BadRequest
from shared.i18n import ENGLISH, Language, LanguageDep, catalogue
from shared.i18n.templates import render

router = APIRouter(tags=["dashboard"])
TOKEN_PARAMETERS = {"token", "access_token"}

PAGE = Path(__file__).with_name("page.html")
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; "
    "script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


LANGUAGE_NAMES = [("en", "English"), ("ar", "العربية"), ("ckb", "کوردی (سۆرانی)")]
"""Each language named in itself, for the page's language menu."""


@cache
def page(lang: str) -> str:
    """The page in one language: its fixed text, and the words its script
    needs (the catalogue's dashboard, overview, unit and list messages)."""
    language = Language(lang)
    words = {
        key: message
        for key, message in {**catalogue(ENGLISH), **catalogue(lang)}.items()
        if key.startswith(("dashboard.", "overview.", "unit.", "list."))
    }
    return render(
        PAGE.parent,
        PAGE.name,
        language,
        words=words,
        sexes=[s.value for s in Sex],
        languages=LANGUAGE_NAMES,
    )


@router.get("/dashboard", include_in_schema=False)
@checks_own_query
async def dashboard(request: Request, language: LanguageDep) -> HTMLResponse:
    if TOKEN_PARAMETERS & request.query_params.keys():
        raise BadRequest(
            "A bearer token is not accepted in the address, where it would "
            "stay in logs, the browser's history and Referer headers: open "
            "the dashboard without it and paste the token into the page."
        )
    return HTMLResponse(
        page(language.code), headers=HEADERS | {"Content-Language": language.code}
    )
