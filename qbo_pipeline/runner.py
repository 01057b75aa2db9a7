"""The command-line run path (``qbo-pipeline run`` and ``backfill``): one export run per company,
recorded in the persistent Dagster instance, quiet on the console, summarised at the end.

Each company is one run of the ``export`` job for its partition. The run executes in this
process (no daemon needed for ``make run``), and is still safe beside runs the daemon
launches: the export step holds the company's export lock whoever started it, so a second
caller waits with a message (or, with ``--no-wait``, refuses); a run left STARTED by a killed
process is marked failed when the next one starts; the instance is initialised once under a
file lock. The console shows one line per stage and the summary; every event goes to a log
file under ``var/logs`` (``-v`` shows it on the console too).
"""

from __future__ import annotations

import logging
import sys
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click
import dagster as dg

from qbo_pipeline import stages
from qbo_pipeline.config import PipelineConfig, state_dir
from qbo_pipeline.defs.assets import EXPORT_STEP, SYNC_REPORT_KIND
from qbo_pipeline.defs.logs import LOG_FORMAT
from qbo_pipeline.defs.partitions import ensure_companies
from qbo_pipeline.defs.runs import fail_orphaned_runs, open_instance, process_tags
from qbo_pipeline.defs.sensors import EXPORT_JOB
from qbo_pipeline.entities import REGISTRY

log = logging.getLogger("qbo_pipeline.runner")

LAUNCHED_BY_TAG = "qbo_pipeline/launched_by"
# Exit codes of `run` and `backfill` (docs/dagster.md); the summary is printed in every case.
EXIT_OK = 0
EXIT_RECORDS_FAILED = 1  # some records failed or are blocked (`qbo-pipeline failed list`)
EXIT_RUN_FAILED = 4  # a run failed before finishing (not connected, QuickBooks refused the connection...)
EXIT_BUSY = 5  # --no-wait: another export of the company is running
EXIT_INTERRUPTED = 130  # SIGTERM or Ctrl-C: the run is marked failed, nothing is left held
CONSOLE_LOGGERS = ("qbo_pipeline.progress", "qbo_pipeline.runner", "qbo_pipeline.runs", "qbo_pipeline.local")


@dataclass
class CompanyOutcome:
    """One company's run: its Dagster run, the sync report the export step kept in the ledger."""

    company: str
    run_id: str
    status: str
    report: dict[str, Any] | None
    error: str | None = None

    @property
    def records_failed(self) -> bool:
        entities = (self.report or {}).get("entities", {})
        return any(counts.get("failed") or counts.get("blocked") for counts in entities.values())

    @property
    def busy(self) -> bool:
        return bool(self.error and "CompanyBusyError" in self.error)


class _ConsoleFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or record.name.startswith(CONSOLE_LOGGERS)


def quiet_console(verbose: bool) -> Path:
    """Progress lines and warnings on the console, everything in a log file under ``var/logs`` (its path returned)."""
    path = state_dir() / "logs" / f"run-{datetime.now():%Y%m%d-%H%M%S}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    to_file = logging.FileHandler(path, encoding="utf-8")
    to_file.setFormatter(logging.Formatter(LOG_FORMAT))
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("%(message)s" if not verbose else LOG_FORMAT))
    if not verbose:
        console.addFilter(_ConsoleFilter())
        logging.captureWarnings(True)
        logging.getLogger("py.warnings").propagate = False
        logging.getLogger("py.warnings").addHandler(to_file)
    root.addHandler(to_file)
    root.addHandler(console)
    for noisy in ("httpx", "httpcore", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return path


def connect_headless_if_needed(config: PipelineConfig, company_key: str) -> str:
    """Make sure the company is connected; a local sandbox company is connected automatically."""
    from qbo_pipeline.ledger import Ledger
    from qbo_pipeline.qbo.auth import connect_headless

    company = config.company(company_key)
    ledger = Ledger(config.ledger.url)
    try:
        vault = stages.open_vault(config, ledger)
        connection = ledger.connection(company_key)
        realm_id = vault.realm_id(company_key)
        if realm_id and connection and connection.get("status") == "connected":
            return realm_id
        if company.environment != "local":
            raise click.ClickException(
                f"company {company_key!r} is not connected to QuickBooks ({company.environment}): "
                f"run `qbo-pipeline connect --company {company_key}` first"
            )
        realm_id = connect_headless(vault, company)
        log.info("connected company %s to the local sandbox (realm %s)", company_key, realm_id)
        return realm_id
    finally:
        ledger.dispose()


def export_config(*, dry_run: bool = False, full: bool = False, first: date | None = None, last: date | None = None,
                  wait: bool = True) -> dict[str, Any]:
    """The export step's run config (the same fields the UI's launchpad shows)."""
    values: dict[str, Any] = {"dry_run": dry_run, "full": full, "wait": wait}
    if first:
        values["window_from"] = first.isoformat()
    if last:
        values["window_to"] = last.isoformat()
    return {"ops": {EXPORT_STEP: {"config": values}}}


def export_company(
    config: PipelineConfig,
    company_key: str,
    *,
    run_config: dict[str, Any],
    log_path: Path,
    verbose: bool = False,
    time_scale: float = 1.0,
) -> CompanyOutcome:
    """One run of the export job for the company's partition, in the persistent instance."""
    from qbo_pipeline.definitions import build_definitions, default_resources

    instance = open_instance()
    ensure_companies(instance, [company_key])
    fail_orphaned_runs(instance, company_key, say=log.info)
    definitions = build_definitions(resources=default_resources(time_scale=time_scale))
    job = definitions.resolve_job_def(EXPORT_JOB)
    loggers = {
        "console": {"config": {"log_level": "DEBUG" if verbose else "CRITICAL"}},
        "file": {"config": {"path": str(log_path)}},
    }
    run_id = str(uuid.uuid4())  # known before the run starts: its process tags name it
    result = job.execute_in_process(
        instance=instance,
        partition_key=company_key,
        run_config={**run_config, "loggers": loggers},
        run_id=run_id,
        tags={**process_tags(run_id), LAUNCHED_BY_TAG: "qbo-pipeline"},
        raise_on_error=False,
    )
    error = None
    if not result.success:
        failures = [e for e in result.all_events if e.is_step_failure]
        if failures and _interrupted(failures[0].step_failure_data.error):
            log.error("company %s: run %s stopped by a signal; its lock is released, the next run goes on from "
                      "where it stopped", company_key, result.run_id[:8])
            raise SystemExit(EXIT_INTERRUPTED)
        error = _root_cause(failures[0].step_failure_data.error) if failures else "the run failed"
        log.error("company %s: run %s failed: %s (details in the log)", company_key, result.run_id[:8], error)
    return CompanyOutcome(company_key, result.run_id, instance.get_run_by_id(result.run_id).status.value,
                          _sync_report(config, company_key, result.run_id), error)


def _interrupted(error: Any) -> bool:
    """Dagster turns SIGTERM and SIGINT during a run into this error."""
    while error is not None:
        if getattr(error, "cls_name", None) in ("DagsterExecutionInterruptedError", "KeyboardInterrupt", "SystemExit"):
            return True
        error = getattr(error, "cause", None)
    return False


def _root_cause(error: Any) -> str:
    """The innermost error's message (what a person can act on), not Dagster's wrapper."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return f"{error.cls_name}: {error.message.strip()}" if getattr(error, "cls_name", None) else error.message.strip()


def _sync_report(config: PipelineConfig, company_key: str, run_id: str) -> dict[str, Any] | None:
    from qbo_pipeline.ledger import Ledger

    ledger = Ledger(config.ledger.url)
    try:
        for row in ledger.reports(company_key, limit=20):
            report = row.get("report") or {}
            if row.get("run_id") == run_id and report.get("kind") == SYNC_REPORT_KIND:
                return report
    finally:
        ledger.dispose()
    return None


SUMMARY_COLUMNS = ("read", "created", "updated", "unchanged", "skipped", "quarantined", "removed", "deactivated",
                   "failed", "blocked")


def print_summary(outcomes: list[CompanyOutcome], *, dagster_home: Path, sandbox_data: Path | None, log_path: Path) -> None:
    """A short summary for a person: per company and entity, where every source row went."""
    click.echo("")
    for outcome in outcomes:
        report = outcome.report or {}
        what = (f"{report.get('mode', '?')} sync" + (f" of transactions dated {report['window']}" if report.get("window") else "")
                + (" (dry run)" if report.get("dry_run") else ""))
        click.echo(f"Company {outcome.company}: {what}, Dagster run {outcome.run_id[:8]} {outcome.status}"
                   + (f", {report.get('write_requests', 0)} write requests" if report else ""))
        if outcome.error and not report:
            click.echo(f"  {outcome.error}")
            continue
        width = max(len("entity"), *(len(e.name) for e in REGISTRY)) + 2
        click.echo(f"  {'entity':<{width}}" + "".join(f"{c:>12}" for c in SUMMARY_COLUMNS))
        for entity in REGISTRY:
            counts = report.get("entities", {}).get(entity.name)
            if counts is None:
                continue
            cells = [sum(counts["skipped"].values()) if c == "skipped" else counts.get(c, 0) for c in SUMMARY_COLUMNS]
            click.echo(f"  {entity.name:<{width}}" + "".join(f"{v:>12}" for v in cells))
        derived = {name: c["derived"] for name, c in report.get("entities", {}).items() if c.get("derived")}
        if derived:
            click.echo("  written from product name templates (not source rows): "
                       + ", ".join(f"{name} {n}" for name, n in derived.items()))
        drift = report.get("drift") or {}
        if drift.get("open"):
            held = ", ".join(f"{entity} {n}" for entity, n in drift["open_by_entity"].items())
            click.echo(f"  drift: {drift['open']} record(s) changed in QuickBooks by a person are held ({held}): "
                       "`qbo-pipeline drift list`")
        for row in (report.get("plan") or [])[:50]:
            changes = "; ".join(row["changes"]) or row.get("reason") or ""
            click.echo(f"  plan: {row['action']:<10} {row['entity']} {row['source_id']}  {changes}")
    click.echo("")
    click.echo(f"Full log: {log_path}")
    click.echo(f"Dagster instance: {dagster_home}  (browse it with `make ui`)")
    if sandbox_data is not None:
        click.echo(f"Local QBO sandbox data: {sandbox_data}")
    click.echo("Failed and quarantined records: `qbo-pipeline status`")


def exit_code(outcomes: list[CompanyOutcome]) -> int:
    if any(o.busy for o in outcomes):
        return EXIT_BUSY
    if any(o.status != dg.DagsterRunStatus.SUCCESS.value for o in outcomes):
        return EXIT_RUN_FAILED
    if any(o.records_failed for o in outcomes):
        return EXIT_RECORDS_FAILED
    return EXIT_OK


def export_once(config: PipelineConfig, company_key: str, *, dry_run: bool = False, full: bool = False,
                wait: bool = True, log_path: Path | None = None) -> CompanyOutcome:
    """One export run of a company with the command line's defaults (tests and benchmarks use it)."""
    path = log_path or state_dir() / "logs" / "runs.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return export_company(config, company_key, run_config=export_config(dry_run=dry_run, full=full, wait=wait),
                          log_path=path)
