"""Settings read from the environment, one class per service.

Every service reads the same fields with its own prefix (``BENEFICIARY_``,
``TRAINING_``, ``REPORTING_``); a prefixed variable wins over the platform-wide
one (``DATABASE_URL``, ``REDIS_URL``, ...), so one host can run all three on one
PostgreSQL server while a cluster gives each service its own.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

PLATFORM_FIELDS = (
    "database_url",
    "redis_url",
    "data_dir",
    "auth_jwks_url",
    "auth_issuer",
    "auth_audience",
    "pii_keys",
    "pii_active_key",
    "blind_index_key",
    "blind_index_keys",
    "blind_index_active",
    "log_level",
    "auto_migrate",
    "max_body_bytes",
    "job_timeout_seconds",
    "auth_failures_per_minute",
    "production",
    "trusted_proxies",
    "cors_origins",
)


class RefusedToStart(SystemExit):
    """A configuration a service must not run with. A SystemExit, so every
    entry point (the stack, uvicorn's app factory, the commands) stops on this
    one line, with status 1, before it has loaded or written anything."""


class ServiceSettings(BaseSettings):
    """Configuration shared by every service; subclasses set ``service_name``."""

    service_name: ClassVar[str] = "service"
    holds_pii: ClassVar[bool] = True
    """Whether the service stores PII (and so needs PII and blind-index keys)."""
    model_config = SettingsConfigDict(extra="ignore", env_ignore_empty=True)

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL. Unset: a SQLite file under data_dir. A "
        "platform-wide DATABASE_URL gets the service name appended to its "
        "database name (mhpss -> mhpss_beneficiary).",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis for the arq queue. Unset: jobs run in-process.",
    )
    data_dir: Path = Field(
        default=Path("data"),
        description="Folder for SQLite files and generated local keys.",
    )
    auth_jwks_url: str | None = Field(
        default=None,
        description="OIDC JWKS URL that signs tokens in production. Unset: a "
        "local signing key in data_dir (embedded default).",
    )
    auth_issuer: str = Field(default="mhpss-local", description="Expected iss.")
    auth_audience: str = Field(default="mhpss", description="Expected aud.")
    pii_keys: str | None = Field(
        default=None,
        description="JSON object key-id -> base64 32-byte AES key for PII. "
        "Unset: a generated key file in data_dir.",
    )
    pii_active_key: str | None = Field(
        default=None, description="Key id used to encrypt new PII values."
    )
    blind_index_key: str | None = Field(
        default=None,
        description="Base64 32-byte HMAC key for duplicate-detection indexes "
        "(one key, id 'default'); BLIND_INDEX_KEYS holds several for rotation.",
    )
    blind_index_keys: str | None = Field(
        default=None,
        description="JSON object key-id -> base64 32-byte HMAC key for blind "
        "indexes; lookups match any key, new writes use BLIND_INDEX_ACTIVE.",
    )
    blind_index_active: str | None = Field(
        default=None, description="Blind-index key id used for new indexes."
    )
    log_level: str = Field(default="INFO", description="Root log level.")
    auto_migrate: bool = Field(
        default=True,
        description="Upgrade the database to head at start-up (embedded "
        "default); production runs the migrate command instead.",
    )
    max_body_bytes: int = Field(
        default=2_000_000, description="Largest accepted request body."
    )
    auth_failures_per_minute: int = Field(
        default=20,
        ge=1,
        description="Requests with a bad bearer token or API key one client "
        "address may make in a minute; past it, every request from that "
        "address (valid credentials too) is a 429 until the minute ends.",
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated addresses or networks (CIDR) of the "
        "reverse proxies in front of the API, whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed: the client address (for the "
        "bad-credential limit) is then the nearest one in "
        "X-Forwarded-For that is not a proxy. Empty: no proxy is trusted and "
        "the address is the TCP peer.",
    )
    job_timeout_seconds: float | None = Field(
        default=None,
        gt=0,
        description="Longest any job may run on this service's worker. arq "
        "keeps a job whose worker died blocked for the longest job timeout of "
        "the worker plus 10 s before another worker runs it again. Unset: each "
        "job's own timeout (the longest is 30 minutes, for reporting's exports).",
    )
    publish_to_reporting: bool = Field(
        default=True,
        description="After sequencing the outbox, also send the new events to "
        "the reporting queue (the fast path). Off: reporting still pulls the "
        "change feed.",
    )

    production: bool = Field(
        default=False,
        description="Refuse to start with what only the embedded default may "
        "use: a local signing key, PII or blind-index keys generated in "
        "data_dir, machine tokens signed with the local key.",
    )

    def __init__(self, **values: Any) -> None:
        for name in PLATFORM_FIELDS:
            prefixed = f"{self.service_name.upper()}_{name.upper()}"
            if name in values or os.environ.get(prefixed):
                continue
            if name == "database_url" and os.environ.get("DATABASE_URL"):
                values[name] = per_service_database(
                    os.environ["DATABASE_URL"], self.service_name
                )
            elif os.environ.get(name.upper()):
                values[name] = os.environ[name.upper()]
        super().__init__(**values)
        if self.production:
            self.refuse_embedded_keys()

    def production_needs(self) -> dict[str, bool]:
        """The settings production mode requires, each with whether it is set."""
        needs = {"AUTH_JWKS_URL": bool(self.auth_jwks_url)}
        if self.holds_pii:
            needs["PII_KEYS"] = bool(self.pii_keys)
            needs["BLIND_INDEX_KEY or BLIND_INDEX_KEYS"] = bool(
                self.blind_index_key or self.blind_index_keys
            )
        return needs

    def refuse_embedded_keys(self) -> None:
        """Stop, naming every setting production mode needs and lacks."""
        missing = [name for name, given in self.production_needs().items() if not given]
        if missing:
            raise RefusedToStart(
                f"error: {self.service_name} refuses to start: PRODUCTION is "
                f"true but {', '.join(missing)} {'is' if len(missing) == 1 else 'are'}"
                " unset (production never uses keys generated in DATA_DIR or "
                "tokens signed with them)"
            )

    cors_origins: str = Field(
        default="",
        description="Comma-separated origins (``https://app.example.org``) of "
        "web apps served elsewhere that may call the API from a browser. "
        "Empty: no cross-origin call is allowed (the default).",
    )

    @field_validator("cors_origins")
    @classmethod
    def _origins_parse(cls, value: str) -> str:
        """An origin is a scheme and host, no path; ``*`` is refused: every
        route is authenticated, and any web page should not drive a user's
        session."""
        for origin in comma_list(value):
            scheme, _, rest = origin.partition("://")
            if scheme not in ("http", "https") or not rest or "/" in rest:
                raise ValueError(
                    f"CORS_ORIGINS: {origin!r} is not an origin like "
                    "https://app.example.org"
                )
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_parse(cls, value: str) -> str:
        """Fail at start-up on anything but addresses and networks (``*``,
        trusting every peer, would let any client choose its address)."""
        for entry in comma_list(value):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"TRUSTED_PROXIES: {entry!r} is not an IP address or network"
                ) from None
        return value

    @property
    def resolved_database_url(self) -> str:
        """The URL to connect to, defaulting to a SQLite file in data_dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / self.service_name}.db"


def comma_list(value: str) -> list[str]:
    return [entry.strip() for entry in value.split(",") if entry.strip()]


def per_service_database(url: str, service_name: str) -> str:
    """Give each service its own database on a shared server."""
    parsed = make_url(url)
    database = parsed.database or "mhpss"
    if parsed.get_backend_name() == "sqlite":
        stem, dot, suffix = database.rpartition(".")
        database = (
            f"{stem}_{service_name}.{suffix}" if dot else f"{database}_{service_name}"
        )
    else:
        database = f"{database}_{service_name}"
    return parsed.set(database=database).render_as_string(hide_password=False)
