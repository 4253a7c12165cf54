"""The one place every delivery attempt's outcome passes: wire `webhook deliveries by outcome`
and their latency into /metrics here (the operations issue's Prometheus registry)."""

from typing import Literal

Outcome = Literal["succeeded", "failed", "gone", "timeout", "refused", "unreachable"]


def observe_attempt(outcome: Outcome, seconds: float) -> None:
    """Called once per attempt, after it ended: how it ended and how long it took."""
    del outcome, seconds  # no metrics registry yet
