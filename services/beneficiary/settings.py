"""Beneficiary service settings (env prefix ``BENEFICIARY_``)."""

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class BeneficiarySettings(ServiceSettings):
    service_name: ClassVar[str] = "beneficiary"
    model_config = SettingsConfigDict(
        env_prefix="BENEFICIARY_", extra="ignore", env_ignore_empty=True
    )

    sync_batch_limit: int = Field(
        default=2000, description="Most records accepted in one sync batch."
    )
