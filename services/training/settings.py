"""Training service settings (env prefix ``TRAINING_``)."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class TrainingSettings(ServiceSettings):
    service_name: ClassVar[str] = "training"
    model_config = SettingsConfigDict(
        env_prefix="TRAINING_", extra="ignore", env_ignore_empty=True
    )
