"""Reporting service settings (env prefix ``REPORTING_``)."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class ReportingSettings(ServiceSettings):
    service_name: ClassVar[str] = "reporting"
    model_config = SettingsConfigDict(
        env_prefix="REPORTING_", extra="ignore", env_ignore_empty=True
    )
