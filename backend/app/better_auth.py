"""Better Auth bridge: verify the frontend's JWTs against its JWKS (filled in by its issue)."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import TokenInvalid
from app.models import User


class BetterAuthVerifier:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def authenticate(self, token: str, *, session: AsyncSession) -> User:
        raise TokenInvalid()

    async def aclose(self) -> None:
        return None
