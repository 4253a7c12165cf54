"""compose.yaml, checked statically (no registry can be reached here to pull its images): the
services of the whole system with their health checks, the migrations as a one-off service the
API waits for, secrets only from the environment, and environment names that the settings (and
the web app) actually read: a misspelt name would be ignored silently at run time."""

import re
from typing import Any

import pytest
import yaml

from app.core.config import REPO_DIR, Settings

COMPOSE = yaml.safe_load((REPO_DIR / "compose.yaml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
SECRETS = {"JWT_SECRET", "BETTER_AUTH_SECRET", "POSTGRES_PASSWORD"}
REQUIRED_VARIABLE = re.compile(r"\$\{(\w+):\?[^}]*\}")


def environment(service: str) -> dict[str, str]:
    return {name: str(value) for name, value in SERVICES[service]["environment"].items()}


def interpolated(value: str) -> str:
    """The value compose would pass when every required variable is set to a strong secret."""
    return REQUIRED_VARIABLE.sub(lambda m: f"{m.group(1).lower()}-" + "s" * 40, value)


def test_the_whole_system_is_there_each_long_running_service_with_a_health_check() -> None:
    assert set(SERVICES) == {"postgres", "redis", "migrate", "api", "web"}
    for name in ("postgres", "redis", "api", "web"):
        test = SERVICES[name]["healthcheck"]["test"]
        assert test[0] == "CMD", name  # no shell needed inside the image


def test_migrations_run_once_in_the_api_image_before_the_api_starts() -> None:
    migrate, api = SERVICES["migrate"], SERVICES["api"]
    assert migrate["command"] == ["python", "-m", "app", "migrate"]
    assert migrate["restart"] == "no"
    assert migrate["build"] == api["build"] == {"context": ".", "dockerfile": "Containerfile"}
    assert (REPO_DIR / api["build"]["context"] / api["build"]["dockerfile"]).is_file()
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert api["depends_on"] == {
        "migrate": {"condition": "service_completed_successfully"},
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    assert environment("api")["MIGRATE_ON_START"] == "false"
    assert environment("migrate") == environment("api")


def test_the_api_health_check_asks_readiness_on_the_published_port() -> None:
    api = SERVICES["api"]
    port = int(Settings(**settings_values(environment("api")), _env_file=None).port)  # type: ignore[arg-type]
    assert api["ports"] == [f"{port}:{port}"]
    assert f"http://127.0.0.1:{port}/api/health/ready" in " ".join(api["healthcheck"]["test"])


def settings_values(env: dict[str, str]) -> dict[str, str]:
    return {name.lower(): interpolated(value) for name, value in env.items()}


def test_every_api_variable_is_a_setting_and_the_whole_set_starts_in_production() -> None:
    env = environment("api")
    unknown = {name for name in env if name.lower() not in Settings.model_fields}
    assert not unknown, f"the settings read no such variable: {unknown}"
    settings = Settings(**settings_values(env), _env_file=None)  # type: ignore[arg-type]
    assert settings.is_production
    assert settings.database_url.startswith("postgresql://todo:")
    assert settings.better_auth_enabled


def test_the_web_app_reads_every_variable_it_is_given() -> None:
    sources = (
        "\n".join(
            path.read_text()
            for folder in ("app", "lib", "components")
            for path in (REPO_DIR / "frontend" / folder).rglob("*.ts*")
        )
        + (REPO_DIR / "frontend" / "instrumentation.ts").read_text()
    )
    read = set(re.findall(r"process\.env\.(\w+)", sources))
    given = set(environment("web")) - {"PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"}  # read by npm ci
    assert given <= read, f"the web app reads no such variable: {given - read}"


@pytest.mark.parametrize("service", ["postgres", "api", "migrate", "web"])
def test_secrets_only_come_from_the_environment(service: str) -> None:
    for name, value in environment(service).items():
        if name in SECRETS:
            assert REQUIRED_VARIABLE.fullmatch(value), f"{service}.{name} is written inline"
    database_url = environment("api")["DATABASE_URL"]
    assert REQUIRED_VARIABLE.search(database_url), "the database password is written inline"
