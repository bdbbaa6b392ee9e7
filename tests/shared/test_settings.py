from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.beneficiary.settings import BeneficiarySettings
from services.reporting.settings import ReportingSettings
from services.training.settings import TrainingSettings
from shared.crypto import keyring_from
from shared.settings import RefusedToStart, ServiceSettings, per_service_database


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


PRODUCTION_READY = {
    "AUTH_JWKS_URL": "https://idp.example/jwks",
    "PII_KEYS": '{"k1": "' + "A" * 43 + '="}',
    "BLIND_INDEX_KEY": "B" * 43 + "=",
    "BENEFICIARY_TRAINING_TOKEN": "a-token",
    "TRAINING_BENEFICIARY_TOKEN": "a-token",
    "REPORTING_FEED_TOKEN": "a-token",
}
SERVICES: list[type[ServiceSettings]] = [
    BeneficiarySettings,
    TrainingSettings,
    ReportingSettings,
]


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """PRODUCTION=true with every setting it needs; tests remove one."""
    for name in os.environ:
        if name.endswith(("JWKS_URL", "PII_KEYS", "BLIND_INDEX_KEY", "_TOKEN")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PRODUCTION", "true")
    for name, value in PRODUCTION_READY.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


@pytest.mark.parametrize("service", SERVICES)
def test_production_starts_with_every_key_given(
    production: pytest.MonkeyPatch, service: type[ServiceSettings]
) -> None:
    assert service().production is True


@pytest.mark.parametrize(
    ("service", "unset"),
    [
        (service, name)
        for service in SERVICES
        for name in ("AUTH_JWKS_URL", "PII_KEYS", "BLIND_INDEX_KEY")
        if service.holds_pii or name == "AUTH_JWKS_URL"
    ]
    + [
        (BeneficiarySettings, "BENEFICIARY_TRAINING_TOKEN"),
        (TrainingSettings, "TRAINING_BENEFICIARY_TOKEN"),
        (ReportingSettings, "REPORTING_FEED_TOKEN"),
    ],
)
def test_production_refuses_what_only_the_embedded_default_uses(
    production: pytest.MonkeyPatch, service: type[ServiceSettings], unset: str
) -> None:
    """A local signing key, generated PII or blind-index keys, machine tokens
    signed with the local key: one line names the missing setting."""
    production.delenv(unset)
    with pytest.raises(RefusedToStart) as refused:
        service()
    message = str(refused.value)
    assert unset in message
    assert "\n" not in message
    assert refused.value.code == message  # printed as is, exit status 1


def test_reporting_holds_no_pii_so_needs_no_pii_keys(
    production: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """It is not refused for lacking them, and writes no key file."""
    for name in ("PII_KEYS", "BLIND_INDEX_KEY"):
        production.delenv(name)
    settings = ReportingSettings(data_dir=tmp_path / "data")
    keyring_from(settings)
    assert not (tmp_path / "data").exists()


@pytest.mark.processes
def test_a_service_command_refuses_on_one_line_before_writing(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith(("_URL", "PII_KEYS", "BLIND_INDEX_KEY", "_TOKEN"))
    }
    data_dir = tmp_path / "data"
    env.update(PRODUCTION="true", DATA_DIR=str(data_dir))
    result = subprocess.run(
        [sys.executable, "-m", "services.beneficiary", "migrate"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: beneficiary refuses to start: PRODUCTION is true but "
        "AUTH_JWKS_URL, PII_KEYS, BLIND_INDEX_KEY or BLIND_INDEX_KEYS, "
        "BENEFICIARY_TRAINING_TOKEN are unset (production never uses keys "
        "generated in DATA_DIR or tokens signed with them)"
    ]
    assert not data_dir.exists()


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
