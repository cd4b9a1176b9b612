"""Application settings, read from the environment (prefix `MAGE_`) and `.env`."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_JWT_SECRET = "change-me-development-only-secret-0123456789"  # noqa: S105


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"
    TEST = "test"


def _queue_name(name: str, default: str) -> Any:
    # Operators know the unprefixed names, so both spellings are read.
    return Field(
        default=default,
        validation_alias=AliasChoices(f"MAGE_{name}", name),
        description=f"Queue name for {name.split('_')[0].lower()}-priority renders.",
    )


class OAuthProviderSettings(BaseModel):
    """One social login provider; URLs left unset use the provider's public ones."""

    client_id: str = Field(description="Our client (app) id: the audience of tokens.")
    client_secret: str | None = Field(
        default=None, description="Client secret for code exchange and token checks."
    )
    extra_client_ids: list[str] = Field(
        default=[],
        description="Further client ids of ours (mobile apps) accepted as audience.",
    )
    authorize_url: str | None = Field(default=None, description="Authorization URL.")
    token_url: str | None = Field(default=None, description="Code exchange URL.")
    userinfo_url: str | None = Field(default=None, description="Profile URL.")
    jwks_url: str | None = Field(default=None, description="JWKS of ID tokens.")
    token_info_url: str | None = Field(
        default=None,
        description="URL that tells which app an access token was issued to.",
    )
    issuers: list[str] | None = Field(
        default=None, description="Accepted `iss` values of ID tokens."
    )
    redirect_uri: str | None = Field(
        default=None,
        description="Callback URL registered at the provider; default "
        "PUBLIC_URL/api/<provider>/callback.",
    )
    scopes: list[str] | None = Field(default=None, description="Requested scopes.")


class Settings(BaseSettings):
    """Every setting of the service, each with its description."""

    model_config = SettingsConfigDict(
        env_prefix="MAGE_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    env: Environment = Field(
        default=Environment.DEVELOPMENT,
        description="Deployment mode: development, production or test.",
    )
    app_name: str = Field(default="Mage Studio API", description="Name in the docs.")
    host: str = Field(default="127.0.0.1", description="Address the API listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port of the API.")
    public_url: str | None = Field(
        default=None,
        description="Absolute base URL clients reach the API at; used in download "
        "links. Defaults to http://HOST:PORT.",
    )
    database_url: str = Field(
        default="sqlite+aiosqlite:///./var/mage.db",
        description="SQLAlchemy async URL: sqlite+aiosqlite, postgresql+asyncpg or "
        "mysql+asyncmy.",
    )
    database_pool_size: int = Field(
        default=10, ge=1, description="Connections kept per API process (PostgreSQL)."
    )
    database_null_pool: bool = Field(
        default=False,
        description="Open a new connection per session instead of pooling (for "
        "short-lived processes and tests that run on several event loops).",
    )
    sqlite_busy_timeout_ms: int = Field(
        default=10_000,
        ge=0,
        description="How long a SQLite writer waits for the lock before failing.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis URL for revocation, rate limits, event fan-out and the ETA "
        "snapshot; unset keeps all of them in process.",
    )
    events_history_size: int = Field(
        default=200,
        ge=1,
        description="Events kept per channel so a reconnecting event stream resumes.",
    )
    events_history_ttl_seconds: int = Field(
        default=3600, ge=60, description="How long an idle channel's history is kept."
    )
    sse_ping_seconds: float = Field(
        default=15.0, gt=0, description="Seconds between keep-alive comments of SSE."
    )
    sse_throttle_seconds: float = Field(
        default=0.5,
        ge=0,
        description="Minimum seconds between two progress or frame events of a stream; "
        "status changes are sent at once.",
    )
    sse_poll_seconds: float = Field(
        default=2.0,
        gt=0,
        description="Seconds between database checks of an event stream, for "
        "changes nobody announced (other processes, queue positions).",
    )
    storage_path: Path = Field(
        default=Path("./var/storage"), description="Folder for local file storage."
    )
    s3_bucket: str | None = Field(
        default=None, description="S3 bucket; when set, files are stored there."
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="Endpoint of an S3-compatible service."
    )
    s3_region: str | None = Field(default=None, description="Region of the S3 bucket.")
    jwt_secret: str = Field(
        default=DEFAULT_JWT_SECRET,
        description="HMAC key for access tokens and signed links (at least 32 bytes).",
    )
    jwt_algorithm: str = Field(
        default="HS256", description="HS256, or RS256 with the key files below."
    )
    jwt_private_key_path: Path | None = Field(
        default=None, description="PEM private key for RS256 signing."
    )
    jwt_public_key_path: Path | None = Field(
        default=None, description="PEM public key for RS256 verification."
    )
    jwt_issuer: str = Field(
        default="mage-studio", description="`iss` of access tokens."
    )
    jwt_audience: str = Field(
        default="mage-studio-api", description="`aud` of access tokens."
    )
    access_token_ttl_seconds: int = Field(
        default=900, ge=30, description="Lifetime of an access token in seconds."
    )
    refresh_token_ttl_seconds: int = Field(
        default=30 * 24 * 3600,
        ge=60,
        description="Lifetime of a refresh token family in seconds.",
    )
    embedded_workers: int | None = Field(
        default=None,
        ge=0,
        description="In-process render workers started by `serve` (default 1, and 0 "
        "in production).",
    )
    render_backend: str = Field(
        default="preview",
        description="Backend of embedded workers: preview or automatic1111.",
    )
    a1111_url: str | None = Field(
        default=None, description="SD WebUI/Forge URL for the automatic1111 backend."
    )
    smtp_url: str | None = Field(
        default=None,
        description="smtp:// or smtps:// URL (user:password@host:port); unset writes "
        "mail to the log.",
    )
    mail_from: str = Field(
        default="Mage Studio <no-reply@mage.local>", description="Sender of mail."
    )
    smtp_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Seconds one SMTP delivery may take before it is abandoned.",
    )
    oauth_providers: dict[str, OAuthProviderSettings] = Field(
        default={},
        description="Social login providers (google, facebook, discord, github, "
        "apple) as JSON keyed by name; a provider without an entry is disabled.",
    )
    frontend_origins: list[str] = Field(
        default=["http://localhost:3000", "http://127.0.0.1:8000"],
        description="Front-end origins allowed as redirect targets and for CORS.",
    )
    high_priority_queue: str = _queue_name("HIGH_PRIORITY_QUEUE", "critical")
    medium_priority_queue: str = _queue_name("MEDIUM_PRIORITY_QUEUE", "medium")
    low_priority_queue: str = _queue_name("LOW_PRIORITY_QUEUE", "low")
    max_attempts: int = Field(
        default=3, ge=1, description="Render attempts before a job moves to error."
    )
    lease_seconds: int = Field(
        default=60, ge=5, description="How long a claim lasts without a heartbeat."
    )
    heartbeat_seconds: int = Field(
        default=10, ge=1, description="Seconds between worker heartbeats."
    )
    reaper_interval_seconds: float = Field(
        default=5.0, gt=0, description="Seconds between checks for expired leases."
    )
    queue_snapshot_seconds: float = Field(
        default=1.5,
        gt=0,
        description="Seconds between recomputations of queue positions and ETAs.",
    )
    worker_live_seconds: int = Field(
        default=90,
        ge=5,
        description="A worker seen within this many seconds counts as live for ETAs "
        "and the admin worker list.",
    )
    default_seconds_per_frame: float = Field(
        default=2.0,
        gt=0,
        description="Render cost per 512x512 frame assumed until timings are measured.",
    )
    upload_max_bytes: int = Field(
        default=500 * 1024 * 1024, ge=1, description="Largest accepted upload in bytes."
    )
    request_body_max_bytes: int = Field(
        default=2 * 1024 * 1024,
        ge=1,
        description="Largest request body in bytes that is not a multipart upload "
        "(JSON and form bodies); larger ones get 413. Multipart uploads have their "
        "own limits, and the worker API under /api/workers is exempt.",
    )
    soundtrack_max_bytes: int = Field(
        default=50 * 1024 * 1024, ge=1, description="Largest soundtrack in bytes."
    )
    studio_watermark_max_bytes: int = Field(
        default=5 * 1024 * 1024, ge=1, description="Largest watermark PNG in bytes."
    )
    studio_credits_per_second: int = Field(
        default=1,
        ge=0,
        description="GPU credits per second of output (rounded up) of a studio job: "
        "exports, compositions, joined videos and audio edits.",
    )
    download_url_ttl_seconds: int = Field(
        default=3600,
        ge=60,
        description="Seconds a signed download link in a job's `urls` stays valid.",
    )
    signup_credits: int | None = Field(
        default=None,
        ge=0,
        description="GPU credits granted at sign-up (default 500 in development, 0 "
        "otherwise).",
    )
    currency: str = Field(
        default="USD",
        pattern=r"^[A-Z]{3}$",
        description="ISO 4217 code of the money balance. Prices, balances and finance "
        "operations are integers in its minor unit (cents for USD).",
    )
    finance_max_amount: int = Field(
        default=100_000_000,
        ge=1,
        le=2**63 - 1,
        description="Largest `money` of one finance operation, in minor units of "
        "`currency` (the default is one million for a currency with cents). Larger "
        "requests are rejected with 422.",
    )
    free_preview_frames: int = Field(
        default=0,
        ge=0,
        description="Preview frames per render that cost no credits; frames beyond "
        "this allowance are charged at the model's per-frame rate.",
    )
    rate_limit_per_minute: int = Field(
        default=60, ge=1, description="Requests per minute per user or IP on /api."
    )
    rate_limit_enabled: bool = Field(
        default=True, description="Apply the request rate limits."
    )
    rate_limit_auth_per_minute: int = Field(
        default=10,
        ge=1,
        description="Logins and registrations per minute per IP (logins also per "
        "email).",
    )
    rate_limit_upload_per_minute: int = Field(
        default=10,
        ge=1,
        description="Uploads (new jobs and soundtracks) per minute per user.",
    )
    rate_limit_mail_per_hour: int = Field(
        default=5,
        ge=1,
        description="Password-reset and verification mails per hour per address.",
    )
    status_check_timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        le=30,
        description="Seconds each check of GET /api/status may take before it is "
        "reported as failed.",
    )
    log_level: str = Field(default="INFO", description="Minimum log level.")
    log_json: bool | None = Field(
        default=None,
        description="JSON logs; default on in production, console otherwise.",
    )
    log_path: Path = Field(
        default=Path("./var/log"), description="Folder of log and mail files."
    )

    @model_validator(mode="after")
    def _reject_unsafe_production(self) -> Settings:
        if self.env is not Environment.PRODUCTION:
            return self
        if self.jwt_secret == DEFAULT_JWT_SECRET and self.jwt_algorithm == "HS256":
            raise ValueError(
                "MAGE_JWT_SECRET must be set to a private value in production"
            )
        if len(self.jwt_secret.encode()) < 32 and self.jwt_algorithm == "HS256":
            raise ValueError("MAGE_JWT_SECRET must be at least 32 bytes long")
        if self.database_url.startswith("sqlite"):
            raise ValueError(
                "MAGE_DATABASE_URL must point to PostgreSQL or MariaDB in production"
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def workers_in_process(self) -> int:
        if self.embedded_workers is not None:
            return self.embedded_workers
        return 0 if self.env is Environment.PRODUCTION else 1

    @property
    def credits_at_signup(self) -> int:
        if self.signup_credits is not None:
            return self.signup_credits
        return 500 if self.env is Environment.DEVELOPMENT else 0

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def json_logs(self) -> bool:
        if self.log_json is not None:
            return self.log_json
        return self.env is Environment.PRODUCTION


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings, read once."""
    return Settings()
