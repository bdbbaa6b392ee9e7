"""A stand-in OpenID provider for production mode (``AUTH_JWKS_URL``): its key
set, served to the apps' token verifiers over an httpx transport, and the
tokens it signs. It can be made to go down or to answer nonsense."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from shared.auth import Role, TokenVerifier

ISSUER = "https://idp.test/realms/mhpss"
AUDIENCE = "mhpss"
JWKS_URL = "https://idp.test/realms/mhpss/certs"


@dataclass
class IdentityProvider:
    rsa_key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(65537, 2048)
    )
    ec_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    down: bool = False
    answer: httpx.Response | None = None
    """Given, the key set URL answers this instead of the key set."""

    def key_set(self) -> dict[str, Any]:
        rsa_jwk = RSAAlgorithm.to_jwk(self.rsa_key.public_key(), as_dict=True)
        ec_jwk = ECAlgorithm.to_jwk(self.ec_key.public_key(), as_dict=True)
        return {
            "keys": [
                {**rsa_jwk, "kid": "rsa-1", "alg": "RS256", "use": "sig"},
                {**ec_jwk, "kid": "ec-1", "alg": "ES256", "use": "sig"},
            ]
        }

    def _serve(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if self.answer is not None:
            return self.answer
        return httpx.Response(200, json=self.key_set())

    def verifier(self) -> TokenVerifier:
        return TokenVerifier(
            issuer=ISSUER,
            audience=AUDIENCE,
            jwks_url=JWKS_URL,
            http=httpx.AsyncClient(transport=httpx.MockTransport(self._serve)),
        )

    def issue(
        self,
        organisation_id: uuid.UUID | str,
        *roles: Role,
        subject: str = "user",
        kid: str = "rsa-1",
    ) -> str:
        now = datetime.now(UTC)
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": subject,
            "org": str(organisation_id),
            "roles": [str(r) for r in roles],
            "iat": now,
            "exp": now + timedelta(hours=1),
        }
        key, algorithm = (
            (self.rsa_key, "RS256") if kid == "rsa-1" else (self.ec_key, "ES256")
        )
        return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})

    @contextmanager
    def serving(self, *apps: FastAPI) -> Iterator[None]:
        """The apps verify tokens against this provider while in the block."""
        saved = [app.state.token_verifier for app in apps]
        for app in apps:
            app.state.token_verifier = self.verifier()
        try:
            yield
        finally:
            for app, verifier in zip(apps, saved, strict=True):
                app.state.token_verifier = verifier
