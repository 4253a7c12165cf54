"""Drive a real Better Auth instance (tests/better_auth/issuer.mjs) from pytest.

The issuer is a Node process running the `better-auth` npm package with its JWT plugin on an
in-memory database, so tokens and JWKS are exactly what the frontend's auth library produces.
"""

from __future__ import annotations

import fcntl
import json
import os
import selectors
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal, Self

import httpx

ISSUER_DIR = Path(__file__).resolve().parent.parent / "better_auth"

Alg = Literal["EdDSA", "RS256", "PS256", "ES256", "ES512"]
ALGORITHMS: tuple[Alg, ...] = ("EdDSA", "RS256", "PS256", "ES256", "ES512")

DEFAULT_PASSWORD = "correct-horse-battery-staple"


class BetterAuthError(RuntimeError):
    pass


def ensure_installed() -> bool:
    """Install the issuer's npm dependencies if needed; False if node/npm are unavailable."""
    npm = shutil.which("npm")
    if shutil.which("node") is None or npm is None:
        return False
    lock = ISSUER_DIR / "package-lock.json"
    # npm writes this hidden lockfile on every install, so it marks when node_modules was built.
    marker = ISSUER_DIR / "node_modules" / ".package-lock.json"
    lock_path = Path(tempfile.gettempdir()) / "better-auth-issuer-npm.lock"
    with lock_path.open("w") as lock_file:
        # Serialise parallel test workers so only one runs `npm ci`.
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        if marker.exists() and marker.stat().st_mtime >= lock.stat().st_mtime:
            return True
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=ISSUER_DIR,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise BetterAuthError(f"npm ci failed in {ISSUER_DIR}:\n{result.stderr}")
    return True


@dataclass(frozen=True)
class BetterAuthUser:
    id: str
    email: str
    name: str
    session_token: str
    # Signed session cookie ("name=value") that Better Auth expects on session endpoints.
    cookie: str


class BetterAuthIssuer:
    """Context manager running issuer.mjs on 127.0.0.1 with a free port.

    Tokens carry iss == aud == ``url``; the JWKS is at ``jwks_url``.
    """

    def __init__(self, alg: Alg = "EdDSA", *, startup_timeout: float = 20.0) -> None:
        self.alg: Alg = alg
        self.startup_timeout = startup_timeout
        self.url = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/api/auth/jwks"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> Self:
        if self._proc is not None:
            raise BetterAuthError("issuer already started")
        node = shutil.which("node")
        if node is None:
            raise BetterAuthError("node is not on PATH")
        # A file rather than a pipe so a chatty issuer can never block on a full stderr pipe;
        # it lives as long as the process and is closed in stop().
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self._proc = subprocess.Popen(
            [node, "issuer.mjs", "--alg", self.alg, "--port", "0"],
            cwd=ISSUER_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        try:
            ready = json.loads(self._read_ready_line())
            self.url = str(ready["url"])
        except Exception:
            detail = self._stderr_text()
            self.stop()
            raise BetterAuthError(f"Better Auth issuer failed to start:\n{detail}") from None
        return self

    def _read_ready_line(self) -> bytes:
        assert self._proc is not None
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + self.startup_timeout
        buf = b""
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in buf:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not sel.select(remaining):
                    raise TimeoutError("timed out waiting for the issuer")
                chunk = os.read(fd, 4096)
                if not chunk:
                    raise EOFError("issuer exited before it was ready")
                buf += chunk
        return buf.split(b"\n", 1)[0]

    def _stderr_text(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.stdin is not None:
                proc.stdin.close()  # the issuer exits when stdin closes
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def _request(
        self,
        method: str,
        path: str,
        *,
        user: BetterAuthUser | None = None,
        json_body: dict[str, Any] | None = None,
    ) -> httpx.Response:
        if self._proc is None:
            raise BetterAuthError("issuer is not running")
        # Better Auth rejects state-changing requests whose Origin is not trusted (baseURL is).
        headers = {"Origin": self.url}
        if user is not None:
            headers["Cookie"] = user.cookie
        response = httpx.request(
            method, self.url + path, headers=headers, json=json_body, timeout=10.0
        )
        if response.is_error:
            raise BetterAuthError(f"{method} {path} -> {response.status_code}: {response.text}")
        return response

    def sign_up(self, email: str, name: str, password: str = DEFAULT_PASSWORD) -> BetterAuthUser:
        response = self._request(
            "POST",
            "/api/auth/sign-up/email",
            json_body={"email": email, "name": name, "password": password},
        )
        body = response.json()
        cookie = next(
            (f"{k}={v}" for k, v in response.cookies.items() if k.endswith("session_token")),
            None,
        )
        if cookie is None:
            raise BetterAuthError(f"sign-up set no session cookie: {response.headers}")
        user = body["user"]
        return BetterAuthUser(
            id=user["id"],
            email=user["email"],
            name=user["name"],
            session_token=body["token"],
            cookie=cookie,
        )

    def token(self, user: BetterAuthUser) -> str:
        """A fresh JWT from GET /api/auth/token (the jwt plugin's endpoint)."""
        return str(self._request("GET", "/api/auth/token", user=user).json()["token"])

    def token_from_header(self, user: BetterAuthUser) -> str:
        """A fresh JWT from the ``set-auth-jwt`` header added to GET /api/auth/get-session."""
        response = self._request("GET", "/api/auth/get-session", user=user)
        token = response.headers.get("set-auth-jwt")
        if not token:
            raise BetterAuthError("get-session returned no set-auth-jwt header")
        return str(token)

    def resource_token(self, user: BetterAuthUser, audience: str) -> str:
        """A JWT for another resource (`aud` = `audience`), signed with the issuer's keys, as an
        OAuth provider built on the jwt plugin issues one (e.g. for an MCP server)."""
        body = {"userId": user.id, "audience": audience}
        response = self._request("POST", "/test/resource-token", json_body=body)
        return str(response.json()["token"])

    def jwks(self) -> dict[str, Any]:
        """The JWKS document (counts as a JWKS hit)."""
        data: dict[str, Any] = self._request("GET", "/api/auth/jwks").json()
        return data

    def rotate(self) -> str:
        """Create a new signing key; returns its kid. Old keys stay in the JWKS."""
        return str(self._request("POST", "/test/rotate").json()["kid"])

    def jwks_down(self) -> None:
        """Make /api/auth/jwks answer 503 until jwks_up()."""
        self._request("POST", "/test/jwks-down")

    def jwks_up(self) -> None:
        self._request("POST", "/test/jwks-up")

    def jwks_hits(self) -> int:
        """Requests made to /api/auth/jwks so far (including ones answered 503)."""
        return int(self._request("GET", "/test/jwks-hits").json()["hits"])

    def update_name(self, user: BetterAuthUser, name: str) -> BetterAuthUser:
        """Change the user's name; tokens issued afterwards carry the new ``name`` claim."""
        self._request("POST", "/api/auth/update-user", user=user, json_body={"name": name})
        return replace(user, name=name)

    def update_email(self, user: BetterAuthUser, email: str) -> BetterAuthUser:
        """Change the user's email immediately (user is unverified); later tokens carry it."""
        self._request("POST", "/api/auth/change-email", user=user, json_body={"newEmail": email})
        return replace(user, email=email.lower())
