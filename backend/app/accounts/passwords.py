"""Password hashing: bcrypt on an HMAC-SHA-256 pre-hash, off the event loop."""

import base64
import hashlib
import hmac
import os
import secrets

import anyio
import bcrypt

# A constant HMAC key for the pre-hash: it separates our hashes from plain SHA-256 ones, so a
# leaked list of unsalted SHA-256 hashes from elsewhere cannot be checked against ours.
PREHASH_KEY = b"todo-api/bcrypt-prehash/v1"


class PasswordHasher:
    """bcrypt on a bounded set of threads, so hashing never blocks the event loop and a burst
    of logins cannot take every core from requests that only carry a token."""

    def __init__(self, rounds: int, *, concurrency: int | None = None) -> None:
        self.rounds = rounds
        self._limiter = anyio.CapacityLimiter(concurrency or os.cpu_count() or 1)
        # Compared against when the email is unknown, so that path costs one bcrypt as well.
        self.dummy_hash = self._hash(secrets.token_urlsafe(16))

    @staticmethod
    def _prehash(password: str) -> bytes:
        # bcrypt reads only 72 bytes; 64 emoji are 256. HMAC-SHA-256 first, base64 to avoid
        # NUL bytes: every character counts and the input is always 44 bytes.
        digest = hmac.new(PREHASH_KEY, password.encode(), hashlib.sha256).digest()
        return base64.b64encode(digest)

    def _hash(self, password: str) -> str:
        return bcrypt.hashpw(self._prehash(password), bcrypt.gensalt(self.rounds)).decode()

    def _verify(self, password: str, password_hash: str) -> bool:
        try:
            return bcrypt.checkpw(self._prehash(password), password_hash.encode())
        except ValueError:
            return False

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self._hash, password, limiter=self._limiter)

    async def verify(self, password: str, password_hash: str | None) -> bool:
        """Always spends one bcrypt, whether or not there is a hash to check against."""
        target = password_hash or self.dummy_hash
        matched = await anyio.to_thread.run_sync(
            self._verify, password, target, limiter=self._limiter
        )
        return matched and password_hash is not None
