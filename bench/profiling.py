"""BENCH_PROFILE=1: py-spy on one worker during an extra, unscored list run; prints the top
frames by self and inclusive time and keeps the raw stacks in results/profile-list.txt."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections import Counter

from common import CONNECTIONS, DURATION, RESULTS, ROOT, say
from load import Load
from server import Server


def profile_list(load: Load, server: Server) -> None:
    pyspy = os.environ.get("BENCH_PYSPY") or shutil.which("py-spy")
    if not pyspy:
        say(
            "BENCH_PROFILE is set but py-spy is not on PATH (or in BENCH_PYSPY): skipped. "
            "Install it in a throwaway venv: python3 -m venv /tmp/prof && /tmp/prof/bin/pip install py-spy"
        )
        return
    worker = server.workers()[0]
    out = RESULTS / "profile-list.txt"
    say(
        f"== profile: py-spy on worker {worker} during {DURATION} s of list load "
        f"(raw stacks in {out.relative_to(ROOT)})"
    )
    spy = subprocess.Popen(
        [
            pyspy,
            "record",
            "--pid",
            str(worker),
            "--duration",
            str(DURATION),
            "--rate",
            "200",
            "--nonblocking",
            "--format",
            "raw",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    time.sleep(1)
    load.run("list (profiled, not scored)", server, "list", CONNECTIONS, DURATION, warmup=0)
    _, err = spy.communicate(timeout=60)
    if spy.returncode != 0 or not out.exists():
        say(f"py-spy failed: {err.decode(errors='replace').strip()[-500:]}")
        return
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [re.sub(r":\d+\)$", ")", f.strip()) for f in stack.split(";") if f.strip()]
        frames = [f for f in frames if not f.startswith("process ")] or frames  # drop "process N:"
        if frames:
            self_time[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        say("py-spy recorded no samples")
        return
    say(f"top 15 by self time ({total} samples while busy):")
    for frame, count in self_time.most_common(15):
        say(f"  {100 * count / total:5.1f}%  {frame}")
    say("top 25 by inclusive time:")
    for frame, count in inclusive.most_common(25):
        say(f"  {100 * count / total:5.1f}%  {frame}")
