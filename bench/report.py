"""The report: the results table, where the CPU went, the ratios to the reference, memory and
the PASS/FAIL line of each target."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from common import CLIFF_CONNECTIONS, CONNECTIONS, SOAK, say
from load import Result
from server import Server


def print_usage(results: list[Result]) -> None:
    say(
        f"{'scenario':<38}{'app CPU':>9}{'PG CPU':>9}{'wrk CPU':>9}{'busy':>7}{'irq':>7}{'other':>7}"
        f"{'PG xact':>9}{'new PG':>8}  conns per worker"
    )
    say(
        f"{'':<38}{'us/req':>9}{'us/req':>9}{'us/req':>9}{'cores':>7}{'cores':>7}{'cores':>7}"
        f"{'per req':>9}{'conns':>8}  (mid-run)"
    )
    for r in results:
        u = r.usage
        say(
            f"{r.name:<38}{u['server_us']:>9.0f}{u['postgres_us']:>9.0f}{u['wrk_us']:>9.0f}"
            f"{u['busy_cores']:>7.2f}{u['irq_cores']:>7.2f}{u['other_cores']:>7.2f}{u['xacts']:>9.2f}"
            f"{u['connects']:>8.0f}  {'/'.join(map(str, r.spread))}"
        )


def print_table(results: list[Result]) -> None:
    say(
        f"{'scenario':<38}{'conns':>6}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'max ms':>9}{'sock err':>9}{'non-2xx':>9}  statuses"
    )
    for r in results:
        statuses = " ".join(f"{s}:{c}" for s, c in sorted(r.statuses.items()))
        say(
            f"{r.name:<38}{r.connections:>6}{r.rps:>9.1f}{r.ms('p50'):>9.1f}{r.ms('p95'):>9.1f}"
            f"{r.ms('p99'):>9.1f}{r.ms('max'):>9.1f}{r.socket_errors:>9}{r.non_2xx:>9}  {statuses}"
        )


def report(
    results: dict[str, Result],
    settings: Any,
    app: Server,
    app_memory: dict[int, dict[str, int]],
    ref_memory: dict[int, dict[str, int]],
    soak_before: dict[int, dict[str, int]],
    plans_ok: bool,
) -> None:
    ordered = list(results.values())
    say()
    say("== results (latency in ms; sock err = wrk connect/read/write errors + 30 s timeouts)")
    print_table(ordered)
    if "create_delete" in results:
        create = results["create_delete"]
        say(f"create+delete: {create.rps / 2:.1f} create+delete pairs/s ({create.rps:.1f} requests/s)")
    say()
    say(
        "where the CPU went: CPU time per request of the app's workers, of all PostgreSQL processes "
        "and of wrk; cores busy machine-wide, of which in interrupts (loopback TCP) and used by "
        "anything else (other people's work: noise); PostgreSQL transactions per request; "
        "connections PostgreSQL accepted during the run"
    )
    print_usage(ordered)
    say()

    ratios: dict[str, float] = {}
    reference = results.get("reference")
    if reference and reference.rps:
        ref_cpu = reference.usage["server_us"] + reference.usage["postgres_us"]
        for key in ("list", "get", "me"):
            if key in results:
                r = results[key]
                ratios[key] = r.rps / reference.rps
                cpu = r.usage["server_us"] + r.usage["postgres_us"]
                say(
                    f"ratio to the raw reference: {r.name.split(' ', 1)[1]} = {100 * ratios[key]:.0f} % of its "
                    f"throughput ({r.rps:.0f} vs {reference.rps:.0f} req/s); by CPU per request "
                    f"(app + PostgreSQL) {100 * ref_cpu / cpu:.0f} % ({cpu:.0f} vs {ref_cpu:.0f} us)"
                )
        say()

    say("== memory (kB; VmHWM = peak resident set over the whole run, VmRSS = now)")
    for pid, values in app_memory.items():
        role = "serve (supervisor)" if pid == app.process.pid else "app worker"
        say(f"  {role:<20} pid {pid:<8} VmHWM {values.get('VmHWM', 0):>8}  VmRSS {values.get('VmRSS', 0):>8}")
    for pid, values in ref_memory.items():
        say(f"  {'reference worker':<20} pid {pid:<8} VmHWM {values.get('VmHWM', 0):>8}  (at its end)")
    growth_flags = []
    soak = results.get("soak")
    if soak:
        say(
            "soak RSS samples under load (s: kB per worker): "
            + "; ".join(f"{t:.0f}: " + "/".join(str(v) for v in rss.values()) for t, rss in soak.samples)
        )
        # Start: the first sample once the soak has warmed up (10 s in); end: the last sample,
        # taken under load too, so both ends see the same steady state.
        warm = [rss for t, rss in soak.samples if t >= min(10, SOAK / 3)] or [rss for _, rss in soak.samples]
        for pid in soak_before:
            start_rss = warm[0].get(pid, 0) if warm else 0
            end_rss = warm[-1].get(pid, 0) if warm else 0
            grew = end_rss - start_rss
            flagged = grew > max(8 * 1024, 0.05 * start_rss)
            growth_flags.append(flagged)
            say(
                f"  soak worker {pid}: RSS {soak_before[pid].get('VmRSS', 0)} kB before the soak, "
                f"{start_rss} kB once warm, {end_rss} kB at the end: {grew:+d} kB"
                + ("  <-- grew beyond noise (8 MB / 5 %)" if flagged else " (noise)")
            )
    say()

    def verdict(ok: bool, text: str) -> None:
        say(f"{'PASS' if ok else 'FAIL'}  {text}")

    def noise(*keys: str) -> str:
        other = max(results[k].usage["other_cores"] for k in keys if k in results)
        return (
            (
                f" (NOISY: up to {other:.2f} cores of foreign load during these runs; "
                "trust the CPU-per-request ratio above)"
            )
            if other > 0.2
            else ""
        )

    say("== targets")
    at_100 = [r for k, r in results.items() if r.connections == CONNECTIONS and k != "reference"]
    if at_100:
        errors_100 = sum(r.socket_errors + r.non_2xx for r in at_100)
        verdict(
            errors_100 == 0,
            f"zero errors at {CONNECTIONS} connections: {errors_100} socket errors + "
            f"non-2xx over {', '.join(r.name.split()[0] for r in at_100)}",
        )
    if "list" in results:
        listing = results["list"]
        verdict(
            listing.ms("p99") < 150,
            f"task list p99 < 150 ms: {listing.ms('p99'):.1f} ms" + noise("list"),
        )
    if "list" in ratios:
        verdict(
            ratios["list"] >= 0.70,
            f"list throughput >= 70 % of the raw reference: {100 * ratios['list']:.0f} %" + noise("list", "reference"),
        )
    if "get" in ratios:
        verdict(
            ratios["get"] >= 0.80,
            f"get one task >= 80 % of the raw reference's throughput: {100 * ratios['get']:.0f} %"
            + noise("get", "reference"),
        )
    if "login:1" in results:
        login1 = results["login:1"]
        verdict(
            login1.ms("p50") < 200,
            f"one login (concurrency 1) p50 < 200 ms: {login1.ms('p50'):.1f} ms",
        )
    if "me" in ratios:
        verdict(
            ratios["me"] >= 0.80,
            f"/api/auth/me >= 80 % of the raw reference's throughput: {100 * ratios['me']:.0f} %"
            + noise("me", "reference"),
        )
    if "cliff" in results:
        cliff = results["cliff"]
        server_errors = sum(c for s, c in cliff.statuses.items() if s >= 500 and s != 503)
        cliff_ok = (
            server_errors == 0
            and cliff.socket_errors == 0
            and cliff.missing_retry_after == 0
            and cliff.ms("max") < settings.db_pool_timeout * 1000
            and all(s in (200, 503) for s in cliff.statuses)
        )
        verdict(
            cliff_ok,
            f"no cliff at {CLIFF_CONNECTIONS} connections: max latency {cliff.ms('max'):.0f} ms "
            f"(pool timeout {settings.db_pool_timeout * 1000:.0f} ms), statuses "
            f"{dict(sorted(cliff.statuses.items()))}, {cliff.socket_errors} socket errors, "
            f"{cliff.missing_retry_after} 503s without Retry-After",
        )
    if soak:
        verdict(not any(growth_flags), f"soak {SOAK} s: worker RSS steady (growth within 8 MB / 5 %)")
    verdict(plans_ok, "query plans use indexes (no Seq Scan on tasks)")
    say()


def platform_memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) // 1024} MiB RAM"
    except OSError:
        pass
    return "unknown RAM"
