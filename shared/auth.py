"""Bearer-token authentication and the caller's scope.

Production verifies tokens against an OIDC provider's JWKS; the embedded
default signs and verifies with a local ES256 key kept in the data folder.
Roles, organisation and site scope come from the token's claims.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import httpx
import jwt
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict, ValidationError
from redis.exceptions import RedisError

from shared.db import utcnow
from shared.errors import Forbidden, TooManyRequests, Unauthorized
from shared.files import create_once, private_dir
from shared.queue import ArqQueue

log = structlog.get_logger(__name__)

ALGORITHMS = ["ES256", "RS256"]
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
    """Who is calling: a user of one organisation, with roles and site scope.

    ``site_ids`` None means every site of the organisation.
    """

    model_config = ConfigDict(frozen=True)

    subject: str
    organisation_id: uuid.UUID
    roles: frozenset[Role]
    site_ids: frozenset[uuid.UUID] | None = None

    def has_any(self, roles: Iterable[Role]) -> bool:
        return bool(self.roles.intersection(roles))

    def can_see_site(self, site_id: uuid.UUID | None) -> bool:
        return self.site_ids is None or site_id in self.site_ids


class TokenClaims(BaseModel):
    sub: str
    org: uuid.UUID
    roles: list[Role]
    sites: list[uuid.UUID] | None = None


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
        return jwt.encode(
            claims, self.private_key, algorithm="ES256", headers={"kid": self.kid}
        )


def _new_private_key_pem() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass
class TokenVerifier:
    """Verifies bearer tokens with a fixed key or keys fetched from a JWKS URL."""

    issuer: str
    audience: str
    static_key: Any = None
    jwks_url: str | None = None
    http: httpx.AsyncClient | None = None
    _jwks: dict[str, Any] = field(default_factory=dict)
    _jwks_fetched_at: float = 0.0

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
            key = await self._key_for(header.get("kid"))
            claims = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
            parsed = TokenClaims.model_validate(claims)
        except jwt.ExpiredSignatureError:
            raise ExpiredToken("The bearer token has expired.") from None
        except (jwt.PyJWTError, ValidationError) as exc:
            raise Unauthorized(f"Invalid bearer token: {exc}") from None
        return Principal(
            subject=parsed.sub,
            organisation_id=parsed.org,
            roles=frozenset(parsed.roles),
            site_ids=None if parsed.sites is None else frozenset(parsed.sites),
        )

    async def _key_for(self, kid: str | None) -> Any:
        if self.static_key is not None:
            return self.static_key
        if kid not in self._jwks and time.monotonic() - self._jwks_fetched_at > 30:
            await self._refresh_jwks()
        if kid not in self._jwks:
            raise Unauthorized("The token's signing key is unknown.")
        return self._jwks[kid]

    async def _refresh_jwks(self) -> None:
        assert self.jwks_url is not None
        assert self.http is not None
        response = await self.http.get(self.jwks_url)
        response.raise_for_status()
        keys = jwt.PyJWKSet.from_dict(response.json())
        self._jwks = {k.key_id: k.key for k in keys.keys if k.key_id}
        self._jwks_fetched_at = time.monotonic()


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
        window = int(time.time() // 60)
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


def retry_after() -> int:
    """Seconds until the current one-minute window ends."""
    return 60 - int(time.time() % 60)


AUTH_FAILURES = RateLimiter("auth-failures")


class ExpiredToken(Unauthorized):
    """A token with a good signature whose time has run out: a device back
    from the field, not a guess, so it does not count towards the
    bad-credential limit (PyJWT checks the signature before ``exp``)."""


def client_address(request: Request) -> str:
    """The caller's address (behind the ingress, uvicorn's --proxy-headers
    takes it from X-Forwarded-For)."""
    return request.client.host if request.client else "unknown"


async def refuse_blocked_address(request: Request) -> None:
    """429 for an address past its bad-credential limit this minute, before
    its credentials are looked at: a right guess then tells nothing."""
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


async def current_principal(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("A bearer token is required.")
    await refuse_blocked_address(request)
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        principal = await verifier.verify(token.strip())
    except ExpiredToken:
        raise
    except Unauthorized:
        await count_failure(request)
        raise
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require(*roles: Role) -> Callable[..., Any]:
    """Dependency: the caller must hold one of ``roles`` (admin always passes)."""

    async def dependency(principal: PrincipalDep) -> Principal:
        if roles and not principal.has_any((*roles, Role.admin)):
            raise Forbidden(
                "This action needs one of the roles: "
                + ", ".join(sorted(str(r) for r in roles))
            )
        return principal

    return dependency
