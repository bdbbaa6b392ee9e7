"""``/dashboard``: the programme overview as charts, for people who sign in.

One self-contained page (``page.html``: HTML, CSS and script inline, nothing
fetched from elsewhere but the identity provider's token endpoint). Its
script reads ``v1/overview`` by a relative URL, so the page works wherever
the service is mounted (``/dashboard`` alone, ``/reporting/dashboard`` in the
stack), sending the token only to this origin as ``Authorization: Bearer``.
The page is rendered in the language asked for (``lang``, else the one
saved from its language menu, else Accept-Language), right to left for
Arabic and Kurdish, and asks the API for words in the same language. When
none of these names a language we have, the page cannot know the
organisation's default before sign-in: it asks the API without a language
and, if the answer is in the organisation's default, loads itself again in
it (docs/languages.md, the same order as every document).

Signing in (docs/reporting.md, "Dashboard"):

- with an identity provider configured (``REPORTING_DASHBOARD_OIDC_*``), the
  page runs the OAuth 2.0 authorization code flow with PKCE (S256) against
  it as a public client and keeps the access token it gets;
- on the embedded default, a one-time link from ``python -m shared.tokens
  --sign-in URL`` (``shared.signin``): the page takes the code from the
  link's fragment, drops it from the address and exchanges it once at
  ``POST /dashboard/sign-in`` for a token;
- either way a token can still be pasted (under "Use a bearer token").

The token stays in the tab's sessionStorage; a token in the address
(``?token=``) is refused, since it would stay in proxy logs, the browser's
history and Referer headers. The printable document needs the token too, so
the page fetches it and shows it in a sandboxed ``srcdoc`` iframe (no
scripts run in it) with a Print button.
"""

from __future__ import annotations

import json
import time
from functools import cache
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field
from redis.exceptions import RedisError

from services.reporting.settings import ReportingSettings
from shared.app import checks_own_query
from shared.auth import (
    LocalSigningKey,
    count_failure,
    refuse_blocked_address,
)
from shared.contracts.enums import Sex
from shared.contracts.text import Text
from shared.errors import BadRequest, NotFound, Unauthorized
from shared.i18n import ENGLISH, Language, LanguageDep, asked, catalogue
from shared.i18n.templates import render
from shared.queue import ArqQueue
from shared.signin import read_sign_in_code, token_for

router = APIRouter(tags=["dashboard"])
TOKEN_PARAMETERS = {"token", "access_token"}

PAGE = Path(__file__).with_name("page.html")
CSP = (
    "default-src 'self'; "
    "script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def headers_for(oidc: dict[str, str] | None) -> dict[str, str]:
    """The page's headers; with OIDC, its script may also call the identity
    provider's token endpoint (and nothing else there)."""
    if oidc is None:
        return HEADERS
    token_url = urlsplit(oidc["token_endpoint"])
    origin = f"{token_url.scheme}://{token_url.netloc}"
    return HEADERS | {"Content-Security-Policy": f"{CSP}; connect-src 'self' {origin}"}


LANGUAGE_NAMES = [("en", "English"), ("ar", "العربية"), ("ckb", "کوردی (سۆرانی)")]
"""Each language named in itself, for the page's language menu."""


@cache
def page(
    lang: str, oidc_json: str = "null", local: bool = True, chosen: bool = True
) -> str:
    """The page in one language: its fixed text, the words its script needs
    (the catalogue's dashboard, overview, unit and list messages) and how
    it signs people in (``oidc_json``: the provider, or null; ``local``:
    one-time links, on the embedded default; neither: a pasted token).
    ``chosen``: the request named the language (``lang`` or
    Accept-Language); if not, the script follows the organisation's
    default once it is signed in."""
    language = Language(lang)
    oidc = json.loads(oidc_json)
    named = (oidc or {}).get("name")
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
        oidc=oidc,
        local=local and oidc is None,
        provider=named or language.text("dashboard.identity_provider"),
        chosen=chosen,
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
    settings: ReportingSettings = request.app.state.settings
    oidc = None if settings.auth_jwks_url is None else settings.dashboard_oidc
    named = asked(
        request.query_params.get("lang"), request.headers.get("accept-language")
    )
    return HTMLResponse(
        page(
            language.code,
            json.dumps(oidc, sort_keys=True),
            local=settings.auth_jwks_url is None,
            chosen=named is not None,
        ),
        headers=headers_for(oidc) | {"Content-Language": language.code},
    )


class SignIn(BaseModel):
    code: Annotated[Text, Field(max_length=4000)]
    """The code of a one-time sign-in link (after ``#sign-in=``)."""


USED_CODES: dict[str, float] = {}
"""One-time codes used in this process, with when they expire (no Redis)."""


async def _first_use(request: Request, once: str, expires: float) -> bool:
    """Whether a code is used for the first time: in Redis when the service
    has it (every process sees it), else in this process."""
    queue = request.app.state.queue
    ttl = max(1, int(expires - time.time()) + 1)
    if isinstance(queue, ArqQueue):
        try:
            return bool(
                await queue.pool.set(f"dashboard-sign-in:{once}", 1, ex=ttl, nx=True)
            )
        except (RedisError, OSError):  # Redis down: this process remembers
            pass
    now = time.time()
    for stale in [k for k, until in USED_CODES.items() if until < now]:
        del USED_CODES[stale]
    if once in USED_CODES:
        return False
    USED_CODES[once] = expires
    return True


@router.post("/dashboard/sign-in", include_in_schema=False)
async def sign_in(body: SignIn, request: Request) -> JSONResponse:
    """Exchange a one-time sign-in link's code for a bearer token (embedded
    default only: with an identity provider, people sign in there). A bad,
    expired or used code is a 401 that counts towards the bad-credential
    limit, like a bad token."""
    settings: ReportingSettings = request.app.state.settings
    if settings.auth_jwks_url:
        raise NotFound(
            "There is no local sign-in here: this installation signs people "
            "in with its identity provider."
        )
    await refuse_blocked_address(request)
    key = LocalSigningKey.load_or_create(settings.data_dir)
    try:
        code = read_sign_in_code(key, settings, body.code.strip())
    except ValueError as exc:
        await count_failure(request)
        raise Unauthorized(
            f"This sign-in link is not valid or has expired ({exc}): ask for a new one."
        ) from None
    if not await _first_use(request, code.once, code.expires):
        await count_failure(request)
        raise Unauthorized("This sign-in link was used already: ask for a new one.")
    return JSONResponse(
        {
            "access_token": token_for(key, settings, code),
            "token_type": "Bearer",
            "expires_in": int(code.hours * 3600),
            "subject": code.claims.sub,
        },
        headers={"Cache-Control": "no-store"},
    )
