"""Settings: one pydantic-settings model, read from the environment or `.env`, checked at start."""

import ipaddress
import logging
import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from limits import RateLimitItem, parse
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

BACKEND_DIR = Path(__file__).resolve().parent.parent.parent
REPO_DIR = BACKEND_DIR.parent
DATA_DIR = BACKEND_DIR / "data"
DEFAULT_DATABASE_URL = f"sqlite:///{DATA_DIR / 'todo.db'}"
# Settings files read beneath the environment: the repository root's .env, then the working
# directory's. The variable ENV_FILE names another one instead, or none when it is empty (the
# test suite's servers run with ENV_FILE= so that a developer's .env cannot change them).
DEFAULT_ENV_FILES = (REPO_DIR / ".env", Path(".env"))

# Values people paste from examples; none of them is a secret.
PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "your-secret-key", "jwt_secret"}
MIN_SECRET_BYTES = 32
MAX_ISSUER_LENGTH = 255  # users.external_issuer

logger = logging.getLogger(__name__)


class SettingsError(ValueError):
    """A setting makes the service unsafe or unable to start."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=DEFAULT_ENV_FILES, env_file_encoding="utf-8", extra="ignore"
    )

    app_env: Literal["development", "production"] = "development"
    database_url: str = DEFAULT_DATABASE_URL
    jwt_secret: str = ""
    access_token_minutes: int = Field(15, ge=1, le=24 * 60)
    refresh_token_days: int = Field(7, ge=1, le=365)
    # Cost 11 hashes in ~115 ms on a 2-core Xeon: login stays under the 200 ms target and
    # above OWASP's floor of 10 (12 takes ~240 ms there). See the README.
    bcrypt_rounds: int = Field(11, ge=4, le=16)
    cors_origins: Annotated[list[str], NoDecode] = ["http://localhost:3000"]

    better_auth_url: str | None = None
    better_auth_jwks_url: str | None = None
    better_auth_issuer: str | None = None
    better_auth_audience: str | None = None

    # The public URL of the MCP endpoint: the audience OAuth tokens for it must carry, and what
    # its metadata and Host checks name. Default: http://{HOST}:{PORT}/mcp (see `mcp_resource`).
    mcp_resource_url: str | None = None
    # Where clients reach the service (calendar feed URLs). Default: http://{HOST}:{PORT}.
    public_url: str | None = None

    rate_limit_storage_url: str | None = None
    # redis://... : instances tell each other which users' change logs grew (app.sync.broker).
    events_broker_url: str | None = None
    login_rate_limit: str = "5/minute"
    register_rate_limit: str = "20/hour"

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int | None = Field(None, ge=1)
    log_level: str = "info"
    log_format: Literal["text", "json"] = "text"

    # Operational knobs beyond the contract; the defaults suit a small production service.
    migrate_on_start: bool = True
    # A fixed pool: overflow connections are opened and closed again under load, which costs
    # PostgreSQL a new backend each time (the benchmark saw hundreds per second).
    db_pool_size: int = Field(20, ge=1)
    db_max_overflow: int = Field(0, ge=0)
    db_pool_timeout: float = Field(5.0, gt=0)
    db_connect_timeout: float = Field(5.0, gt=0)
    db_statement_timeout_ms: int = Field(10_000, ge=0)
    db_pgbouncer: bool | None = None  # None: detect Neon's "-pooler" hosts
    # Whether the pooler keeps protocol-level prepared statements per client (PgBouncer 1.21+
    # with max_prepared_statements > 0, as Neon's pooler): then the app keeps asyncpg's
    # statement cache and its fast reads behind it. False for an older PgBouncer, or one with
    # max_prepared_statements = 0: unique unnamed-per-transaction statements (slower).
    db_pooler_prepared_statements: bool = True
    # Set by `python -m app run|serve` for its workers, never by hand: the directory where they
    # share the per-user stream limit of this instance (app.sync.slots).
    stream_slots_dir: str | None = None
    max_body_bytes: int = Field(1024 * 1024, ge=1)
    graceful_shutdown_seconds: int = Field(20, ge=1)
    # On SIGTERM, how long /api/health/ready answers 503 while everything is still served,
    # before the graceful shutdown proper (app.core.drain); part of GRACEFUL_SHUTDOWN_SECONDS.
    # Behind a load balancer: at least its readiness probe's period.
    shutdown_drain_seconds: float = Field(0, ge=0)
    # GET /metrics, Prometheus text format, summed over the instance's workers (app.core.metrics).
    metrics_enabled: bool = True
    # OpenTelemetry traces to this OTLP/HTTP collector (e.g. http://otel-collector:4318); unset:
    # no tracing code is even imported. The SDK reads its other OTEL_* variables itself.
    otel_exporter_otlp_endpoint: str | None = None
    # Event streams: a comment line this often on an idle stream (API.md: at least every 15 s),
    # and a client that has taken nothing for this long is disconnected. Tests shrink both.
    events_heartbeat_seconds: float = Field(10.0, gt=0, le=15)
    events_send_timeout_seconds: float = Field(15.0, gt=0)

    # Webhooks (app.integrations). Only public https URLs, unless these two say otherwise (for
    # tests and private deployments): CIDRs whose addresses are allowed, and plain http.
    webhook_allow_hosts: Annotated[list[str], NoDecode] = []
    webhook_allow_http: bool = False
    # A receiver that has not answered within this long is cut off (the attempt failed).
    webhook_timeout_seconds: float = Field(15.0, gt=0)
    # The sender: how often each worker looks for due deliveries, how long a claim holds a
    # delivery (a sender that dies mid-send loses it to another after this), the first retry's
    # wait (the schedule's other waits are multiples of it), and the sends in flight at once.
    webhook_sender: bool = True
    webhook_poll_seconds: float = Field(1.0, gt=0)
    webhook_lease_seconds: float = Field(60.0, gt=0)
    webhook_backoff_base_seconds: float = Field(5.0, gt=0)
    webhook_concurrency: int = Field(32, ge=1)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("webhook_allow_hosts", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            for network in value:
                try:
                    ipaddress.ip_network(str(network), strict=False)
                except ValueError as exc:
                    raise ValueError(
                        f"expected CIDRs such as 127.0.0.1/32, got {network!r}"
                    ) from exc
        return value

    @field_validator("mcp_resource_url")
    @classmethod
    def _check_resource_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parsed = urlsplit(value)
        if parsed.scheme not in {"http", "https"} or not parsed.hostname:
            raise ValueError(
                f"expected an http(s) URL such as https://api.example.com/mcp, got {value!r}"
            )
        if parsed.query or parsed.fragment:
            raise ValueError("must not have a query or fragment")
        return value.rstrip("/")

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parsed = urlsplit(value)
        if parsed.scheme not in {"http", "https"} or not parsed.hostname:
            raise ValueError(
                f"expected an http(s) URL such as https://todo.example.com, got {value!r}"
            )
        if parsed.query or parsed.fragment or parsed.username or parsed.password:
            raise ValueError("must not have a query, fragment or credentials")
        return value.rstrip("/")

    @field_validator("login_rate_limit", "register_rate_limit")
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        try:
            parse(value)
        except ValueError as exc:
            raise ValueError(f"expected the form N/second|minute|hour, got {value!r}") from exc
        return value

    @field_validator("log_level")
    @classmethod
    def _normalise_log_level(cls, value: str) -> str:
        return value.lower()

    @model_validator(mode="after")
    def _check_for_start(self) -> "Settings":
        if self.is_production:
            problem = secret_problem(self.jwt_secret)
            if problem:
                raise SettingsError(f"JWT_SECRET {problem}; set it to 32+ random bytes")
        if self.shutdown_drain_seconds >= self.graceful_shutdown_seconds:
            raise SettingsError(
                "SHUTDOWN_DRAIN_SECONDS must be shorter than GRACEFUL_SHUTDOWN_SECONDS, which"
                " bounds the whole shutdown"
            )
        issuer = self.better_auth_issuer or (self.better_auth_url or "").rstrip("/")
        if len(issuer) > MAX_ISSUER_LENGTH:  # stored with every linked Better Auth user
            raise SettingsError(f"BETTER_AUTH_ISSUER is longer than {MAX_ISSUER_LENGTH} characters")
        return self

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def better_auth_enabled(self) -> bool:
        return bool(self.better_auth_url)

    @property
    def mcp_resource(self) -> str:
        """MCP_RESOURCE_URL, or the URL the MCP endpoint has where this process listens."""
        if self.mcp_resource_url:
            return self.mcp_resource_url
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/mcp"

    @property
    def public_origin(self) -> str:
        """PUBLIC_URL, or the URL of the service where this process listens."""
        if self.public_url:
            return self.public_url
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @cached_property
    def login_limit(self) -> RateLimitItem:
        return parse(self.login_rate_limit)

    @cached_property
    def register_limit(self) -> RateLimitItem:
        return parse(self.register_rate_limit)


def secret_problem(secret: str) -> str | None:
    """Why `secret` is unfit to sign tokens, or None when it is fine."""
    if not secret:
        return "is not set"
    if secret.strip().lower() in PLACEHOLDER_SECRETS or "change" in secret.lower():
        return "is a placeholder"
    if len(secret.encode()) < MIN_SECRET_BYTES:
        return f"is shorter than {MIN_SECRET_BYTES} bytes"
    return None


def development_secret(database_url: str) -> str:
    """The development secret, generated once and kept beside the SQLite file (or in data/)."""
    folder = DATA_DIR
    if database_url.startswith("sqlite") and ":memory:" not in database_url:
        folder = Path(database_url.split(":///", 1)[1]).expanduser().resolve().parent
    path = folder / ".jwt_secret"
    if path.exists():
        return path.read_text().strip()
    folder.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(secret)
    logger.warning("JWT_SECRET is not set: generated a development secret in %s", path)
    return secret


def env_files() -> tuple[Path, ...] | None:
    """The settings files to read: DEFAULT_ENV_FILES, or those ENV_FILE names (empty: none)."""
    chosen = os.environ.get("ENV_FILE")
    if chosen is None:
        return DEFAULT_ENV_FILES
    return (Path(chosen),) if chosen else None


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment and the settings files, with a development secret filled
    in when none is set."""
    settings = Settings(**{"_env_file": env_files(), **overrides})  # type: ignore[arg-type]
    if not settings.jwt_secret:
        settings.jwt_secret = development_secret(settings.database_url)
    return settings
