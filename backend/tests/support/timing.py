"""How much later than the service's own clock says a test may see something happen.

A test asserts behaviour, not speed: where a bound is the behaviour (a timeout must fire, a
change must arrive), it is the configured interval plus this slack, which holds on a 2-core
machine busy with other work (CPU hogs, a benchmark, other test runs). What only measures
speed belongs to `make bench`. TEST_TIMING_SLACK_SECONDS widens it further on a slower machine.
"""

import os

TIMING_SLACK_SECONDS = float(os.environ.get("TEST_TIMING_SLACK_SECONDS", "7"))


def within(configured_seconds: float) -> float:
    """The most a wait the service bounds by `configured_seconds` may take, seen from a test."""
    return configured_seconds + TIMING_SLACK_SECONDS
