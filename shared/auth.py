"""Bearer-token authentication and the caller's scope.

Production verifies tokens against an OIDC provider's JWKS; the embedded
default signs and verifies with a local ES256 key kept in the data folder.
Roles, organisation, site scope and team scope come from the token's claims.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from math import ceil
from pathlib import Path
from typing import Annotated, Any

import httpx
import jwt
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict
from redis.exceptions import RedisError

from shared.db import utcnow
from shared.errors import Forbidden, TooManyRequests, Unauthorized, Unavailable
from shared.files import create_once, private_dir
from shared.queue import ArqQueue
from shared.settings import ServiceSettings

log = structlog.get_logger(__name__)

ALGORITHMS = frozenset({"ES256", "RS256"})
"""Asymmetric only: a JWKS that publishes a shared secret (``oct``) or an
encryption key is not used to verify tokens."""
JWKS_REFRESH_SECONDS = 30.0
JWKS_RETRY_SECONDS = 5.0
VERIFIED_TOKENS = 4096
"""How many verified tokens a verifier remembers (a few MiB at most)."""
LOCAL_KEY_FILE = "token-signing-key.pem"


class Role(StrEnum):
    admin = "admin"
    programme_manager = "programme_manager"
    supervisor = "supervisor"
    case_worker = "case_worker"
    outreach_worker = "outreach_worker"
    me_officer = "me_officer"
    auditor = "auditor"
    trainer = "trainer"
    service = "service"  # machine account of another service (feeds only)
    platform_admin = "platform_admin"  # platform operator: registers organisations


class Principal(BaseModel):
    """Who is calling: a user of one organisation, with roles, site scope
    and team scope.

    ``site_ids`` None means every site of the organisation; ``team_id`` None
    means every team (a team-scoped user sees only the records its team made).
    """

    model_config = ConfigDict(frozen=True)

    subject: str
    organisation_id: uuid.UUID
    roles: frozenset[Role]
    site_ids: frozenset[uuid.UUID] | None = None
    team_id: uuid.UUID | None = None

    def has_any(self, roles: Iterable[Role]) -> bool:
        return bool(self.roles.intersection(roles))

    def can_see_site(self, site_id: uuid.UUID | None) -> bool:
        return self.site_ids is None or site_id in self.site_ids

    def can_see_team(self, team_id: uuid.UUID | None) -> bool:
        return self.team_id is None or team_id == self.team_id


class TokenClaims(BaseModel):
    sub: str
    org: uuid.UUID
    roles: list[Role]
    sites: list[uuid.UUID] | None = None
    team: uuid.UUID | None = None


@dataclass
class LocalSigningKey:
    """The embedded default's key pair: signs tokens for the CLI, verifies them."""

    private_key: ec.EllipticCurvePrivateKey
    kid: str

    @classmethod
    def load_or_create(cls, data_dir: Path) -> LocalSigningKey:
        """The key in ``data_dir``, made on first use (mode 0600, folder
        0700). Processes starting together on a fresh folder all end with the
        key the first of them wrote."""
        path = data_dir / LOCAL_KEY_FILE
        if path.exists():
            pem = path.read_bytes()
        else:
            private_dir(data_dir)
            pem = create_once(path, _new_private_key_pem())
        loaded = serialization.load_pem_private_key(pem, None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        private_key = loaded
        public = private_key.public_key().public_bytes(
            serialization.Encoding.DER,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        kid = uuid.uuid5(uuid.NAMESPACE_OID, public.hex()).hex[:16]
        return cls(private_key=private_key, kid=kid)

    def issue(
        self,
        *,
        subject: str,
        organisation_id: uuid.UUID,
        roles: Iterable[Role],
        site_ids: Iterable[uuid.UUID] | None = None,
        team_id: uuid.UUID | None = None,
        issuer: str,
        audience: str,
        ttl: timedelta = timedelta(hours=12),
    ) -> str:
        now = utcnow()
        claims: dict[str, Any] = {
            "iss": issuer,
            "aud": audience,
            "sub": subject,
            "org": str(organisation_id),
            "roles": [str(r) for r in roles],
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
        }
        if site_ids is not None:
            claims["sites"] = [str(s) for s in site_ids]
        if team_id is not None:
            claims["team"] = str(team_id)
        return jwt.encode(
            claims, self.private_key, algorithm="ES256", headers={"kid": self.kid}
        )


def _new_private_key_pem() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass(frozen=True)
class VerificationKey:
    """A public key and the one algorithm it verifies: a token whose header
    names another algorithm is refused before the key is used, so a crafted
    ``alg`` can never make PyJWT treat the key as something else."""

    key: Any
    algorithm: str

    @classmethod
    def of(cls, key: Any) -> VerificationKey:
        """The local key pair's public half (ES256), or an RSA key (RS256)."""
        if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(
            key.curve, ec.SECP256R1
        ):
            return cls(key, "ES256")
        if isinstance(key, rsa.RSAPublicKey):
            return cls(key, "RS256")
        raise ValueError(f"no supported token algorithm for {type(key).__name__}")


@dataclass
class TokenVerifier:
    """Verifies bearer tokens with a fixed key or keys fetched from a JWKS URL.

    Everything in a token is the caller's to craft, so any failure to read or
    verify it is a 401 (counted by the bad-credential limit), never a 500;
    failing to read the identity provider's keys is a 503, the provider's
    fault, not the caller's."""

    issuer: str
    audience: str
    static_key: Any = None
    jwks_url: str | None = None
    http: httpx.AsyncClient | None = None
    _static: VerificationKey | None = None
    _jwks: dict[str, VerificationKey] = field(default_factory=dict)
    _next_refresh_at: float = 0.0
    _jwks_failed: bool = False
    _refreshing: asyncio.Lock = field(default_factory=asyncio.Lock)
    _verified: dict[str, tuple[Principal, float, object, VerificationKey]] = field(
        default_factory=dict
    )

    def __post_init__(self) -> None:
        if self.static_key is not None:
            self._static = VerificationKey.of(self.static_key)

    async def verify(self, token: str) -> Principal:
        """The token's principal. A token verified before is not verified
        again (an ES256 check and the claims' parsing are most of a small
        request's authentication) while it has not expired and the key that
        verified it is still the one its ``kid`` names; the exact token
        string is the cache key, so nothing but that token can hit."""
        known = self._verified.get(token)
        if known is not None:
            principal, expires_at, kid, key = known
            if time.time() < expires_at and self._current(kid) is key:
                return principal
            del self._verified[token]
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except Exception as exc:  # crafted input: any failure is a bad token
            raise Unauthorized(f"Invalid bearer token: {exc}") from None
        key = await self._key_for(kid)
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
            parsed = TokenClaims.model_validate(claims)
            expires_at = float(claims["exp"])
        except jwt.ExpiredSignatureError:
            raise ExpiredToken("The bearer token has expired.") from None
        except Exception as exc:  # crafted input: any failure is a bad token
            raise Unauthorized(f"Invalid bearer token: {exc}") from None
        principal = Principal(
            subject=parsed.sub,
            organisation_id=parsed.org,
            roles=frozenset(parsed.roles),
            site_ids=None if parsed.sites is None else frozenset(parsed.sites),
            team_id=parsed.team,
        )
        if len(self._verified) >= VERIFIED_TOKENS:  # forget the oldest
            del self._verified[next(iter(self._verified))]
        self._verified[token] = (principal, expires_at, kid, key)
        return principal

    def _current(self, kid: object) -> VerificationKey | None:
        """The key that verifies a token naming ``kid`` now."""
        if self._static is not None:
            return self._static
        return self._jwks.get(kid) if isinstance(kid, str) else None

    async def _key_for(self, kid: object) -> VerificationKey:
        if self._static is not None:
            return self._static
        if not isinstance(kid, str):
            raise Unauthorized("The token names no signing key (kid).")
        if kid not in self._jwks:
            async with self._refreshing:
                if kid not in self._jwks and time.monotonic() >= self._next_refresh_at:
                    await self._refresh_jwks()
        if kid in self._jwks:
            return self._jwks[kid]
        if self._jwks_failed:
            raise Unavailable(
                "The identity provider's signing keys cannot be read now.",
                retry_after=max(1, ceil(self._next_refresh_at - time.monotonic())),
            )
        raise Unauthorized("The token's signing key is unknown.")

    async def _refresh_jwks(self) -> None:
        """Read the provider's key set, at most every ``JWKS_REFRESH_SECONDS``
        (``JWKS_RETRY_SECONDS`` after a failure): unknown kids cannot make
        every request call the provider."""
        assert self.jwks_url is not None
        assert self.http is not None
        try:
            response = await self.http.get(self.jwks_url)
            response.raise_for_status()
            keys = jwt.PyJWKSet.from_dict(response.json()).keys
        except Exception as exc:  # down, an error page, not a key set
            log.warning("jwks_refresh_failed", url=self.jwks_url, error=repr(exc))
            self._jwks_failed = True
            self._next_refresh_at = time.monotonic() + JWKS_RETRY_SECONDS
            return
        self._jwks = {
            k.key_id: VerificationKey(k.key, k.algorithm_name)
            for k in keys
            if isinstance(k.key_id, str)
            and k.algorithm_name in ALGORITHMS
            and k.public_key_use in (None, "sig")
        }
        self._jwks_failed = False
        self._next_refresh_at = time.monotonic() + JWKS_REFRESH_SECONDS


class RateLimiter:
    """Counts per key in fixed one-minute windows: in Redis when the service
    has it (shared by every process), else, or while Redis does not answer,
    in this process (a Redis outage must not fail every request)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.window = 0
        self.local: dict[str, int] = {}

    async def count(self, request: Request, key: str, *, add: bool = True) -> int:
        """This minute's count for ``key``, after adding one if ``add``."""
        window = current_window()
        queue = request.app.state.queue
        if isinstance(queue, ArqQueue):
            name = f"ratelimit:{self.name}:{key}:{window}"
            try:
                if not add:
                    return int(await queue.pool.get(name) or 0)
                count = int(await queue.pool.incr(name))
                if count == 1:
                    await queue.pool.expire(name, 120)
                return count
            except (RedisError, OSError) as exc:  # Redis down: count here
                log.warning("rate_limit_redis_failed", error=repr(exc))
        if window != self.window:  # a new minute forgets the last one's counts
            self.local, self.window = {}, window
        count = self.local.get(key, 0) + int(add)
        if add:
            self.local[key] = count
        return count

    async def hit(self, request: Request, key: str, limit: int, detail: str) -> None:
        """Count one request; past ``limit`` this minute, 429 until it ends."""
        if await self.count(request, key) > limit:
            raise TooManyRequests(detail, retry_after())


def current_window() -> int:
    """The clock minute now, by number: the rate limits' window."""
    return int(time.time() // 60)


def retry_after() -> int:
    """Seconds until the current one-minute window ends."""
    return 60 - int(time.time() % 60)


AUTH_FAILURES = RateLimiter("auth-failures")


class ExpiredToken(Unauthorized):
    """A token with a good signature whose time has run out: a device back
    from the field, not a guess, so it does not count towards the
    bad-credential limit (PyJWT checks the signature before ``exp``)."""


def client_address(request: Request) -> str:
    """The caller's address: the TCP peer, or behind a trusted proxy
    (``TRUSTED_PROXIES``) the nearest address in X-Forwarded-For that is not
    one of them."""
    return request.client.host if request.client else "unknown"


async def refuse_blocked_address(request: Request) -> None:
    """429 for an address past its bad-credential limit this minute."""
    limit: int = request.app.state.settings.auth_failures_per_minute
    address = client_address(request)
    if await AUTH_FAILURES.count(request, address, add=False) >= limit:
        raise TooManyRequests(
            "Too many requests with bad credentials from this address; "
            "wait for the next minute.",
            retry_after(),
        )


async def count_failure(request: Request) -> None:
    await AUTH_FAILURES.count(request, client_address(request))


BEARER_SCHEME = {
    "scheme_name": "bearer",
    "bearerFormat": "JWT",
    "description": "A token from the identity provider (on the embedded default, "
    "from `python -m shared.tokens`).",
}
BEARER = HTTPBearer(**BEARER_SCHEME, auto_error=False)
"""Declares the bearer scheme in the OpenAPI of a route that reads the
token itself (reporting's ``current_caller``, which also takes API keys)."""
BearerDoc = Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]


async def current_principal(request: Request) -> Principal:
    """The token's principal. A blocked address gets 429 whatever it sends
    (a right guess then tells nothing), except the platform's own machine
    accounts: a token of role ``service`` cannot be guessed, and the other
    services' calls must not share the fate of a client at the same address
    (one host, one NAT, one proxy)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("A bearer token is required.")
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        principal = await verifier.verify(token.strip())
    except Unauthorized as refused:
        await refuse_blocked_address(request)
        if not isinstance(refused, ExpiredToken):
            await count_failure(request)
        raise
    if Role.service not in principal.roles:
        await refuse_blocked_address(request)
    request.state.principal = principal
    return principal


class BearerPrincipal(HTTPBearer):
    """The bearer scheme as the dependency that reads it: the OpenAPI
    declares the scheme, and solving it gives ``current_principal`` (one
    dependency per request, not the scheme's and then the principal's)."""

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        return await current_principal(request)


PRINCIPAL = BearerPrincipal(**BEARER_SCHEME, auto_error=False)
PrincipalDep = Annotated[Principal, Depends(PRINCIPAL)]


def require(*roles: Role) -> Callable[..., Any]:
    """Dependency: the caller must hold one of ``roles`` (admin always passes)."""

    async def dependency(principal: PrincipalDep) -> Principal:
        return holding(principal, roles)

    return dependency


def holding(principal: Principal, roles: Iterable[Role]) -> Principal:
    """``principal`` when it holds one of ``roles`` (admin always does; no
    roles: anyone), else 403: ``require``'s check, for a dependency that
    needs the principal anyway (one dependency fewer to solve per request)."""
    roles = tuple(roles)
    if roles and not principal.has_any((*roles, Role.admin)):
        raise Forbidden(
            "This action needs one of the roles: "
            + ", ".join(sorted(str(r) for r in roles))
        )
    return principal


ACTING_ORGANISATION_HEADER = "X-Acting-Organisation"
MACHINE_ORGANISATION = uuid.UUID(int=0)
"""The ``org`` claim of locally signed machine tokens: a machine account
belongs to no organisation; a call for one names it in the header above."""


async def machine_account(
    principal: PrincipalDep,
    x_acting_organisation: Annotated[
        uuid.UUID | None,
        Header(
            description="Machine accounts only: the organisation the calling "
            "service acts for (default: the token's)."
        ),
    ] = None,
) -> Principal:
    """Dependency: another service's machine account (role ``service``),
    acting for the organisation its request names, so that one machine token
    (with an identity provider, one static credential) serves every
    organisation."""
    if Role.service not in principal.roles:
        raise Forbidden("Only another service's machine account may ask this.")
    if x_acting_organisation is None:
        return principal
    return principal.model_copy(update={"organisation_id": x_acting_organisation})


MachineDep = Annotated[Principal, Depends(machine_account)]


MACHINE_TOKEN_TTL = timedelta(minutes=10)
_machine_tokens: dict[tuple[Any, ...], tuple[str, float]] = {}


def _local_machine_token(settings: ServiceSettings, subject: str) -> str:
    """A machine token signed with the local key, reused for half its life:
    signing one per call read and parsed the key file, and each new token
    cost the receiver an ES256 check it remembers per token. A replaced key
    file (another modification time) signs a new one."""
    path = settings.data_dir / LOCAL_KEY_FILE
    try:
        version = path.stat().st_mtime_ns
    except FileNotFoundError:
        version = None
    key = (path, version, subject, settings.auth_issuer, settings.auth_audience)
    held = _machine_tokens.get(key)
    if held is not None and held[1] > time.time():
        return held[0]
    token = LocalSigningKey.load_or_create(settings.data_dir).issue(
        subject=subject,
        organisation_id=MACHINE_ORGANISATION,
        roles=[Role.service],
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        ttl=MACHINE_TOKEN_TTL,
    )
    if version is None:  # the key was made just now
        key = (path, path.stat().st_mtime_ns, *key[2:])
    if len(_machine_tokens) >= 64:  # replaced keys' tokens: forget them all
        _machine_tokens.clear()
    # wall-clock time, as the token's expiry: a monotonic clock stops while
    # the machine sleeps, and the token would be kept past its ``exp``
    _machine_tokens[key] = (token, time.time() + MACHINE_TOKEN_TTL.total_seconds() / 2)
    return token


def machine_headers(
    settings: ServiceSettings,
    token: str | None,
    *,
    subject: str,
    organisation_id: uuid.UUID | None = None,
) -> dict[str, str]:
    """Headers of this service's call to another as its machine account: the
    configured ``token``, else one signed with the local key (embedded
    default), and the organisation the call is for, if it is for one."""
    if token is None:
        token = _local_machine_token(settings, subject)
    headers = {"Authorization": f"Bearer {token}"}
    if organisation_id is not None:
        headers[ACTING_ORGANISATION_HEADER] = str(organisation_id)
    return headers
