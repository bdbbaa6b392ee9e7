"""Reporting service settings (env prefix ``REPORTING_``)."""

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from shared.peers import Peer
from shared.settings import ServiceSettings

if TYPE_CHECKING:
    from services.reporting.engine.store import Snapshots


class ReportingSettings(ServiceSettings):
    service_name: ClassVar[str] = "reporting"
    holds_pii: ClassVar[bool] = False
    model_config = SettingsConfigDict(
        env_prefix="REPORTING_", extra="ignore", env_ignore_empty=True
    )

    beneficiary_url: str | None = Field(
        default="http://127.0.0.1:8000/beneficiary",
        description="Base URL of the beneficiary service, whose change feed "
        "(and locations, organisations) reporting pulls.",
    )
    training_url: str | None = Field(
        default="http://127.0.0.1:8000/training",
        description="Base URL of the training service, whose change feed "
        "reporting pulls.",
    )
    feed_token: str | None = Field(
        default=None,
        description="Bearer token of reporting's machine account (role "
        "`service`) at the producers. Unset: signed with the local key "
        "(embedded default).",
    )
    pull_feeds: bool = Field(
        default=True,
        description="Pull the producers' change feeds (the repair path). Off "
        "only to test the queue's fast path alone.",
    )
    suppression_threshold: int = Field(
        default=5,
        ge=1,
        description="Cells below this count are suppressed for callers "
        "without record-level access (with complementary suppression).",
    )
    age_bands: str = Field(
        default="0-17,18+",
        description="Default age groups of `age_group` when a query names "
        "none (`age_bands=`): bands like `0-5,6-11,12-17,18-59,60+` or a "
        "preset (`children_adults`, `hpc`, `unhcr_agd`). Ages are on the "
        "service date (docs/reporting.md, Ages).",
    )

    @field_validator("age_bands")
    @classmethod
    def _bands_parse(cls, value: str) -> str:
        from services.reporting.engine.ages import AgeBands

        AgeBands.parse(value)  # fail at start-up, not on every request
        return value

    snapshot_dir: Path | None = Field(
        default=None,
        description="Directory of the fact store's snapshot (docs/"
        "decisions/0014): API processes write their columns there after "
        "loading and map them at start instead of reading every fact from "
        "the database, sharing one copy per machine. On local disk, one "
        "per database. Unset: off (every process loads from the database).",
    )
    snapshot_every_seconds: float = Field(
        default=300.0,
        ge=1.0,
        description="Least time between two snapshots written by one process "
        "(an erasure makes the next refresh write one at once).",
    )
    snapshot_check_seconds: float = Field(
        default=60.0,
        gt=0.0,
        description="How often an API process checks, reads or no reads, "
        "that no snapshot on disk predates the last erasure: it writes a new "
        "one if its store is loaded and removes the old one either way (off "
        "when snapshots are). Also the least time before a failed write after "
        "an erasure is tried again.",
    )
    export_dir_name: str = Field(
        default="exports", description="Folder under the data dir for exports."
    )
    dashboard_oidc_authorization_url: str | None = Field(
        default=None,
        description="The identity provider's authorization endpoint: the "
        "dashboard signs people in there (authorization code with PKCE). "
        "Unset: the embedded default's one-time sign-in links.",
    )
    dashboard_oidc_token_url: str | None = Field(
        default=None,
        description="The identity provider's token endpoint, which the "
        "dashboard's page calls from the browser (allow the dashboard's "
        "origin there).",
    )
    dashboard_oidc_client_id: str | None = Field(
        default=None,
        description="The dashboard's client id at the identity provider: a "
        "public client (no secret), redirect URI the dashboard's address.",
    )
    dashboard_oidc_scope: str = Field(
        default="openid", description="Scopes the dashboard asks for."
    )
    dashboard_oidc_provider_name: str = Field(
        default="",
        max_length=80,
        description="How the sign-in button names the identity provider "
        "(e.g. 'IOM sign-in'); empty: a generic word.",
    )

    @field_validator("dashboard_oidc_authorization_url", "dashboard_oidc_token_url")
    @classmethod
    def _oidc_url(cls, value: str | None) -> str | None:
        """HTTPS, or HTTP to this machine (a provider under test)."""
        if value is None:
            return value
        scheme, _, rest = value.partition("://")
        host = rest.split("/")[0].split(":")[0]
        local = host in ("localhost", "127.0.0.1", "[")
        if not rest or not (scheme == "https" or (scheme == "http" and local)):
            raise ValueError(f"{value!r} must be an https:// URL")
        return value

    @property
    def dashboard_oidc(self) -> dict[str, str] | None:
        """What the dashboard's page needs for OIDC sign-in, or None when it
        is not configured (all three of endpoint, token URL and client)."""
        authorize = self.dashboard_oidc_authorization_url
        token = self.dashboard_oidc_token_url
        client = self.dashboard_oidc_client_id
        if not (authorize and token and client):
            return None
        return {
            "authorization_endpoint": authorize,
            "token_endpoint": token,
            "client_id": client,
            "scope": self.dashboard_oidc_scope,
            "name": self.dashboard_oidc_provider_name,
        }

    @property
    def snapshots(self) -> "Snapshots | None":
        """Where the fact store's snapshots go, or None when off."""
        from services.reporting.engine.store import Snapshots

        if self.snapshot_dir is None:
            return None
        return Snapshots(
            self.snapshot_dir,
            self.snapshot_every_seconds,
            self.snapshot_check_seconds,
        )

    @property
    def producers(self) -> list[Peer]:
        """The services whose change feeds reporting pulls (the repair path)."""
        if not self.pull_feeds:
            return []
        named = {"beneficiary": self.beneficiary_url, "training": self.training_url}
        return [Peer(name, url, self.feed_token) for name, url in named.items() if url]

    def production_needs(self) -> dict[str, bool]:
        return {
            **super().production_needs(),
            "REPORTING_FEED_TOKEN": bool(self.feed_token or not self.pull_feeds),
        }
