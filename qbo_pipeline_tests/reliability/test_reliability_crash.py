"""Crash test: the export process is killed with SIGKILL at random points, again and again.

Each kill lands while the process is writing to QBO (after a random number of its write requests
reached the sandbox, plus a random few milliseconds), so outboxes, half-sent batches and
responses that never arrived are all left behind. Every restart continues from the ledger.
Afterwards QBO must hold every valid source record exactly once, with the right amounts, and
every payment applied to the right invoices; one more run must write nothing.

``QBO_RELIABILITY_KILLS`` (default 10) and ``QBO_RELIABILITY_SCALE`` make it longer.
"""

from __future__ import annotations

import os
import random
import signal
import time

import pytest

from qbo_pipeline_tests.reliability.reliability_helpers import (
    Expected,
    assert_books_right,
    export_to_completion,
    run_stages,
    spawn_export,
)

KILLS = int(os.environ.get("QBO_RELIABILITY_KILLS", "10"))
SCALE = float(os.environ.get("QBO_RELIABILITY_SCALE", "0.02"))
SEED = int(os.environ.get("QBO_RELIABILITY_SEED", "20261121"))


def _kill_while_writing(demo, rng: random.Random, log_file) -> dict:
    """Start an export and SIGKILL it after a random number of its write requests; what happened."""
    before = demo.writes_made()
    process = spawn_export(demo.setup_file, log_file=log_file)
    target = rng.randint(1, 3)
    deadline = time.monotonic() + 60
    while process.poll() is None and demo.writes_made() - before < target and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(rng.uniform(0.0, 0.05))  # somewhere inside the next requests
    alive = process.poll() is None
    if alive:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    return {"killed": alive, "writes": demo.writes_made() - before, "returncode": process.returncode}


@pytest.mark.timeout(240)
def test_sigkill_at_random_points_leaves_every_record_exactly_once(demo_export_factory, record_property):
    demo = demo_export_factory("--no-limits", scale=SCALE)
    rng = random.Random(SEED)
    log_file = demo.workdir / "exports.log"

    attempts = [_kill_while_writing(demo, rng, log_file) for _ in range(KILLS)]
    killed = [a for a in attempts if a["killed"]]
    print(f"crash test: {len(killed)} of {KILLS} export processes killed mid-run; "
          f"write requests that reached QBO per attempt: {[a['writes'] for a in attempts]}")
    record_property("sigkills", len(killed))
    assert len(killed) >= KILLS // 2, attempts
    assert sum(1 for a in killed if a["writes"] > 0) >= KILLS // 2, attempts  # killed while writing
    assert all(a["returncode"] == -signal.SIGKILL for a in killed)

    final = export_to_completion(demo.setup_file, log_file)
    assert final["counts"]["failed"] == 0, final["failed"]

    expected = Expected(run_stages(demo.setup.config()).payloads)
    diff = assert_books_right(expected, demo.actual(expected))
    counters = demo.admin("GET", "requests").get(demo.setup.realm, {})
    print(f"crash test: QBO holds {diff['found']} records, each exactly once: {diff['by_entity']}; "
          f"sandbox request counters {counters}")
    record_property("sandbox_requests", counters)

    again = export_to_completion(demo.setup_file, log_file)
    assert again["write_requests"] == 0, again
    assert again["counts"]["created"] == again["counts"]["updated"] == 0
