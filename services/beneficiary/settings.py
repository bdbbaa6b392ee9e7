"""Beneficiary service settings (env prefix ``BENEFICIARY_``)."""

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.app import Runtime
from shared.peers import Peer
from shared.settings import ServiceSettings


class BeneficiarySettings(ServiceSettings):
    service_name: ClassVar[str] = "beneficiary"
    model_config = SettingsConfigDict(
        env_prefix="BENEFICIARY_", extra="ignore", env_ignore_empty=True
    )

    training_url: str | None = Field(
        default="http://127.0.0.1:8000/training",
        description="Base URL of the training service: a subject access export "
        "asks it for the person's practice-group participation, and erasures "
        "are sent to its queue. Empty: no training service runs.",
    )
    training_token: str | None = Field(
        default=None,
        description="Bearer token of this service's machine account at the "
        "training service. Unset: signed with the local key (embedded default).",
    )
    anonymous_confirm_above: int = Field(
        default=300,
        ge=1,
        description="Anonymous services and group activities counting more "
        "unregistered people than this are recorded only by a supervisor or "
        "programme manager (who thereby confirms the figure).",
    )
    sync_batch_limit: int = Field(
        default=2000, description="Most records accepted in one sync batch."
    )
    sync_concurrency: int = Field(
        default=4,
        description="Sync batches applied at once per process; more wait up to "
        "sync_wait_seconds, then get 503 with Retry-After.",
    )
    sync_wait_seconds: float = Field(
        default=10.0, description="How long a sync batch may wait for a turn."
    )
    risk_webhook_url: str | None = Field(
        default=None,
        description="Where risk alerts are posted for the supervisor (e.g. a "
        "messaging bridge). Unset: alerts stay visible in the API only.",
    )
    risk_webhook_secret: str | None = Field(
        default=None,
        description="HMAC-SHA256 key that signs each alert (X-MHPSS-Signature).",
    )
    risk_webhook_max_attempts: int = Field(
        default=6, description="Tries before an alert is dead-lettered."
    )
    risk_webhook_backoff_seconds: float = Field(
        default=10.0, description="First retry delay; doubles with each try."
    )
    dp_webhook_url: str | None = Field(
        default=None,
        description="Where notices to the data protection focal point are "
        "posted (break-the-glass access, exports under sharing agreements). "
        "Unset: notices stay visible in the API only.",
    )
    dp_webhook_secret: str | None = Field(
        default=None,
        description="HMAC-SHA256 key that signs each notice (X-MHPSS-Signature).",
    )
    dp_webhook_max_attempts: int = Field(
        default=6, ge=1, description="Tries before a notice is dead-lettered."
    )
    dp_webhook_backoff_seconds: float = Field(
        default=10.0, ge=0, description="First retry delay; doubles with each try."
    )
    break_glass_max_minutes: int = Field(
        default=240, ge=1, description="Longest break-the-glass grant."
    )
    import_batch_rows: int = Field(
        default=1000,
        ge=1,
        le=1000,
        description="Rows of an import written per batch (one transaction, "
        "its progress committed with it).",
    )
    import_max_file_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1,
        description="Largest file an import takes (bytes); over HTTP the body "
        "limit (MAX_BODY_BYTES) comes first.",
    )
    import_max_rows: int = Field(
        default=250_000, ge=1, description="Most data rows one imported file may hold."
    )
    import_max_unpacked_bytes: int = Field(
        default=512 * 1024 * 1024,
        ge=1,
        description="Most an XLSX file may unpack to (bytes, read from its zip "
        "directory before anything is unpacked): a zip bomb is refused unread.",
    )
    import_kobo_servers: list[str] = Field(
        default=["https://kf.kobotoolbox.org", "https://eu.kobotoolbox.org"],
        description="KoboToolbox servers an import may pull from (JSON list): "
        "the platform reaches no other address on a caller's behalf.",
    )
    import_kobo_timeout_seconds: float = Field(
        default=30, gt=0, description="Longest wait for one page from Kobo."
    )
    import_kobo_tries: int = Field(
        default=5, ge=1, description="Tries per Kobo page before the import fails."
    )
    import_kobo_backoff_seconds: float = Field(
        default=2,
        ge=0,
        description="Wait before the second try of a Kobo page; doubled each try.",
    )

    @property
    def training(self) -> Peer | None:
        """None when no training service runs."""
        if not self.training_url:
            return None
        return Peer("training", self.training_url, self.training_token)

    def production_needs(self) -> dict[str, bool]:
        return {
            **super().production_needs(),
            "BENEFICIARY_TRAINING_TOKEN": bool(
                self.training_token or not self.training_url
            ),
        }


def settings_of(runtime: Runtime) -> BeneficiarySettings:
    """This service's own settings, typed, from the process's runtime."""
    settings = runtime.settings
    assert isinstance(settings, BeneficiarySettings)
    return settings
