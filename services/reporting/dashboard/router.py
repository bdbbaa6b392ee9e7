"""``/dashboard``: the programme overview as charts, for people with a token.

One self-contained page (``page.html``: HTML, CSS and script inline, nothing
fetched from elsewhere). Its script reads ``v1/overview`` by a relative URL,
so the page works wherever the service is mounted (``/dashboard`` alone,
``/reporting/dashboard`` in the stack), sending the token only to this
origin as ``Authorization: Bearer``. The person pastes the token into the
page, which keeps it in the tab's sessionStorage; a token in the address
(``?token=``) is refused, since it would stay in proxy logs, the browser's
history and Referer headers. The printable document needs the token
too, so the page fetches it and shows it in a sandboxed ``srcdoc`` iframe
(no scripts run in it) with a Print button.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from shared.app import checks_own_query
from shared.errors import BadRequest

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


@cache
def page() -> str:
    return PAGE.read_text(encoding="utf-8")


@router.get("/dashboard", include_in_schema=False)
@checks_own_query
async def dashboard(request: Request) -> HTMLResponse:
    if TOKEN_PARAMETERS & request.query_params.keys():
        raise BadRequest(
            "A bearer token is not accepted in the address, where it would "
            "stay in logs, the browser's history and Referer headers: open "
            "the dashboard without it and paste the token into the page."
        )
    return HTMLResponse(page(), headers=HEADERS)
