"""`make run` as a user meets it: the first export of the demo through Dagster, then a rerun.

Each run is the real command (`qbo-pipeline run`) in a fresh state folder: it builds the
demo database, starts the sandbox in its own process, connects through OAuth, and
materializes the company's assets in a persistent Dagster instance. The rerun must make no
write at all. ``QBO_BENCH_RUN_SCALE`` sets the demo size (default: the `make run` default).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.results import Result

ROOT = Path(__file__).resolve().parent.parent
SUMMARY = re.compile(r"summary: created=(\d+) updated=(\d+) skipped=(\d+) failed=(\d+) blocked=(\d+) quarantined=(\d+)")


def _run(state: Path, *args: str) -> tuple[float, dict[str, int]]:
    env = {**os.environ, "QBO_PIPELINE_STATE_DIR": str(state), "DAGSTER_HOME": str(state / "dagster_home")}
    env.pop("QBO_PIPELINE_CONFIG", None)
    command = [str(Path(sys.executable).with_name("qbo-pipeline")), "run", *args]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"qbo-pipeline run failed ({result.returncode}):\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    match = SUMMARY.search(result.stdout)
    if match is None:
        raise RuntimeError(f"no summary line in:\n{result.stdout[-2000:]}")
    keys = ("created", "updated", "skipped", "failed", "blocked", "quarantined")
    return seconds, dict(zip(keys, map(int, match.groups()), strict=True))


def run() -> list[Result]:
    scale = os.environ.get("QBO_BENCH_RUN_SCALE")
    extra = ["--scale", scale] if scale else []
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        first_s, first = _run(state, *extra)
        second_s, second = _run(state)
    size = f"demo scale {scale or 'default (0.02)'}"
    return [
        Result("first make run: seconds", round(first_s, 1), "s", note=f"{size}; {first['created']} records created, "
               f"{first['quarantined']} quarantined, {first['blocked']} blocked; includes building the demo and starting the sandbox"),
        Result("second make run (nothing changed): seconds", round(second_s, 1), "s"),
        Result("second make run: records created + updated", second["created"] + second["updated"], "records",
               target="0", passed=second["created"] + second["updated"] == 0),
    ]
