from __future__ import annotations

import pytest

from services.beneficiary.settings import BeneficiarySettings
from shared.settings import per_service_database


def test_a_shared_server_gets_one_database_per_service() -> None:
    url = "postgresql+asyncpg://app:secret@db:5432/mhpss"
    assert per_service_database(url, "beneficiary") == (
        "postgresql+asyncpg://app:secret@db:5432/mhpss_beneficiary"
    )
    assert per_service_database("sqlite+aiosqlite:///data/mhpss.db", "training") == (
        "sqlite+aiosqlite:///data/mhpss_training.db"
    )


def test_prefixed_variables_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://h/mhpss")
    monkeypatch.setenv("REDIS_URL", "redis://shared:6379/0")
    monkeypatch.setenv("BENEFICIARY_REDIS_URL", "redis://own:6379/0")
    settings = BeneficiarySettings()
    assert settings.resolved_database_url == "postgresql+asyncpg://h/mhpss_beneficiary"
    assert settings.redis_url == "redis://own:6379/0"


def test_embedded_default_is_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "BENEFICIARY_DATABASE_URL", "DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    assert BeneficiarySettings().resolved_database_url == (
        "sqlite+aiosqlite:///data/beneficiary.db"
    )


def test_the_fast_path_to_reporting_is_on_unless_turned_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("BENEFICIARY_PUBLISH_TO_REPORTING", raising=False)
    assert BeneficiarySettings().publish_to_reporting is True
    monkeypatch.setenv("BENEFICIARY_PUBLISH_TO_REPORTING", "false")
    assert BeneficiarySettings().publish_to_reporting is False


def test_trusted_proxies_are_addresses_and_networks_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No proxy is trusted unless named; ``*`` (any peer may say who the
    client is) and names are refused at start-up."""
    monkeypatch.delenv("TRUSTED_PROXIES", raising=False)
    assert BeneficiarySettings().trusted_proxies == ""
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8, 172.31.250.2,fd00::/8")
    assert BeneficiarySettings().trusted_proxies.startswith("10.0.0.0/8")
    for bad in ("*", "ingress", "10.0.0.0/33"):
        monkeypatch.setenv("TRUSTED_PROXIES", bad)
        with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
            BeneficiarySettings()
