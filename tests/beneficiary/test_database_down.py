"""With PostgreSQL unreachable the API says so: 503 problem+json with
Retry-After, never a 500, and readiness fails."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from services.beneficiary.app import create_app
from services.beneficiary.settings import BeneficiarySettings
from shared.auth import LocalSigningKey, Role
from tests.lifespan import running


async def test_unreachable_database_is_a_503(tmp_path: Path) -> None:
    settings = BeneficiarySettings(
        database_url="postgresql+asyncpg://postgres@127.0.0.1:1/nowhere",
        redis_url=None,
        data_dir=tmp_path,
        auto_migrate=False,
    )
    app = create_app(settings)
    async with running(app):
        token = LocalSigningKey.load_or_create(tmp_path).issue(
            subject="u",
            organisation_id=uuid.uuid4(),
            roles=[Role.case_worker],
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            assert (await c.get("/healthz")).status_code == 200
            assert (await c.get("/readyz")).status_code == 503
            r = await c.get(
                "/v1/beneficiaries", headers={"Authorization": f"Bearer {token}"}
            )
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["retry-after"]
