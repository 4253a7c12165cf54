"""Standard Webhooks v1 signatures (https://www.standardwebhooks.com): `v1,` + base64 of the
HMAC-SHA256 of `id.timestamp.body`, keyed with the base64-decoded part of the secret after
`whsec_`. The tests verify these with the `standardwebhooks` package."""

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signature(secret: str, message_id: str, timestamp: int, body: str) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.{body}".encode()
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets_in_use: list[str], message_id: str, timestamp: int, body: str) -> str:
    """Every signature, space-separated: during a rotation's grace period, one per secret."""
    return " ".join(signature(secret, message_id, timestamp, body) for secret in secrets_in_use)
