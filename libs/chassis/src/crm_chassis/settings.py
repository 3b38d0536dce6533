"""Settings shared by every service: each service subclasses `ServiceSettings` with its own prefix."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm_chassis.dates import DEFAULT_OCCURRENCE_SKEW_SECONDS, DEFAULT_TIMEZONE

DEV_INTERNAL_SECRET = "dev-internal-secret-change-me-0123456789"


def dev_secret_refusal(variable: str) -> str:
    return (
        f"{variable} is not set, and its built-in value is public: anyone could sign with it. Set it to"
        " a secret of your own (`make run` generates one into the data folder), or set"
        " CRM_ENVIRONMENT=development or test to accept the built-in value on a machine of your own."
    )


class ServiceSettings(BaseSettings):
    """Base settings. Subclasses set `model_config = SettingsConfigDict(env_prefix="CRM_<NAME>_")`.

    The built-in secrets (`DEV_INTERNAL_SECRET`, the gateway's `DEV_JWT_SECRET`) are refused unless
    `CRM_ENVIRONMENT` is explicitly `development` or `test`: no process signs with a known default by
    accident.

    Fields read from a name shared by all services (`CRM_ENVIRONMENT`, `CRM_DATA_DIR`,
    `CRM_INTERNAL_SECRET`) carry an explicit alias, which pydantic-settings reads without the prefix.
    """

    # populate_by_name: tests and tools may pass the aliased fields (environment, internal_secret) by name.
    model_config = SettingsConfigDict(env_prefix="CRM_", extra="ignore", populate_by_name=True)

    service_name: str = "service"
    environment: Literal["development", "test", "production"] = Field(
        default="development", validation_alias="CRM_ENVIRONMENT"
    )
    data_dir: Path = Field(default=Path("var"), validation_alias="CRM_DATA_DIR")
    database_url: str = ""
    database_pool_size: int = Field(default=10, ge=1, le=200)
    internal_secret: SecretStr = Field(
        default=SecretStr(DEV_INTERNAL_SECRET), validation_alias="CRM_INTERNAL_SECRET", min_length=32
    )
    internal_token_ttl_seconds: int = Field(default=60, ge=5, le=3600)
    log_level: str = Field(default="INFO", validation_alias="CRM_LOG_LEVEL")
    # The day a plain date names (crm_chassis.dates): midnight here.
    business_timezone: str = Field(default=DEFAULT_TIMEZONE, validation_alias="CRM_BUSINESS_TIMEZONE")
    # How far past now an occurrence (an order, an interaction) may lie; read by crm_chassis.dates.
    occurrence_skew_seconds: int = Field(
        default=DEFAULT_OCCURRENCE_SKEW_SECONDS, ge=0, le=86_400, validation_alias="CRM_OCCURRENCE_SKEW_SECONDS"
    )
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    idempotency_ttl_hours: int = Field(default=24, ge=24)
    # The long-poll of /internal/events answers at the latest after this many seconds.
    feed_max_wait_seconds: float = Field(default=25.0, ge=0, le=60)
    # How events travel between services: each producer's `/internal/events` long-poll feed, or
    # NATS JetStream (the outbox relayed to a stream per producer, read by durable consumers).
    event_transport: Literal["feed", "nats"] = Field(default="feed", validation_alias="CRM_EVENT_TRANSPORT")
    nats_url: str = Field(default="nats://127.0.0.1:4222", validation_alias="CRM_NATS_URL")
    # Streams are `<NAMESPACE>_<SERVICE>` with subjects `<namespace>.<service>.<event type>`: two
    # systems (or test runs) sharing one NATS server keep apart by using different namespaces.
    nats_namespace: str = Field(default="crm", pattern=r"^[a-z][a-z0-9_]{0,30}$", validation_alias="CRM_NATS_NAMESPACE")
    # How long JetStream keeps a message handed to a reader that vanished before it is handed out again.
    nats_ack_wait_seconds: float = Field(default=30.0, ge=1, le=3600, validation_alias="CRM_NATS_ACK_WAIT_SECONDS")
    # After a batch that was not full a consumer waits this long before it fetches again, so that
    # events arriving one by one are applied several to a transaction: latency traded for work.
    consumer_linger_seconds: float = Field(default=0.1, ge=0, le=5, validation_alias="CRM_CONSUMER_LINGER_SECONDS")
    # A consumer's handler failing on one event this many times in a row parks it in dead_letter.
    dead_letter_after_attempts: int = Field(default=3, ge=1, le=20, validation_alias="CRM_DEAD_LETTER_AFTER_ATTEMPTS")
    # Background workers take a PostgreSQL advisory lock first, so one replica runs them; the
    # others check for the lease this often and take over when its holder goes away.
    lease_check_seconds: float = Field(default=2.0, gt=0, le=60, validation_alias="CRM_LEASE_CHECK_SECONDS")
    # How often the outbox gauges of /metrics (size, head, relay backlog and lag) are refreshed.
    outbox_metrics_interval_seconds: float = Field(default=15.0, gt=0)

    @model_validator(mode="after")
    def _defaults_and_safety(self) -> ServiceSettings:
        ZoneInfo(self.business_timezone)  # an unknown zone stops the start, not the first request
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.data_dir / (self.service_name + '.db')}"
        return self

    def refuse_known_secrets(self) -> None:
        """Stop the start of a process that would sign or verify with a built-in secret (called by the
        app factories; the migrations, which sign nothing, do not need the secrets)."""
        if self.internal_secret.get_secret_value() == DEV_INTERNAL_SECRET and not self.allows_dev_secrets:
            raise RuntimeError(dev_secret_refusal("CRM_INTERNAL_SECRET"))

    @property
    def allows_dev_secrets(self) -> bool:
        """The built-in secrets are known to everyone: accepted only when development or test is asked for."""
        return "environment" in self.model_fields_set and self.environment in ("development", "test")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
