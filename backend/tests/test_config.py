"""Settings and database URLs: safe in production, zero-setup in development."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.core.config import BACKEND_DIR, Settings, load_settings
from app.core.database import parse_database_url

pytestmark = pytest.mark.anyio

STRONG_SECRET = "k3v9s0Zq1x8Yw2Lr5Tn7Bm4Ce6Df0Gh1Jk3Ll5Nm7Pq9"


def production(**values: object) -> Settings:
    return Settings(app_env="production", _env_file=None, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("secret", "reason"),
    [("", "is not set"), ("short-secret", "shorter than 32"), ("changeme" * 5, "placeholder")],
)
def test_production_refuses_weak_jwt_secret(secret: str, reason: str) -> None:
    with pytest.raises(ValidationError) as raised:
        production(jwt_secret=secret)
    assert "JWT_SECRET" in str(raised.value)
    assert reason in str(raised.value)


def test_production_accepts_a_strong_secret() -> None:
    assert production(jwt_secret=STRONG_SECRET).jwt_secret == STRONG_SECRET


def test_production_start_fails_with_one_clear_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"JWT_SECRET", "DATABASE_URL"}}
    env |= {"APP_ENV": "production", "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    env |= {"ENV_FILE": ""}  # nor a JWT_SECRET from the developer's .env
    result = subprocess.run(
        [sys.executable, "-m", "app", "run"],
        cwd=BACKEND_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "JWT_SECRET" in lines[0]
    assert "Traceback" not in result.stderr


def test_development_secret_is_generated_once_beside_the_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'data' / 'app.db'}"
    first = load_settings(database_url=url, _env_file=None)
    second = load_settings(database_url=url, _env_file=None)
    assert len(first.jwt_secret) >= 32
    assert first.jwt_secret == second.jwt_secret
    secret_file = tmp_path / "data" / ".jwt_secret"
    assert secret_file.read_text() == first.jwt_secret
    assert secret_file.stat().st_mode & 0o077 == 0  # readable by the owner only


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9123")
    monkeypatch.setenv("ACCESS_TOKEN_MINUTES", "5")
    monkeypatch.setenv("LOGIN_RATE_LIMIT", "3/second")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.port, settings.access_token_minutes) == (9123, 5)
    assert settings.login_limit.amount == 3


def test_settings_come_from_a_dotenv_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=8123\nCORS_ORIGINS=http://x.example\n")
    settings = Settings(_env_file=env_file)  # type: ignore[call-arg]
    assert settings.port == 8123
    assert settings.cors_origins == ["http://x.example"]


def test_malformed_rate_limit_is_rejected() -> None:
    with pytest.raises(ValidationError, match="LOGIN_RATE_LIMIT|login_rate_limit"):
        Settings(login_rate_limit="lots", _env_file=None)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "raw",
    [
        "postgresql://u:p@db.example.com:5432/app",
        "postgres://u:p@db.example.com:5432/app",
        "postgresql+psycopg://u:p@db.example.com:5432/app",
        "postgresql+asyncpg://u:p@db.example.com:5432/app",
    ],
)
def test_postgres_urls_become_asyncpg(raw: str) -> None:
    target = parse_database_url(raw)
    assert target.url.drivername == "postgresql+asyncpg"
    assert (target.url.host, target.url.database, target.url.password) == (
        "db.example.com",
        "app",
        "p",
    )


def test_neon_pooled_url_works_unchanged() -> None:
    raw = (
        "postgresql://neondb_owner:npg_secret@ep-cool-name-a1b2c3-pooler.eu-central-1.aws.neon.tech"
        "/neondb?sslmode=require&channel_binding=require"
    )
    target = parse_database_url(raw)
    assert target.url.drivername == "postgresql+asyncpg"
    assert dict(target.url.query) == {}  # libpq-only parameters are not passed to asyncpg
    assert target.connect_args["ssl"] == "require"  # SSL is kept
    # Neon's pooler keeps prepared statements (max_prepared_statements): asyncpg's cache stays.
    assert target.pooled
    assert not target.statements_per_transaction
    assert target.connect_args == {"ssl": "require"}


def test_a_pooler_without_prepared_statements_gets_statements_per_transaction() -> None:
    raw = "postgresql://u:p@ep-cool-name-a1b2c3-pooler.eu-central-1.aws.neon.tech/neondb"
    target = parse_database_url(raw, pooler_prepared_statements=False)
    assert target.statements_per_transaction
    # PgBouncer transaction pooling: no statement cache that outlives a transaction.
    assert target.connect_args["statement_cache_size"] == 0
    assert target.connect_args["prepared_statement_cache_size"] == 0
    name = target.connect_args["prepared_statement_name_func"]
    assert name() != name()


def test_direct_neon_url_keeps_statement_cache() -> None:
    target = parse_database_url("postgresql://u:p@ep-x.aws.neon.tech/neondb?sslmode=require")
    assert target.connect_args == {"ssl": "require"}


def test_sqlite_urls_become_aiosqlite(tmp_path: Path) -> None:
    target = parse_database_url(f"sqlite:///{tmp_path / 'sub' / 'todo.db'}")
    assert target.url.drivername == "sqlite+aiosqlite"
    assert (tmp_path / "sub").is_dir()  # the data folder is created on demand


def test_other_databases_are_rejected() -> None:
    with pytest.raises(ValueError, match="SQLite or PostgreSQL"):
        parse_database_url("mysql://u:p@localhost/db")
