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
    return results(data)


def results(data: dict) -> list[Result]:
    """The figures of one soak report (``SoakReport.as_dict()``, as kept in bench/last_soak.json)."""
    options, books, left = data["options"], data["books"], data["leftovers"]
    held_slots = sum(v["claimed"] + v["pending"] for v in left.get("pools", {}).values())
    final_stuck = any(step.get("attempt") == "final" for step in data["manual_steps"])
    kills, wanted = data["kills"], options["kills"]
    faults = data["faults_survived"]
    return [
        Result("SIGKILLs of qbo-pipeline run (process group)", kills, "kills", f">= {wanted}", kills >= wanted,
               f"{data['kills_after_writes']} right after writes; {len(data['attempts'])} attempts; demo scale "
               f"{options['scale']}, {options['history_days']} days" + (f"; {data['capped']}" if data.get("capped") else "")),
        Result("soak wall time", data["wall_seconds"], "s", "", None, "shared 2-core machine, load 8-11"),
        Result("runs stuck (no progress) during the soak", len(data["stuck"]), "runs", "0", not data["stuck"],
               (data["stuck"][0]["why"] if data["stuck"] else "")),
        Result("manual steps needed", len(data["manual_steps"]), "steps", "0", not data["manual_steps"],
               "mark killed runs failed + free their pool slots"),
        Result("records in QBO", books.get("found", 0), "records", f"= {books.get('expected', '?')}",
               books.get("found") == books.get("expected")),
        Result("records missing", len(books.get("missing", [])), "records", "0", not books.get("missing")),
        Result("records doubled", len(books.get("doubled", {})), "records", "0", not books.get("doubled")),
        Result("records wrong or unexpected", len(books.get("extra", [])), "records", "0", not books.get("extra")),
        Result("Dagster runs left unfinished", len(left.get("unfinished_runs", [])), "runs", "0",
               not left.get("unfinished_runs"), "after the manual steps" if data["manual_steps"] else ""),
        Result("pool slots left claimed or steps pending", held_slots, "slots", "0", held_slots == 0,
               "after the manual steps" if data["manual_steps"] else ""),
        Result("ledger locks left held", len(left.get("ledger_locks", {})), "locks", "0", not left.get("ledger_locks")),
        Result("ledger runs left running", left.get("ledger_running", 0), "runs", "0", not left.get("ledger_running")),
        Result("clean run after the soak", data["final_run"].get("seconds", 0), "s", "exit 0, no manual step",
               data["final_run"].get("returncode") == 0 and not final_stuck,
               "stuck first; finished after the manual step" if final_stuck else ""),
        Result("write requests of the run after", data["again"].get("writes", -1), "requests", "0",
               data["again"].get("writes") == 0 and data["again"].get("returncode") == 0),
        Result("faults survived", sum(faults.values()), "faults", "", None,
               ", ".join(f"{k} {v}" for k, v in sorted(faults.items())) + f"; access tokens expired {data['tokens_expired']}"),
    ]
