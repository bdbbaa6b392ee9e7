"""One-time sign-in links for the dashboard on the embedded default.

The embedded default has no identity provider and no passwords: whoever runs
the service signs tokens with its local key (``python -m shared.tokens``).
Pasting such a token into a page is error-prone and teaches people to handle
bearer tokens, so the same command can print a link instead
(``--sign-in URL``): ``URL#sign-in=<code>``. The code is in the fragment,
which browsers never send to a server or in a Referer; the page removes it
from the address at once and exchanges it, once, for a token
(``POST /dashboard/sign-in``). A code lives ``SIGN_IN_MINUTES``, is signed
for another audience than the API's (so it is never a bearer token itself),
and names the token it stands for: subject, organisation, roles, sites,
team and lifetime.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt

from shared.auth import LocalSigningKey, Role, TokenClaims
from shared.db import utcnow
from shared.settings import ServiceSettings

SIGN_IN_MINUTES = 15
MAX_TOKEN_HOURS = 12.0
FRAGMENT = "sign-in"
"""The link's fragment name: ``#sign-in=<code>``."""


def sign_in_audience(settings: ServiceSettings) -> str:
    return f"{settings.auth_audience}:dashboard-sign-in"


def issue_sign_in_code(
    key: LocalSigningKey,
    settings: ServiceSettings,
    *,
    subject: str,
    organisation_id: uuid.UUID,
    roles: Iterable[Role],
    site_ids: Iterable[uuid.UUID] | None = None,
    team_id: uuid.UUID | None = None,
    hours: float = MAX_TOKEN_HOURS,
) -> str:
    """A code good for one sign-in within ``SIGN_IN_MINUTES``, for a token
    of ``hours`` (at most ``MAX_TOKEN_HOURS``)."""
    now = utcnow()
    claims: dict[str, Any] = {
        "iss": settings.auth_issuer,
        "aud": sign_in_audience(settings),
        "sub": subject,
        "org": str(organisation_id),
        "roles": [str(r) for r in roles],
        "hours": min(float(hours), MAX_TOKEN_HOURS),
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + timedelta(minutes=SIGN_IN_MINUTES),
    }
    if site_ids is not None:
        claims["sites"] = [str(s) for s in site_ids]
    if team_id is not None:
        claims["team"] = str(team_id)
    return jwt.encode(
        claims, key.private_key, algorithm="ES256", headers={"kid": key.kid}
    )


def sign_in_link(url: str, code: str) -> str:
    return f"{url.split('#')[0]}#{FRAGMENT}={code}"


@dataclass(frozen=True)
class SignInCode:
    """A verified code: who it signs in, for how long, and its one-time id."""

    claims: TokenClaims
    hours: float
    once: str
    expires: float
    """Unix time when the code stops being valid."""


def read_sign_in_code(
    key: LocalSigningKey, settings: ServiceSettings, code: str
) -> SignInCode:
    """The code's content; ``ValueError`` when it is not one of this key's
    sign-in codes, or has expired."""
    try:
        claims = jwt.decode(
            code,
            key.private_key.public_key(),
            algorithms=["ES256"],
            audience=sign_in_audience(settings),
            issuer=settings.auth_issuer,
            options={"require": ["exp", "iss", "aud", "sub", "jti"]},
        )
        parsed = TokenClaims.model_validate(claims)
        hours = min(float(claims.get("hours", MAX_TOKEN_HOURS)), MAX_TOKEN_HOURS)
    except Exception as exc:  # crafted input: any failure is a bad code
        raise ValueError(str(exc)) from None
    if hours <= 0:
        raise ValueError("the code asks for no time")
    return SignInCode(parsed, hours, str(claims["jti"]), float(claims["exp"]))


def token_for(key: LocalSigningKey, settings: ServiceSettings, code: SignInCode) -> str:
    """The bearer token a verified code stands for."""
    claims = code.claims
    return key.issue(
        subject=claims.sub,
        organisation_id=claims.org,
        roles=claims.roles,
        site_ids=claims.sites,
        team_id=claims.team,
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        ttl=timedelta(hours=code.hours),
    )
