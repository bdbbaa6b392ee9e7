"""The dashboard's sign-in with an identity provider, as a browser does it:
the stack in production's token mode (``AUTH_JWKS_URL``), a stand-in OpenID
provider on this machine, headless Chromium through the authorization code
flow with PKCE. The provider checks what a real one checks: the client, the
redirect URI, the state round trip, and the verifier against the challenge."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from playwright.sync_api import sync_playwright

from tests.smoke.browser import CHROMIUM, CHROMIUM_ARGS, free_port

ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID = "mhpss-dashboard"
ORGANISATION = uuid.uuid4()


@dataclass
class Provider:
    """A stand-in OpenID provider: key set, authorization and token endpoints."""

    base: str
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    asked: dict[str, str] = field(default_factory=dict)
    """The last authorization request's parameters."""
    exchanged: dict[str, str] = field(default_factory=dict)
    """The last token request's form."""
    dashboard_origin: str = ""

    def access_token(self) -> str:
        now = datetime.now(UTC)
        return jwt.encode(
            {
                "iss": self.base,
                "aud": "mhpss",
                "sub": "layla@idp",
                "org": str(ORGANISATION),
                "roles": ["me_officer"],
                "iat": now,
                "exp": now + timedelta(minutes=30),
            },
            self.key,
            algorithm="ES256",
            headers={"kid": "idp-1"},
        )


def serve(provider: Provider, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def answer(self, status: int, body: Any, **headers: str) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/certs":
                jwk = ECAlgorithm.to_jwk(provider.key.public_key(), as_dict=True)
                self.answer(200, {"keys": [{**jwk, "kid": "idp-1", "alg": "ES256"}]})
                return
            if url.path == "/auth":  # signs in at once, as a remembered user
                asked = {k: v[0] for k, v in parse_qs(url.query).items()}
                provider.asked = asked
                back = urlencode({"code": "code-123", "state": asked["state"]})
                self.send_response(302)
                self.send_header("Location", f"{asked['redirect_uri']}?{back}")
                self.end_headers()
                return
            self.answer(404, {})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = {
                k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()
            }
            provider.exchanged = form
            cors = {"Access_Control_Allow_Origin": provider.dashboard_origin}
            verifier = form.get("code_verifier", "").encode()
            challenge = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier).digest())
                .rstrip(b"=")
                .decode()
            )
            good = (
                form.get("grant_type") == "authorization_code"
                and form.get("code") == "code-123"
                and form.get("client_id") == CLIENT_ID
                and form.get("redirect_uri") == provider.asked.get("redirect_uri")
                and challenge == provider.asked.get("code_challenge")
            )
            if not good:
                self.answer(400, {"error": "invalid_grant"}, **cors)
                return
            self.answer(
                200,
                {"access_token": provider.access_token(), "token_type": "Bearer"},
                **cors,
            )

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def provider() -> Iterator[Provider]:
    port = free_port()
    found = Provider(f"http://127.0.0.1:{port}")
    server = serve(found, port)
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def dashboard(tmp_path: Path, provider: Provider) -> Iterator[str]:
    """The stack verifying tokens with the provider's key set; its dashboard."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    provider.dashboard_origin = base
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith(("DATABASE_URL", "REDIS_URL", "JWKS_URL"))
    } | {
        "DATA_DIR": str(tmp_path / "data"),
        "AUTH_JWKS_URL": f"{provider.base}/certs",
        "AUTH_ISSUER": provider.base,
        "REPORTING_PULL_FEEDS": "false",
        "REPORTING_DASHBOARD_OIDC_AUTHORIZATION_URL": f"{provider.base}/auth",
        "REPORTING_DASHBOARD_OIDC_TOKEN_URL": f"{provider.base}/token",
        "REPORTING_DASHBOARD_OIDC_CLIENT_ID": CLIENT_ID,
        "REPORTING_DASHBOARD_OIDC_PROVIDER_NAME": "Test IdP",
    }
    log_path = tmp_path / "stack.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.stack", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.3)
            else:
                raise AssertionError(log_path.read_text()[-3000:])
            yield f"{base}/reporting/dashboard"
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_the_dashboard_signs_in_at_the_identity_provider_with_pkce(
    dashboard: str, provider: Provider, tmp_path: Path
) -> None:
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto(f"{dashboard}?lang=ckb&start=2026-01-01&end=2026-06-30")
            assert page.is_hidden("#sign-in-form"), "no local links here"
            button = page.locator("#oidc-sign-in")
            assert "Test IdP" in (button.text_content() or "")
            page.screenshot(path=tmp_path / "oidc-sign-in-ckb.png")

            button.click()
            page.wait_for_selector('#results[data-state="ready"]')

            asked = provider.asked
            assert asked["response_type"] == "code"
            assert asked["client_id"] == CLIENT_ID
            assert asked["redirect_uri"] == dashboard
            assert asked["code_challenge_method"] == "S256"
            assert len(asked["code_challenge"]) == 43
            assert asked["ui_locales"] == "ckb"
            assert provider.exchanged["code_verifier"]
            assert "code=" not in page.url, "the code leaves the address"
            assert "state=" not in page.url
            assert "lang=ckb" in page.url, "back to the page as it was"
            assert page.input_value("#start") == "2026-01-01"
            assert page.get_attribute("html", "dir") == "rtl"
            assert "layla@idp" in (page.text_content("#who") or "")
            stored = page.evaluate("sessionStorage.getItem('mhpss.dashboard.token')")
            assert jwt.decode(stored, options={"verify_signature": False})["sub"] == (
                "layla@idp"
            )
            assert (
                page.evaluate("sessionStorage.getItem('mhpss.dashboard.oidc')") is None
            )
            page.screenshot(path=tmp_path / "oidc-signed-in-ckb.png", full_page=True)

            stale = browser.new_page()  # an answer this tab never asked for
            stale.goto(f"{dashboard}?code=code-123&state=forged")
            stale.wait_for_selector("#message:not([hidden])")
            assert "state=" not in stale.url
            assert (
                stale.evaluate("sessionStorage.getItem('mhpss.dashboard.token')")
                is None
            )
        finally:
            browser.close()
    assert problems == []
