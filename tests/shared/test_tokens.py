"""Bearer tokens: expired, tampered, wrong-audience and alg=none are refused."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta
from pathlib import Path

import jwt
import pytest

from shared.auth import LocalSigningKey, Role, TokenVerifier
from shared.errors import Unauthorized

ORG = uuid.uuid4()


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> LocalSigningKey:
    return LocalSigningKey.load_or_create(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def verifier(key: LocalSigningKey) -> TokenVerifier:
    return TokenVerifier(
        issuer="iss", audience="aud", static_key=key.private_key.public_key()
    )


def issue(key: LocalSigningKey, **overrides: object) -> str:
    args: dict[str, object] = {
        "subject": "u1",
        "organisation_id": ORG,
        "roles": [Role.case_worker],
        "issuer": "iss",
        "audience": "aud",
    }
    args.update(overrides)
    return key.issue(**args)  # type: ignore[arg-type]


async def test_valid_token(key: LocalSigningKey, verifier: TokenVerifier) -> None:
    site = uuid.uuid4()
    principal = await verifier.verify(issue(key, site_ids=[site]))
    assert principal.organisation_id == ORG
    assert principal.roles == {Role.case_worker}
    assert principal.site_ids == frozenset({site})


@pytest.mark.parametrize(
    "overrides",
    [
        {"ttl": timedelta(seconds=-5)},
        {"audience": "someone-else"},
        {"issuer": "evil"},
    ],
)
async def test_rejected_claims(
    key: LocalSigningKey, verifier: TokenVerifier, overrides: dict[str, object]
) -> None:
    with pytest.raises(Unauthorized):
        await verifier.verify(issue(key, **overrides))


async def test_tampered_payload(key: LocalSigningKey, verifier: TokenVerifier) -> None:
    header, payload, signature = issue(key).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["roles"] = ["admin"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    with pytest.raises(Unauthorized):
        await verifier.verify(f"{header}.{forged}.{signature}")


async def test_alg_none(verifier: TokenVerifier) -> None:
    token = jwt.encode(
        {
            "sub": "u1",
            "org": str(ORG),
            "roles": ["admin"],
            "iss": "iss",
            "aud": "aud",
            "exp": 9999999999,
        },
        key="",
        algorithm="none",
    )
    with pytest.raises(Unauthorized):
        await verifier.verify(token)


async def test_other_key(verifier: TokenVerifier, tmp_path: Path) -> None:
    stranger = LocalSigningKey.load_or_create(tmp_path)
    with pytest.raises(Unauthorized):
        await verifier.verify(issue(stranger))


async def test_hmac_with_public_key_confusion(
    key: LocalSigningKey, verifier: TokenVerifier
) -> None:
    """HS256 signed with the public key as the secret: the classic confusion."""
    import hashlib
    import hmac

    from cryptography.hazmat.primitives import serialization

    public_pem = key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    claims = {
        "sub": "u1",
        "org": str(ORG),
        "roles": ["admin"],
        "iss": "iss",
        "aud": "aud",
        "exp": 9999999999,
    }
    signing_input = (
        b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        + "."
        + b64(json.dumps(claims).encode())
    )
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(Unauthorized):
        await verifier.verify(f"{signing_input}.{b64(signature)}")


async def test_unknown_role(key: LocalSigningKey, verifier: TokenVerifier) -> None:
    token = jwt.encode(
        {
            "sub": "u1",
            "org": str(ORG),
            "roles": ["god"],
            "iss": "iss",
            "aud": "aud",
            "exp": 9999999999,
        },
        key.private_key,
        algorithm="ES256",
    )
    with pytest.raises(Unauthorized):
        await verifier.verify(token)
