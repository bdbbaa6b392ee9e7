"""Training service settings (env prefix ``TRAINING_``)."""

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.peers import Peer
from shared.settings import ServiceSettings


class TrainingSettings(ServiceSettings):
    service_name: ClassVar[str] = "training"
    model_config = SettingsConfigDict(
        env_prefix="TRAINING_", extra="ignore", env_ignore_empty=True
    )

    beneficiary_url: str = Field(
        default="http://127.0.0.1:8000/beneficiary",
        description="Base URL of the beneficiary service (practice-group clients "
        "are checked there by pseudonymous id; the organisations and projects "
        "a trainee, cohort or mentoring plan names, by id).",
    )
    beneficiary_token: str | None = Field(
        default=None,
        description="Bearer token of this service's machine account at the "
        "beneficiary service. Unset: signed with the local key (embedded default).",
    )

    @property
    def beneficiary(self) -> Peer:
        return Peer("beneficiary", self.beneficiary_url, self.beneficiary_token)

    def production_needs(self) -> dict[str, bool]:
        return {
            **super().production_needs(),
            "TRAINING_BENEFICIARY_TOKEN": bool(self.beneficiary_token),
        }
