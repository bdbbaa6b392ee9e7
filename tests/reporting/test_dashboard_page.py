"""The dashboard page never takes a bearer token from its address, where it
would stay in proxy logs, the browser's history and Referer headers: the
person signs in (a one-time link on the embedded default, the identity
provider otherwise) or pastes a token into the page (the script keeps it in
sessionStorage and sends it as Authorization). tests/smoke/test_dashboard.py
drives the page."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI

from services.reporting.settings import ReportingSettings
from shared.auth import LocalSigningKey, Role
from shared.errors import PROBLEM_MEDIA_TYPE
from shared.signin import issue_sign_in_code
from tests.callers import Org


@pytest.mark.parametrize("parameter", ["token", "access_token"])
async def test_a_token_in_the_address_is_refused(
    reporting_client: httpx.AsyncClient, parameter: str
) -> None:
    secret = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    r = await reporting_client.get(
        "/dashboard", params={parameter: secret, "start": "2026-01-01"}
    )
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert secret not in r.text
    assert r.headers["cache-control"] == "no-store"


async def test_the_page_takes_the_token_from_the_person_only(
    reporting_client: httpx.AsyncClient,
) -> None:
    r = await reporting_client.get("/dashboard", params={"start": "2026-01-01"})
    assert r.status_code == 200, r.text
    assert r.headers["referrer-policy"] == "no-referrer"
    page = r.text
    assert "params.get('token')" not in page
    assert 'id="token" form="controls" type="password"' in page
    assert 'name="token"' not in page  # a form submitted without script sends none


def sign_in_code(
    key: LocalSigningKey, settings: ReportingSettings, org: Org, **more: Any
) -> str:
    return issue_sign_in_code(
        key,
        settings,
        subject="amal",
        organisation_id=uuid.UUID(org.id),
        roles=[Role.me_officer],
        **more,
    )


async def test_a_one_time_link_signs_in_once(
    orgs: dict[str, Org],
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
) -> None:
    settings = reporting_app.state.settings
    key = LocalSigningKey.load_or_create(settings.data_dir)
    code = sign_in_code(key, settings, orgs["a"], hours=2)

    r = await reporting_client.post("/dashboard/sign-in", json={"code": code})

    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert (body["subject"], body["token_type"], body["expires_in"]) == (
        "amal",
        "Bearer",
        7200,
    )
    overview = await reporting_client.get(
        "/v1/overview",
        params={"start": "2026-01-01", "end": "2026-01-31"},
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )
    assert overview.status_code == 200, overview.text
    again = await reporting_client.post("/dashboard/sign-in", json={"code": code})
    assert again.status_code == 401, again.text
    assert again.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert "used already" in again.json()["detail"]


async def test_a_sign_in_code_is_no_token_and_a_token_no_sign_in_code(
    orgs: dict[str, Org],
    issue: Any,
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
) -> None:
    settings = reporting_app.state.settings
    key = LocalSigningKey.load_or_create(settings.data_dir)
    code = sign_in_code(key, settings, orgs["a"])

    as_token = await reporting_client.get(
        "/v1/overview",
        params={"start": "2026-01-01", "end": "2026-01-31"},
        headers={"Authorization": f"Bearer {code}"},
    )
    token = issue(orgs["a"], Role.me_officer).token
    as_code = await reporting_client.post("/dashboard/sign-in", json={"code": token})
    stranger = issue_sign_in_code(
        LocalSigningKey(ec.generate_private_key(ec.SECP256R1()), "other"),
        settings,
        subject="mallory",
        organisation_id=uuid.UUID(orgs["a"].id),
        roles=[Role.admin],
    )
    forged = await reporting_client.post("/dashboard/sign-in", json={"code": stranger})

    assert as_token.status_code == 401
    assert as_code.status_code == 401
    assert forged.status_code == 401
    assert "not valid or has expired" in forged.json()["detail"]


async def test_the_page_offers_the_local_sign_in_on_the_embedded_default(
    reporting_client: httpx.AsyncClient,
) -> None:
    r = await reporting_client.get("/dashboard", params={"lang": "ar"})

    assert r.status_code == 200
    assert 'data-mode="local"' in r.text
    assert "--sign-in <span" in r.text
    assert "تسجيل الدخول" in r.text
    assert 'id="oidc-sign-in"' not in r.text
    assert "connect-src" not in r.headers["content-security-policy"]


async def test_with_an_identity_provider_the_page_signs_in_there(
    reporting_app: FastAPI, reporting_client: httpx.AsyncClient
) -> None:
    settings = reporting_app.state.settings
    reporting_app.state.settings = settings.model_copy(
        update={
            "auth_jwks_url": "https://idp.example.org/realms/mhpss/certs",
            "dashboard_oidc_authorization_url": "https://idp.example.org/auth",
            "dashboard_oidc_token_url": "https://idp.example.org/token",
            "dashboard_oidc_client_id": "mhpss-dashboard",
            "dashboard_oidc_provider_name": "IOM sign-in",
        }
    )
    try:
        r = await reporting_client.get("/dashboard")
        local = await reporting_client.post(
            "/dashboard/sign-in", json={"code": "anything"}
        )
    finally:
        reporting_app.state.settings = settings

    assert 'data-mode="oidc"' in r.text
    assert "Sign in with IOM sign-in" in r.text
    assert '"client_id": "mhpss-dashboard"' in r.text
    assert "--sign-in <span" not in r.text
    policy = r.headers["content-security-policy"]
    assert policy.endswith("; connect-src 'self' https://idp.example.org")
    assert local.status_code == 404, local.text


async def test_with_tokens_from_a_provider_but_no_client_a_token_is_pasted(
    reporting_app: FastAPI, reporting_client: httpx.AsyncClient
) -> None:
    settings = reporting_app.state.settings
    reporting_app.state.settings = settings.model_copy(
        update={"auth_jwks_url": "https://idp.example.org/realms/mhpss/certs"}
    )
    try:
        r = await reporting_client.get("/dashboard")
    finally:
        reporting_app.state.settings = settings

    assert 'data-mode="token"' in r.text
    assert "--sign-in <span" not in r.text, "no local links to offer there"
    assert '<details id="token-details" open>' in r.text


@pytest.mark.parametrize(
    "url", ["http://idp.example.org/auth", "ftp://idp/auth", "idp.example.org"]
)
def test_an_identity_provider_is_reached_over_https(url: str) -> None:
    with pytest.raises(ValueError, match="https"):
        ReportingSettings(dashboard_oidc_authorization_url=url)


@pytest.mark.parametrize(
    ("params", "accept", "lang", "chosen"),
    [
        ({"lang": "ckb"}, "ar", "ckb", "chosen"),
        ({}, "ar-IQ, en;q=0.5", "ar", "chosen"),
        ({}, None, "en", "default"),
        ({"lang": "fr"}, "fr-FR, de;q=0.5", "en", "default"),
    ],
)
async def test_the_page_says_whether_its_language_was_chosen(
    reporting_client: httpx.AsyncClient,
    params: dict[str, str],
    accept: str | None,
    lang: str,
    chosen: str,
) -> None:
    """Before sign-in the organisation is not known: a page whose request
    named no language we have is marked so, and its script follows the
    organisation's default once signed in (tests/smoke/test_dashboard.py)."""
    headers = {"Accept-Language": accept} if accept else {}
    r = await reporting_client.get("/dashboard", params=params, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-language"] == lang
    assert f'<html lang="{lang}" ' in r.text
    assert f'data-language="{chosen}">' in r.text
    assert 'data-details="materials"' in r.text
    assert 'data-details="feedback"' in r.text
