"""Bad credentials are rate limited per client address on every service:
after ``auth_failures_per_minute`` forged, tampered, wrong-audience,
alg=none tokens or unknown API keys, that address gets 429 problem+json with
Retry-After for the rest of the minute, valid credentials included, while
other addresses go on. Expired tokens with a good signature (devices back
from the field) are refused but not counted. Another service's machine
account is not refused for its address's count. The address is the TCP peer,
or behind a proxy of TRUSTED_PROXIES the client's in X-Forwarded-For.
API-key management is rate limited per organisation.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI

import shared.auth
from services.beneficiary.app import create_app
from services.beneficiary.settings import BeneficiarySettings
from services.reporting.access.router import KEY_MANAGEMENT_PER_MINUTE
from shared.auth import LocalSigningKey, Role
from shared.queue import InlineQueue
from tests.attacks.limits import LIMIT, assert_too_many, from_address
from tests.callers import Org
from tests.lifespan import running

ROUTES = {
    "beneficiary": "/v1/beneficiaries",
    "training": "/v1/courses",
    "reporting": "/v1/indicators",
}


@pytest.fixture(autouse=True)
def one_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    """The limits count per clock minute: each test counts in the minute
    it started in, so a minute that turns halfway does not reset its
    counts (Retry-After still counts down the clock's minute)."""
    window = shared.auth.current_window()
    monkeypatch.setattr(shared.auth, "current_window", lambda: window)


def expired_token(signing_key: LocalSigningKey, good: str, settings: Any) -> str:
    claims = jwt.decode(good, options={"verify_signature": False})
    return signing_key.issue(
        subject="x",
        organisation_id=uuid.UUID(claims["org"]),
        roles=[Role.programme_manager],
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        ttl=timedelta(seconds=-10),
    )


def bad_tokens(signing_key: LocalSigningKey, good: str) -> list[str]:
    """Forged (another key), tampered, wrong-audience and alg=none."""
    claims = jwt.decode(good, options={"verify_signature": False})
    forged = jwt.encode(
        claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256"
    )
    wrong_audience = jwt.encode(
        {**claims, "aud": "someone-else"}, signing_key.private_key, algorithm="ES256"
    )
    header, payload, signature = good.split(".")
    tampered = f"{header}.{payload[:-4]}AAAA.{signature}"
    unsigned = jwt.encode({**claims, "roles": ["admin"]}, key="", algorithm="none")
    return [forged, tampered, wrong_audience, unsigned]


@pytest.mark.parametrize("service", ["beneficiary", "training", "reporting"])
async def test_bad_tokens_block_the_address_for_the_minute(
    service: str,
    apps: dict[str, FastAPI],
    low_limit: None,
    issue: Any,
    orgs: dict[str, Org],
    signing_key: LocalSigningKey,
) -> None:
    target = apps[service]
    good = issue(orgs["a"], Role.programme_manager, Role.trainer).token
    tokens = bad_tokens(signing_key, good)
    attacker = f"203.0.113.{uuid.uuid4().int % 250 + 1}"
    async with from_address(target, attacker) as http:
        for token in tokens:
            r = await http.get(
                ROUTES[service], headers={"Authorization": f"Bearer {token}"}
            )
            assert r.status_code == 401, r.text
        r = await http.get(
            ROUTES[service], headers={"Authorization": f"Bearer {tokens[0]}"}
        )
        assert_too_many(r)
        r = await http.get(ROUTES[service], headers={"Authorization": f"Bearer {good}"})
        assert_too_many(r)  # a right guess says nothing until the minute ends
    async with from_address(target, "198.51.100.9") as http:
        r = await http.get(ROUTES[service], headers={"Authorization": f"Bearer {good}"})
        assert r.status_code == 200, r.text


async def test_expired_tokens_are_refused_but_not_counted(
    apps: dict[str, FastAPI],
    low_limit: None,
    issue: Any,
    orgs: dict[str, Org],
    signing_key: LocalSigningKey,
) -> None:
    target = apps["beneficiary"]
    good = issue(orgs["a"], Role.programme_manager).token
    expired = expired_token(signing_key, good, target.state.settings)
    async with from_address(target, "192.0.2.45") as http:
        for _ in range(LIMIT + 2):
            r = await http.get(
                ROUTES["beneficiary"], headers={"Authorization": f"Bearer {expired}"}
            )
            assert r.status_code == 401, r.text
            assert r.json()["detail"] == "The bearer token has expired."
        r = await http.get(
            ROUTES["beneficiary"], headers={"Authorization": f"Bearer {good}"}
        )
        assert r.status_code == 200, r.text


async def test_missing_credentials_are_not_counted(
    apps: dict[str, FastAPI], low_limit: None
) -> None:
    async with from_address(apps["beneficiary"], "192.0.2.44") as http:
        for _ in range(LIMIT + 2):
            r = await http.get(ROUTES["beneficiary"])
            assert r.status_code == 401, r.text


async def test_unknown_api_keys_block_the_address_for_the_minute(
    apps: dict[str, FastAPI], low_limit: None, issue: Any, orgs: dict[str, Org]
) -> None:
    reporting = apps["reporting"]
    manager = issue(orgs["a"], Role.programme_manager)
    async with from_address(reporting, "192.0.2.10") as http:
        issued = await http.post(
            "/v1/api-keys", json={"name": "HMIS"}, headers=manager.headers()
        )
        assert issued.status_code == 201, issued.text
    secret = issued.json()["key"]
    async with from_address(reporting, "192.0.2.66") as http:
        for _ in range(LIMIT):
            r = await http.get(
                "/v1/indicators", headers={"X-API-Key": f"mhpss_{uuid.uuid4().hex}"}
            )
            assert r.status_code == 401, r.text
        assert_too_many(
            await http.get("/v1/indicators", headers={"X-API-Key": "mhpss_guess"})
        )
        assert_too_many(await http.get("/v1/indicators", headers={"X-API-Key": secret}))
    async with from_address(reporting, "192.0.2.67") as http:
        r = await http.get("/v1/indicators", headers={"X-API-Key": secret})
        assert r.status_code == 200, r.text


async def test_api_key_management_is_rate_limited(
    apps: dict[str, FastAPI], issue: Any
) -> None:
    manager = issue(Org(str(uuid.uuid4()), "Busy"), Role.programme_manager)
    async with from_address(apps["reporting"], "192.0.2.20") as http:
        for _ in range(KEY_MANAGEMENT_PER_MINUTE):
            r = await http.get("/v1/api-keys", headers=manager.headers())
            assert r.status_code == 200, r.text
        assert_too_many(
            await http.post(
                "/v1/api-keys", json={"name": "one more"}, headers=manager.headers()
            )
        )


async def test_without_redis_the_process_counts(
    beneficiary_settings: BeneficiarySettings, issue: Any, orgs: dict[str, Org]
) -> None:
    """The embedded default: no Redis, the same limit held in the process."""
    local = beneficiary_settings.model_copy(
        update={"redis_url": None, "auth_failures_per_minute": LIMIT}
    )
    target = create_app(local)
    good = issue(orgs["a"], Role.case_worker).token
    async with running(target), from_address(target, "192.0.2.80") as http:
        assert isinstance(target.state.queue, InlineQueue)
        for _ in range(LIMIT):
            r = await http.get(
                ROUTES["beneficiary"], headers={"Authorization": "Bearer x.y.z"}
            )
            assert r.status_code == 401, r.text
        assert_too_many(
            await http.get(
                ROUTES["beneficiary"], headers={"Authorization": f"Bearer {good}"}
            )
        )


@pytest.mark.parametrize("service", ["beneficiary", "training"])
async def test_machine_accounts_are_not_limited_as_clients(
    service: str,
    apps: dict[str, FastAPI],
    low_limit: None,
    issue: Any,
    orgs: dict[str, Org],
    signing_key: LocalSigningKey,
) -> None:
    """An address blocked for bad tokens (one host, one NAT, the embedded
    stack's 127.0.0.1) still serves another service's machine account: the
    reporting worker's feed pulls go on; a person's token there waits."""
    target = apps[service]
    person = issue(orgs["a"], Role.programme_manager).token
    machine = issue(Org(str(uuid.UUID(int=0)), "none"), Role.service).token
    async with from_address(target, "127.0.0.1") as http:
        for token in bad_tokens(signing_key, person)[:LIMIT]:
            r = await http.get(
                "/v1/events", headers={"Authorization": f"Bearer {token}"}
            )
            assert r.status_code == 401, r.text
        r = await http.get("/v1/events", headers={"Authorization": f"Bearer {machine}"})
        assert r.status_code == 200, r.text
        assert_too_many(
            await http.get("/v1/events", headers={"Authorization": f"Bearer {person}"})
        )


async def test_forwarded_for_is_believed_from_trusted_proxies_only(
    beneficiary_settings: BeneficiarySettings,
    issue: Any,
    orgs: dict[str, Org],
    signing_key: LocalSigningKey,
) -> None:
    """Behind a proxy of TRUSTED_PROXIES each client is counted by its own
    address (the nearest untrusted one in X-Forwarded-For, so a client's own
    X-Forwarded-For entries change nothing); from anyone else the header is
    ignored, so a client cannot pick a fresh address for each guess."""
    proxied = beneficiary_settings.model_copy(
        update={"trusted_proxies": "10.9.0.0/16", "auth_failures_per_minute": LIMIT}
    )
    target = create_app(proxied)
    good = issue(orgs["a"], Role.case_worker).token
    forged = bad_tokens(signing_key, good)[0]

    def via(forwarded_for: str, token: str) -> dict[str, str]:
        return {"X-Forwarded-For": forwarded_for, "Authorization": f"Bearer {token}"}

    async with running(target):
        async with from_address(target, "10.9.0.1") as proxy:
            for _ in range(LIMIT):
                r = await proxy.get(
                    ROUTES["beneficiary"], headers=via("198.51.100.7", forged)
                )
                assert r.status_code == 401, r.text
            other = await proxy.get(
                ROUTES["beneficiary"], headers=via("198.51.100.8", good)
            )
            assert other.status_code == 200, other.text
            assert_too_many(
                await proxy.get(
                    ROUTES["beneficiary"],
                    headers=via("203.0.113.50, 198.51.100.7", good),
                )
            )
        async with from_address(target, "192.0.2.91") as direct:
            for n in range(LIMIT):
                r = await direct.get(
                    ROUTES["beneficiary"], headers=via(f"203.0.113.{n + 1}", forged)
                )
                assert r.status_code == 401, r.text
            assert_too_many(
                await direct.get(
                    ROUTES["beneficiary"], headers=via("203.0.113.99", good)
                )
            )
