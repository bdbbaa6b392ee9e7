"""Whatever a caller crafts (token, header, kid), it ends as a 401
problem+json counted by the bad-credential limit, never a 500; each key
verifies only its own algorithm. An identity provider that cannot give its
keys is a 503 with Retry-After, not the caller's fault, so not counted."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI
from jwt.algorithms import ECAlgorithm

from shared.auth import LocalSigningKey, Role
from shared.errors import PROBLEM_MEDIA_TYPE
from tests.attacks.limits import LIMIT, assert_too_many, from_address
from tests.callers import Org
from tests.idp import IdentityProvider

ROUTE = "/v1/beneficiaries"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def signed(header: dict[str, Any], claims: dict[str, Any], key: Any) -> str:
    """An ES256 signature over whatever header and claims, as an attacker
    holding some key (or the right one) would make them."""
    signing_input = (
        f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    )
    signature = ECAlgorithm(ECAlgorithm.SHA256).sign(signing_input.encode(), key)
    return f"{signing_input}.{b64(signature)}"


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.headers["www-authenticate"] == "Bearer"


async def assert_counted(target: FastAPI, token: str, good: str) -> None:
    """The token is a 401 problem+json each time and counts: after the limit,
    its address is blocked, for a good token too."""
    address = f"198.18.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"
    async with from_address(target, address) as http:
        for _ in range(LIMIT):
            assert_refused(await http.get(ROUTE, headers=bearer(token)))
        assert_too_many(await http.get(ROUTE, headers=bearer(good)))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claims_for(org: str, settings: Any) -> dict[str, Any]:
    return {
        "sub": "mallory",
        "org": org,
        "roles": ["admin"],
        "iss": settings.auth_issuer,
        "aud": settings.auth_audience,
        "exp": int(time.time()) + 600,
    }


async def test_another_algorithm_than_the_local_keys_is_a_counted_401(
    apps: dict[str, FastAPI],
    low_limit: None,
    issue: Any,
    orgs: dict[str, Org],
    signing_key: LocalSigningKey,
) -> None:
    """RS256 (or HS256, none) in a token for the local ES256 key."""
    target = apps["beneficiary"]
    claims = claims_for(orgs["a"].id, target.state.settings)
    header = {"kid": signing_key.kid}
    rsa_key = rsa.generate_private_key(65537, 2048)
    tokens = [
        jwt.encode(claims, rsa_key, algorithm="RS256", headers=header),
        jwt.encode(
            claims,
            "a-guess-of-the-secret-0123456789",
            algorithm="HS256",
            headers=header,
        ),
        jwt.encode(claims, rsa_key, algorithm="PS256", headers=header),
        jwt.encode(claims, "", algorithm="none", headers=header),
    ]
    good = issue(orgs["a"], Role.case_worker).token
    for token in tokens:
        await assert_counted(target, token, good)


async def test_jwks_keys_verify_only_their_own_algorithm(
    apps: dict[str, FastAPI], low_limit: None, orgs: dict[str, Org]
) -> None:
    """ES256 against the provider's RSA key, RS256 against its EC key, a kid
    that is no string, a kid the provider does not have."""
    target = apps["beneficiary"]
    idp = IdentityProvider()
    good = idp.issue(orgs["a"].id, Role.case_worker)
    claims = jwt.decode(good, options={"verify_signature": False})
    tokens = [
        jwt.encode(claims, idp.ec_key, algorithm="ES256", headers={"kid": "rsa-1"}),
        jwt.encode(claims, idp.rsa_key, algorithm="RS256", headers={"kid": "ec-1"}),
        signed({"alg": "ES256", "kid": ["ec-1"]}, claims, idp.ec_key),
        signed({"alg": "ES256", "kid": {"x": 1}}, claims, idp.ec_key),
        signed({"alg": "ES256", "kid": 7}, claims, idp.ec_key),
        jwt.encode(claims, idp.ec_key, algorithm="ES256", headers={"kid": "nope"}),
    ]
    with idp.serving(target):
        async with from_address(target, "192.0.2.102") as http:
            ec_good = idp.issue(orgs["a"].id, Role.case_worker, kid="ec-1")
            for token in (good, ec_good):
                ok = await http.get(ROUTE, headers=bearer(token))
                assert ok.status_code == 200, ok.text
        for token in tokens:
            await assert_counted(target, token, good)


async def test_a_shared_secret_in_the_key_set_verifies_nothing(
    apps: dict[str, FastAPI], orgs: dict[str, Org]
) -> None:
    """A key set that publishes an ``oct`` key: HS256 signed with it (anyone
    can read the key set) is refused."""
    target = apps["beneficiary"]
    idp = IdentityProvider()
    secret = b"published-for-all-to-see-0123456789"
    key_set = idp.key_set()
    key_set["keys"].append(
        {"kty": "oct", "kid": "oct-1", "alg": "HS256", "k": b64(secret)}
    )
    idp.answer = httpx.Response(200, json=key_set)
    claims = jwt.decode(
        idp.issue(orgs["a"].id, Role.admin), options={"verify_signature": False}
    )
    forged = jwt.encode(claims, secret, algorithm="HS256", headers={"kid": "oct-1"})
    with idp.serving(target):
        async with from_address(target, "192.0.2.103") as http:
            assert_refused(await http.get(ROUTE, headers=bearer(forged)))


@pytest.mark.parametrize(
    "answer",
    [
        None,  # the provider cannot be reached
        httpx.Response(500, text="Internal Server Error"),
        httpx.Response(200, text="<html>maintenance</html>"),
        httpx.Response(200, json={"keys": "none today"}),
        httpx.Response(200, json=["not", "a", "key", "set"]),
        httpx.Response(200, json={"keys": [{"kty": "RSA", "kid": "rsa-1"}]}),
    ],
    ids=["down", "error", "not-json", "keys-not-a-list", "not-an-object", "bad-key"],
)
async def test_an_identity_provider_outage_is_a_503_not_counted(
    apps: dict[str, FastAPI],
    low_limit: None,
    orgs: dict[str, Org],
    monkeypatch: pytest.MonkeyPatch,
    answer: httpx.Response | None,
) -> None:
    monkeypatch.setattr("shared.auth.JWKS_RETRY_SECONDS", 0.0, raising=False)
    target = apps["beneficiary"]
    idp = IdentityProvider(down=answer is None, answer=answer)
    good = idp.issue(orgs["a"].id, Role.case_worker)
    with idp.serving(target):
        async with from_address(
            target, f"192.0.2.{110 + uuid.uuid4().int % 100}"
        ) as http:
            for _ in range(LIMIT + 1):
                r = await http.get(ROUTE, headers=bearer(good))
                assert r.status_code == 503, r.text
                assert r.headers["content-type"] == PROBLEM_MEDIA_TYPE
                assert int(r.headers["retry-after"]) > 0
            idp.down, idp.answer = False, None
            r = await http.get(ROUTE, headers=bearer(good))
            assert r.status_code == 200, r.text


async def test_known_keys_serve_through_an_outage(
    apps: dict[str, FastAPI], orgs: dict[str, Org]
) -> None:
    """Keys read before the provider went down still verify tokens."""
    target = apps["beneficiary"]
    idp = IdentityProvider()
    good = idp.issue(orgs["a"].id, Role.case_worker)
    with idp.serving(target):
        async with from_address(target, "192.0.2.104") as http:
            headers = {"Authorization": f"Bearer {good}"}
            assert (await http.get(ROUTE, headers=headers)).status_code == 200
            idp.down = True
            assert (await http.get(ROUTE, headers=headers)).status_code == 200


async def test_an_ec_key_on_another_curve_verifies_nothing(
    apps: dict[str, FastAPI], orgs: dict[str, Org]
) -> None:
    """ES384 with a P-384 key the provider publishes: not an algorithm the
    platform accepts, so the key is not used."""
    target = apps["beneficiary"]
    idp = IdentityProvider()
    p384 = ec.generate_private_key(ec.SECP384R1())
    key_set = idp.key_set()
    key_set["keys"].append(
        {**ECAlgorithm.to_jwk(p384.public_key(), as_dict=True), "kid": "p384"}
    )
    idp.answer = httpx.Response(200, json=key_set)
    claims = jwt.decode(
        idp.issue(orgs["a"].id, Role.admin), options={"verify_signature": False}
    )
    token = jwt.encode(claims, p384, algorithm="ES384", headers={"kid": "p384"})
    with idp.serving(target):
        async with from_address(target, "192.0.2.105") as http:
            assert_refused(await http.get(ROUTE, headers=bearer(token)))
