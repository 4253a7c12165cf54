"""Issue 23: what `/metrics` costs. The list scenario on a server with METRICS_ENABLED=false,
then on one with metrics on and a Prometheus-like scraper reading `/metrics` every second, then
both again in the other order (the machine warms and cools: alternating evens that out). The
target: the list with metrics on stays at 95 % or more of the list without, in the same run."""

from __future__ import annotations

import sys
import threading
import urllib.request

from common import BACKEND, CONNECTIONS, DURATION, WORKERS, say
from load import Load, Result
from report import print_table, print_usage
from server import Server, free_port, start_server

SCRAPE_EVERY_SECONDS = 1.0
TARGET = 0.95


class Scraper:
    """Reads /metrics every SCRAPE_EVERY_SECONDS while the load runs (an `Alongside`)."""

    def __init__(self, base: str) -> None:
        self.url = base + "/metrics"
        self.stopping = threading.Event()
        self.scrapes = 0
        self.failures = 0
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self.stopping.wait(SCRAPE_EVERY_SECONDS):
            try:
                with urllib.request.urlopen(self.url, timeout=10) as response:
                    response.read()
                self.scrapes += 1
            except OSError:
                self.failures += 1

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()


def _run_list(load: Load, server_env: dict[str, str], metrics: bool, round_: int) -> Result:
    port = free_port()
    env = server_env | {
        "PORT": str(port),
        "MIGRATE_ON_START": "false",
        "METRICS_ENABLED": "true" if metrics else "false",
    }
    label = "on" if metrics else "off"
    server: Server = start_server(
        f"server-metrics-{label}-{round_}", [sys.executable, "-m", "app", "serve"], BACKEND, env, port
    )
    try:
        if not metrics:
            return load.run(f"list, metrics off ({round_})", server, "list", CONNECTIONS, DURATION)
        scraper = Scraper(server.base)
        result = load.run(
            f"list, metrics on + scrape/s ({round_})", server, "list", CONNECTIONS, DURATION, alongside=scraper
        )
        say(f"    {scraper.scrapes} scrapes of /metrics, {scraper.failures} failed")
        return result
    finally:
        server.stop()


def run_metrics(load: Load, server_env: dict[str, str]) -> tuple[float, float]:
    """Off, on, on, off; returns the summed throughputs (on, off)."""
    say(f"== metrics: the list with METRICS_ENABLED=false vs true (+ a scrape a second), WORKERS={WORKERS}")
    results = [
        _run_list(load, server_env, metrics, round_)
        for round_, metrics in enumerate((False, True, True, False), start=1)
    ]
    print_table(results)
    print_usage(results)
    off = results[0].rps + results[3].rps
    on = results[1].rps + results[2].rps
    ratio = on / off if off else 0.0
    verdict = "PASS" if ratio >= TARGET else "FAIL"
    say(
        f"  {verdict} list with metrics on {on / 2:.0f} req/s vs off {off / 2:.0f} req/s "
        f"= {100 * ratio:.1f} % (target >= {100 * TARGET:.0f} %)"
    )
    return on, off
