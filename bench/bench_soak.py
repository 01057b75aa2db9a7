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
``QBO_SOAK_DAEMON`` (0/1, default 0; ``python -m bench soak_daemon`` sets it), ``QBO_SOAK_STALL``
(seconds without a request that make a run stuck, default 45). The full report goes to
``bench/last_soak.json`` (``bench/last_soak_daemon.json`` for the daemon variant).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from bench.results import Result
from qbo_pipeline_tests.reliability.soak import SoakOptions, soak

REPORT_FILE = Path(__file__).resolve().parent / "last_soak.json"
DAEMON_REPORT_FILE = Path(__file__).resolve().parent / "last_soak_daemon.json"


def run(daemon: bool | None = None) -> list[Result]:
    daemon = os.environ.get("QBO_SOAK_DAEMON", "0") == "1" if daemon is None else daemon
    options = SoakOptions(
        kills=int(os.environ.get("QBO_SOAK_KILLS", "30" if daemon else "100")),
        scale=float(os.environ.get("QBO_SOAK_SCALE", "0.005" if daemon else "0.01")),
        seed=int(os.environ.get("QBO_SOAK_SEED", "17")),
        max_seconds=float(os.environ.get("QBO_SOAK_MAX_SECONDS", "2700" if daemon else "1500")),
        stall_seconds=float(os.environ.get("QBO_SOAK_STALL", "45")),
        run_timeout=float(os.environ.get("QBO_SOAK_RUN_TIMEOUT", "300")),
        daemon=daemon,
        repair_stuck=True,
    )
    with tempfile.TemporaryDirectory(prefix="qbo-soak-") as tmp:
        report = soak(Path(tmp), options)
    data = report.as_dict()
    (DAEMON_REPORT_FILE if daemon else REPORT_FILE).write_text(json.dumps(data, indent=2, default=str))
    print(report.summary(), flush=True)
    return results(data)


def results(data: dict) -> list[Result]:
    """The figures of one soak report (``SoakReport.as_dict()``, as kept in bench/last_soak.json)."""
    options, books, left = data["options"], data["books"], data["leftovers"]
    held_slots = sum(v["claimed"] + v["pending"] for v in left.get("pools", {}).values())
    final_stuck = any(step.get("attempt") == "final" for step in data["manual_steps"])
    kills, wanted = data["kills"], options["kills"]
    faults = data["faults_survived"]
    daemon = options.get("daemon", False)
    killed = [a for a in data["attempts"] if a["killed"]]
    by_kind = ", ".join(f"{kind} {sum(1 for a in killed if a['kind'] == kind)}"
                        for kind in sorted({a["kind"] for a in killed}))
    of_daemon = sum(1 for a in killed if "of the daemon" in a.get("note", ""))
    what = ("SIGKILLs of daemon-launched runs (run worker, or the whole daemon)" if daemon
            else "SIGKILLs of qbo-pipeline run (process group)")
    rows = [
        Result(what, kills, "kills", f">= {wanted}", kills >= wanted,
               f"{data['kills_after_writes']} with writes of the attempt already in QBO; by launch: {by_kind}"
               + (f"; {of_daemon} took the whole daemon" if daemon else "")
               + f"; {len(data['attempts'])} attempts; demo scale {options['scale']}, {options['history_days']} days"
               + (f"; {data['capped']}" if data.get("capped") else "")),
        Result("soak wall time", data["wall_seconds"], "s", "", None, f"shared 2-core machine, load {_load()}"),
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
    if daemon:
        final = data.get("daemon_final_run") or {}
        rows.insert(-3, Result("the daemon's run after the kills", final.get("seconds", 0), "s",
                               "finishes on its own", bool(final.get("ok")),
                               ", ".join(f"{k} {v}" for k, v in (final.get("runs") or final.get("unfinished") or {}).items())))
    return rows


def _load() -> str:
    """The machine's load average now (1, 5, 15 min), for the record of a timing on a shared machine."""
    return " / ".join(f"{v:.1f}" for v in os.getloadavg())
