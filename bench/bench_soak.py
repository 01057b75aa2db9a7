"""The black-box soak at bench size: >= 100 SIGKILLs of ``qbo-pipeline run`` (whole process group).

Same harness as the small soak in ``make test`` (``qbo_pipeline_tests/reliability/soak.py``):
a sandbox process with fault injection on, ``qbo-pipeline run`` killed at random moments and
right after writes, the source changed between attempts, runs launched by the
``dagster-daemon``'s source sensor killed too (``QBO_SOAK_DAEMON=1``), then a clean run and
the checks (books over the QBO API, runs left unfinished, pool slots and locks held, the
run after). Stuck runs are repaired by the operator's manual step (counted) so the soak can
go on and still measure the books.

Environment: ``QBO_SOAK_KILLS`` (default 100), ``QBO_SOAK_SCALE`` (demo size, default 0.01),
``QBO_SOAK_MAX_SECONDS`` (wall cap of the kill phase, default 1500), ``QBO_SOAK_SEED``,
``QBO_SOAK_DAEMON`` (0/1, default 0), ``QBO_SOAK_STALL`` (seconds without a request that
make a run stuck, default 45). The full report goes to ``bench/last_soak.json``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from bench.results import Result
from qbo_pipeline_tests.reliability.soak import SoakOptions, soak

REPORT_FILE = Path(__file__).resolve().parent / "last_soak.json"


def run() -> list[Result]:
    options = SoakOptions(
        kills=int(os.environ.get("QBO_SOAK_KILLS", "100")),
        scale=float(os.environ.get("QBO_SOAK_SCALE", "0.01")),
        seed=int(os.environ.get("QBO_SOAK_SEED", "17")),
        max_seconds=float(os.environ.get("QBO_SOAK_MAX_SECONDS", "1500")),
        stall_seconds=float(os.environ.get("QBO_SOAK_STALL", "45")),
        daemon=os.environ.get("QBO_SOAK_DAEMON", "0") == "1",
        repair_stuck=True,
    )
    with tempfile.TemporaryDirectory(prefix="qbo-soak-") as tmp:
        report = soak(Path(tmp), options)
    data = report.as_dict()
    REPORT_FILE.write_text(json.dumps(data, indent=2, default=str))
    print(report.summary(), flush=True)
    books, left = report.books, report.leftovers
    held_slots = sum(v["claimed"] + v["pending"] for v in left.get("pools", {}).values())
    return [
        Result("SIGKILLs of qbo-pipeline run (process group)", report.kills, "kills", f">= {options.kills}",
               report.kills >= options.kills, f"{report.kills_after_writes} right after writes; "
               f"{len(report.attempts)} attempts; demo scale {options.scale}"),
        Result("soak wall time", report.wall_seconds, "s", "", None, "shared 2-core machine"),
        Result("runs stuck (no progress) during the soak", len(report.stuck), "runs", "0", not report.stuck,
               (report.stuck[0]["why"] if report.stuck else "")),
        Result("manual steps needed", len(report.manual_steps), "steps", "0", not report.manual_steps,
               "mark killed runs failed + free their pool slots"),
        Result("records in QBO", books.get("found", 0), "records", f"= {books.get('expected', '?')}",
               books.get("found") == books.get("expected")),
        Result("records missing", len(books.get("missing", [])), "records", "0", not books.get("missing")),
        Result("records doubled", len(books.get("doubled", {})), "records", "0", not books.get("doubled")),
        Result("records wrong or unexpected", len(books.get("extra", [])), "records", "0", not books.get("extra")),
        Result("Dagster runs left unfinished", len(left.get("unfinished_runs", [])), "runs", "0",
               not left.get("unfinished_runs")),
        Result("pool slots left claimed or steps pending", held_slots, "slots", "0", held_slots == 0),
        Result("ledger locks left held", len(left.get("ledger_locks", {})), "locks", "0", not left.get("ledger_locks")),
        Result("ledger runs left running", left.get("ledger_running", 0), "runs", "0", not left.get("ledger_running")),
        Result("clean run after the soak", report.final_run.get("seconds", 0), "s", "exit 0, no manual step",
               report.final_run.get("returncode") == 0 and not report.final_run.get("stuck")),
        Result("write requests of the run after", report.again.get("writes", -1), "requests", "0",
               report.again.get("writes") == 0 and report.again.get("returncode") == 0),
        Result("faults survived", sum(v for k, v in report.faults_survived.items()), "faults", "", None,
               ", ".join(f"{k} {v}" for k, v in sorted(report.faults_survived.items()))
               + f"; access tokens expired {report.tokens_expired}"),
    ]
