"""Bearer tokens: expired, tampered, wrong-audience and alg=none are refused,
and any crafted token is either verified or Unauthorized (never another
exception, which would be a 500)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from shared.auth import (
    LOCAL_KEY_FILE,
    ExpiredToken,
    LocalSigningKey,
    Role,
    TokenVerifier,
    machine_headers,
)
from shared.errors import Unauthorized
from shared.settings import ServiceSettings

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


async def test_a_verified_token_is_not_verified_again_until_it_expires(
    key: LocalSigningKey, verifier: TokenVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same token again is answered from the verifier's memory (no
    signature check), until its ``exp``: then it is refused as expired."""
    token = issue(key, ttl=timedelta(seconds=2))
    first = await verifier.verify(token)
    checks: list[str] = []
    decode = jwt.decode

    def counted(*args: Any, **kwargs: Any) -> Any:
        checks.append("decode")
        return decode(*args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counted)
    assert await verifier.verify(token) is first
    assert checks == []
    with pytest.raises(Unauthorized):  # one character off: not the cached one
        await verifier.verify(
            token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
        )
    await asyncio.sleep(2.1)
    with pytest.raises(ExpiredToken):
        await verifier.verify(token)


async def test_a_remembered_token_needs_its_key_still_published(
    key: LocalSigningKey,
) -> None:
    """A token verified by a key the identity provider has since withdrawn
    from its key set is refused, though the verifier remembers it."""
    verifier = jwks_verifier(key)
    token = jwt.encode(
        {
            "iss": "iss",
            "aud": "aud",
            "sub": "u1",
            "org": str(ORG),
            "roles": ["case_worker"],
            "exp": int(time.time()) + 600,
        },
        key.private_key,
        algorithm="ES256",
        headers={"kid": "ec-1"},
    )
    assert (await verifier.verify(token)).subject == "u1"
    rsa_jwk = RSAAlgorithm.to_jwk(RSA_KEY.public_key(), as_dict=True)
    rsa_only = {"keys": [{**rsa_jwk, "kid": "rsa-1"}]}
    verifier.http = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda _: httpx.Response(200, json=rsa_only))
    )
    await verifier._refresh_jwks()  # the provider rotated ec-1 out
    with pytest.raises(Unauthorized):
        await verifier.verify(token)


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


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
"""Any JSON value: what a crafted header field or claim may hold."""


def header_values() -> st.SearchStrategy[dict[str, object]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "alg": st.sampled_from(["ES256", "RS256", "HS256", "none", "ES384"]) | JSON,
            "kid": st.sampled_from(["k", "rsa-1", "ec-1"]) | JSON,
            "typ": st.just("JWT") | JSON,
            "crit": JSON,
            "b64": JSON,
        },
    )


def claim_values() -> st.SearchStrategy[dict[str, object]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "sub": st.just("u1") | JSON,
            "org": st.just(str(ORG)) | JSON,
            "roles": st.just(["admin"]) | JSON,
            "sites": JSON,
            "iss": st.just("iss") | JSON,
            "aud": st.just("aud") | JSON,
            "exp": st.just(9999999999) | JSON,
            "nbf": JSON,
            "iat": JSON,
        },
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def crafted(header: object, claims: object, signer: str, key: Any) -> str:
    """A token with this header and claims, signed by ``key`` as ``signer``
    says (ES256 or RS256 whatever the header claims), or with junk."""
    signing_input = (
        f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    )
    if signer == "ES256":
        signature = ECAlgorithm(ECAlgorithm.SHA256).sign(signing_input.encode(), key)
    elif signer == "RS256":
        signature = RSAAlgorithm(RSAAlgorithm.SHA256).sign(
            signing_input.encode(), RSA_KEY
        )
    else:
        signature = b"\x00" * 64
    return f"{signing_input}.{b64(signature)}"


RSA_KEY = rsa.generate_private_key(65537, 2048)


async def verify_outcome(verifier: TokenVerifier, token: str) -> None:
    """Verified, or a 401: nothing else (no TypeError, no 500)."""
    with contextlib.suppress(Unauthorized):
        await verifier.verify(token)


def jwks_verifier(key: LocalSigningKey) -> TokenVerifier:
    rsa_jwk = RSAAlgorithm.to_jwk(RSA_KEY.public_key(), as_dict=True)
    ec_jwk = ECAlgorithm.to_jwk(key.private_key.public_key(), as_dict=True)
    key_set = {"keys": [{**rsa_jwk, "kid": "rsa-1"}, {**ec_jwk, "kid": "ec-1"}]}
    return TokenVerifier(
        issuer="iss",
        audience="aud",
        jwks_url="https://idp.test/certs",
        http=httpx.AsyncClient(
            transport=httpx.MockTransport(lambda _: httpx.Response(200, json=key_set))
        ),
    )


@settings(max_examples=300, deadline=None)
@given(
    header=header_values() | JSON,
    claims=claim_values() | JSON,
    signer=st.sampled_from(["ES256", "RS256", "junk"]),
    raw=st.none() | st.text(max_size=40),
)
def test_any_crafted_token_is_verified_or_a_401(
    key: LocalSigningKey, header: object, claims: object, signer: str, raw: str | None
) -> None:
    """Whatever header, claims and signature: both verifiers (the local key,
    a JWKS with an RSA and an EC key) answer a principal or Unauthorized."""
    token = raw if raw is not None else crafted(header, claims, signer, key.private_key)
    static = TokenVerifier(
        issuer="iss", audience="aud", static_key=key.private_key.public_key()
    )

    async def both() -> None:
        await verify_outcome(static, token)
        await verify_outcome(jwks_verifier(key), token)

    asyncio.run(both())


async def test_a_machine_token_is_reused_until_its_key_is_replaced(
    tmp_path: Path,
) -> None:
    """The embedded default signs its service-to-service calls with the local
    key: one token serves many calls, and a replaced key signs a new one."""
    settings = ServiceSettings(data_dir=tmp_path)
    first = machine_headers(settings, None, subject="reporting")
    assert machine_headers(settings, None, subject="reporting") == first
    assert machine_headers(settings, None, subject="training") != first

    key_file = tmp_path / LOCAL_KEY_FILE
    key_file.unlink()
    replaced = LocalSigningKey.load_or_create(tmp_path)
    os.utime(key_file, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    again = machine_headers(settings, None, subject="reporting")
    assert again != first
    verifier = TokenVerifier(
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        static_key=replaced.private_key.public_key(),
    )
    principal = await verifier.verify(again["Authorization"].removeprefix("Bearer "))
    assert Role.service in principal.roles
