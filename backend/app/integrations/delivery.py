"""One attempt of one delivery over HTTP: the URL checked again (`guard`), the request sent to
the checked address, signed as Standard Webhooks says, and cut off after the timeout."""

import asyncio
import email.utils
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from app.integrations.guard import Guard, UnsafeUrl
from app.integrations.metrics import Outcome, observe_attempt
from app.integrations.signing import signature_header

MAX_RETRY_AFTER_SECONDS = 24 * 3600
USER_AGENT = "todo-api-webhooks/1"


@dataclass(frozen=True)
class Claimed:
    """A delivery a sender holds, with what sending it needs."""

    id: uuid.UUID
    webhook_id: uuid.UUID
    body: str
    attempts: int
    url: str
    secrets: list[str]  # the current secret first, then one in its rotation grace period
    lease: str  # the claim's token
    failing: bool = False  # the endpoint has failed since its last success


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds, when the receiver asked for a wait

    @property
    def succeeded(self) -> bool:
        return self.outcome == "succeeded"


def sender_client(concurrency: int, timeout: float) -> httpx.AsyncClient:
    """The HTTP client of every delivery: no redirects, no proxies or certificates from the
    environment, bounded connections."""
    return httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(timeout),
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
    )


async def attempt(
    client: httpx.AsyncClient, guard: Guard, claimed: Claimed, timeout: float
) -> Result:
    started = time.monotonic()
    result = await _attempt(client, guard, claimed, timeout)
    observe_attempt(result.outcome, time.monotonic() - started)
    return result


async def _attempt(
    client: httpx.AsyncClient, guard: Guard, claimed: Claimed, timeout: float
) -> Result:
    try:
        async with asyncio.timeout(timeout):
            target = await guard.check(claimed.url)
            timestamp = int(time.time())
            message_id = str(claimed.id)
            headers = {
                "Host": target.host_header,
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "webhook-id": message_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": signature_header(
                    claimed.secrets, message_id, timestamp, claimed.body
                ),
            }
            request = client.build_request(
                "POST",
                target.connect_url,
                content=claimed.body.encode(),
                headers=headers,
                extensions={"sni_hostname": target.host},
            )
            # The body is never read: the status and headers are the answer.
            response = await client.send(request, stream=True)
            await response.aclose()
    except UnsafeUrl as exc:
        return Result("refused", error=f"not sent: the URL {exc}")
    except TimeoutError:
        return Result("timeout", error=f"no answer within {timeout:g} s")
    except httpx.TimeoutException:
        return Result("timeout", error=f"no answer within {timeout:g} s")
    except httpx.HTTPError as exc:
        return Result("unreachable", error=f"could not connect: {type(exc).__name__}")
    except OSError as exc:
        return Result("unreachable", error=f"could not connect: {type(exc).__name__}")
    code = response.status_code
    if 200 <= code < 300:
        return Result("succeeded", code)
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    if code == 410:
        return Result("gone", code, "the endpoint answered 410 Gone", retry_after)
    return Result("failed", code, f"the endpoint answered {code}", retry_after)


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds or an HTTP date, at most 24 hours; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)
