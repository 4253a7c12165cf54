"""The one place every delivery attempt's outcome passes: webhook deliveries by outcome and
their latency, in /metrics (`app.core.metrics`)."""

from typing import Literal

from app.core.metrics import WEBHOOK_DELIVERIES, WEBHOOK_DELIVERY_DURATION

Outcome = Literal["succeeded", "failed", "gone", "timeout", "refused", "unreachable"]


def observe_attempt(outcome: Outcome, seconds: float) -> None:
    """Called once per attempt, after it ended: how it ended and how long it took."""
    WEBHOOK_DELIVERIES.labels(outcome=outcome).inc()
    WEBHOOK_DELIVERY_DURATION.observe(seconds)
