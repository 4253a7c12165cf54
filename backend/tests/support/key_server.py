"""A JWKS we control over real HTTP, for signing Better Auth-like tokens with any claims."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


DROP: Any = _Drop()  # a claim value meaning "leave this claim out"


class KeyServer:
    """A JWKS we control, over real HTTP: lets tests sign tokens with claims and headers that
    Better Auth never produces, with a key the backend trusts."""

    def __init__(self) -> None:
        self.private_key = Ed25519PrivateKey.generate()
        self.kid = "key-server-1"
        public = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(self.private_key.public_key()))
        self.jwks: dict[str, Any] = {"keys": [public | {"kid": self.kid, "alg": "EdDSA"}]}
        self.down = False
        self.delay = 0.0  # seconds before each answer
        self.hits = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                server.hits += 1
                time.sleep(server.delay)
                status = 503 if server.down else 200
                body = b"{}" if server.down else json.dumps(server.jwks).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def claims(self, **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": uuid.uuid4().hex,
            "email": "ann@example.com",
            "name": "Ann",
            "iss": self.url,
            "aud": self.url,
            "iat": now,
            "exp": now + 900,
        }
        claims.update(changes)
        return {name: value for name, value in claims.items() if value is not DROP}

    def sign(self, headers: dict[str, Any] | None = None, **changes: Any) -> str:
        headers = {"kid": self.kid} | (headers or {})
        return jwt.encode(self.claims(**changes), self.private_key, "EdDSA", headers=headers)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
