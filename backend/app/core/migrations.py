"""Apply Alembic migrations from code (start-up, `make migrate`, tests)."""

from alembic import command
from alembic.config import Config

from app.core.config import BACKEND_DIR, Settings


def alembic_config(settings: Settings, *, schema: str | None = None) -> Config:
    config = Config(str(BACKEND_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(BACKEND_DIR / "alembic"))
    config.attributes["settings"] = settings
    config.attributes["schema"] = schema
    return config


def upgrade_to_head(settings: Settings, *, schema: str | None = None) -> None:
    command.upgrade(alembic_config(settings, schema=schema), "head")
