"""The graceful drain: what a worker does between SIGTERM and its exit.

uvicorn alone stops accepting connections at once and waits for the requests in flight. Behind
a load balancer that is too abrupt: the balancer still sends new connections for a few seconds,
which are refused. So on SIGTERM a served worker first *drains*:

1. `/api/health/ready` answers 503 (`shutting_down`), so that the balancer stops sending work;
   event streams are told to reconnect elsewhere (`retry:`) and close; everything else is
   still served as usual;
2. after SHUTDOWN_DRAIN_SECONDS, uvicorn's own graceful shutdown starts: no new connections,
   the requests in flight finish (at most GRACEFUL_SHUTDOWN_SECONDS minus the drain), then the
   process exits 0.

`Drain.begin` is the first step; `install_sigterm` wires it to the signal in a served worker
(`python -m app run|serve`), never in the tests' in-process apps.
"""

import asyncio
import logging
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

logger = logging.getLogger("app.drain")

SignalHandler = Callable[[int, FrameType | None], Any]


class Drain:
    def __init__(self, *, delay_seconds: float) -> None:
        self.delay_seconds = delay_seconds
        self.draining = False
        self._on_begin: list[Callable[[], None]] = []

    def on_begin(self, callback: Callable[[], None]) -> None:
        """Call `callback` (in the event loop) when the drain begins."""
        self._on_begin.append(callback)

    def begin(self) -> None:
        """Step 1: answer not ready, close the event streams (idempotent)."""
        if self.draining:
            return
        self.draining = True
        logger.info("draining: not ready; shutting down in %ss", self.delay_seconds)
        for callback in self._on_begin:
            callback()

    def install_sigterm(self) -> None:
        """Take SIGTERM over from the server (uvicorn has installed its handler by the time the
        app's lifespan starts): drain first, then hand the signal to the server's handler."""
        loop = asyncio.get_running_loop()
        server_handler = signal.getsignal(signal.SIGTERM)

        def shut_down(signum: int) -> None:
            if callable(server_handler):
                server_handler(signum, None)

        def begin_then_shut_down(signum: int) -> None:
            first = not self.draining
            self.begin()
            if first:
                loop.call_later(self.delay_seconds, shut_down, signum)

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            # Signal handlers run between any two bytecodes: only schedule work on the loop.
            loop.call_soon_threadsafe(begin_then_shut_down, signum)

        signal.signal(signal.SIGTERM, on_sigterm)
