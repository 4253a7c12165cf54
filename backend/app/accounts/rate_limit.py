"""Rate limits with `limits`: in-process by default, shared through Redis when configured."""

import logging
import math
import time
from collections.abc import Awaitable

from limits import RateLimitItem
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from app.accounts.errors import RateLimited

logger = logging.getLogger(__name__)


def _async_storage_url(url: str) -> str:
    return url if url.startswith("async+") else f"async+{url}"


class RateLimiter:
    def __init__(self, storage_url: str | None = None, *, key_prefix: str = "todo-api") -> None:
        self.storage: Storage = MemoryStorage()
        if storage_url:
            storage = storage_from_string(_async_storage_url(storage_url), key_prefix=key_prefix)
            assert isinstance(storage, Storage)  # an async+ URL always gives an async storage
            self.storage = storage
        self._strategy = MovingWindowRateLimiter(self.storage)

    async def check(self, limit: RateLimitItem, *keys: tuple[str, ...]) -> None:
        """Raise RateLimited when any of the keyed budgets is spent; spend nothing."""
        for key in keys:
            if not await self._call_safely(self._strategy.test(limit, *key), default=True):
                raise RateLimited(await self._retry_after(limit, key))

    async def spend(self, limit: RateLimitItem, *keys: tuple[str, ...]) -> None:
        """Spend one unit of each keyed budget; raise RateLimited when one was already spent."""
        for key in keys:
            if not await self._call_safely(self._strategy.hit(limit, *key), default=True):
                raise RateLimited(await self._retry_after(limit, key))

    async def _retry_after(self, limit: RateLimitItem, key: tuple[str, ...]) -> int:
        stats = await self._strategy.get_window_stats(limit, *key)
        return max(1, math.ceil(stats.reset_time - time.time()))

    @staticmethod
    async def _call_safely(call: Awaitable[bool], *, default: bool) -> bool:
        # A limiter outage must not take logins down with it: fail open, loudly.
        try:
            return await call
        except Exception as exc:  # any storage failure means the same here
            logger.warning(
                "rate limiter storage unavailable (%s); not limiting", type(exc).__name__
            )
            return default
