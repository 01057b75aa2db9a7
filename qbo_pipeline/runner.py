"""Run the export through Dagster from the command line, and summarise what it did.

The first run of a company exports its whole history (one run over all transaction days);
later runs export only the days whose source rows changed since the last successful run,
found the same way the source sensor finds them. Runs go into the persistent Dagster
instance, so the UI shows them like any other run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import click
import dagster as dg

from qbo_pipeline import sync
from qbo_pipeline.config import PipelineConfig
from qbo_pipeline.defs.assets import BACKFILL_DAYS_PER_RUN, COMPANY_TAG, TRANSACTION_EXPORTS
from qbo_pipeline.defs.jobs import export_job_name, master_job_name
from qbo_pipeline.defs.partitions import clamp_to_partitions, transaction_partitions
from qbo_pipeline.defs.reports import COUNT_FIELDS, build_sync_report, record_sync_report
from qbo_pipeline.defs.sensors import EARLIEST, RANGE_END_TAG, RANGE_START_TAG, source_change_requests

log = logging.getLogger("qbo_pipeline.runner")

CURSOR_TAG = "qbo_pipeline/source_cursor"
MASTER_EXPORTS = ("qbo_customers", "qbo_items", "qbo_deactivations")
RUNNER_TAG = "qbo_pipeline/launched_by"


@dataclass
class CompanySummary:
    company: str
    runs: list[dict[str, Any]] = field(default_factory=list)
    entities: dict[str, dict[str, int]] = field(default_factory=dict)
    note: str = ""

    @property
    def failed_runs(self) -> list[dict[str, Any]]:
        return [r for r in self.runs if r["status"] != "SUCCESS"]

    def add(self, report: dict[str, Any]) -> None:
        """Add one run's counts. Transactions of different day ranges add up; customers and
        items are re-read by every run, so for them only what changed adds up and the standing
        counts (unchanged, quarantined...) are the latest run's."""
        self.runs.append({"run_id": report["run_id"], "status": report["status"], "range": report["partition_range"]})
        for name, counts in report["entities"].items():
            mine = self.entities.setdefault(name, dict.fromkeys(COUNT_FIELDS, 0))
            for key, value in counts.items():
                cumulative = name not in MASTER_EXPORTS or key in ("created", "updated", "write_requests")
                mine[key] = mine.get(key, 0) + value if cumulative else value


def connect_headless_if_needed(config: PipelineConfig, company_key: str) -> str:
    """Make sure the company is connected; a local sandbox company is connected automatically."""
    from qbo_pipeline.ledger import Ledger
    from qbo_pipeline.qbo.auth import connect_headless

    company = config.company(company_key)
    ledger = Ledger(config.ledger.url)
    try:
        vault = sync.open_vault(config, ledger)
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


def _last_cursor(instance: dg.DagsterInstance, company_key: str) -> str | None:
    runs = instance.get_runs(
        filters=dg.RunsFilter(tags={COMPANY_TAG: company_key}, statuses=[dg.DagsterRunStatus.SUCCESS]), limit=50
    )
    for run in runs:
        if CURSOR_TAG in run.tags:
            return run.tags[CURSOR_TAG]
    return None


def _dry_run_config(company_key: str, dry_run: bool, names: list[str]) -> dict[str, Any]:
    if not dry_run:
        return {}
    return {"ops": {f"{company_key}__{name}": {"config": {"dry_run": True}} for name in names}}


def plan_runs(config: PipelineConfig, company_key: str, instance: dg.DagsterInstance, *, full: bool) -> tuple[list[tuple[str, str]], str, str]:
    """The day ranges to export, the new source cursor, and why."""
    partitions = transaction_partitions(config)
    previous = None if full else _last_cursor(instance, company_key)
    with sync.reader_for(config, company_key) as reader:
        if previous is None:
            _, cursor, _ = source_change_requests(reader, partitions, company_key, None)
            days = {d for entity in sync.TRANSACTION_ENTITIES for d in reader.changed_dates(entity, EARLIEST)}
            if not days:
                return [], cursor, "no transactions in the source"
            start = clamp_to_partitions(partitions, min(days))
            ranges = chunk_range(start, partitions.get_last_partition_key(), BACKFILL_DAYS_PER_RUN)
            return ranges, cursor, "full history"
        requests, cursor, skip = source_change_requests(reader, partitions, company_key, previous)
    ranges = [(r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG]) for r in requests if RANGE_START_TAG in r.tags]
    return ranges, cursor, skip or f"{len(ranges)} changed day range(s)"


def chunk_range(first: str, last: str, days: int) -> list[tuple[str, str]]:
    """``first`` .. ``last`` (daily keys, inclusive) as consecutive ranges of at most ``days`` days."""
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    ranges = []
    while start <= end:
        stop = min(start + timedelta(days=days - 1), end)
        ranges.append((start.isoformat(), stop.isoformat()))
        start = stop + timedelta(days=1)
    return ranges


def export_once(config: PipelineConfig, company_key: str, *, dry_run: bool = False, full: bool = False) -> CompanySummary:
    """Materialize the export of one company in the persistent Dagster instance: the whole
    history the first time (or with ``full``), else only the days changed since the last run."""
    instance = dg.DagsterInstance.get()
    ranges, cursor, why = plan_runs(config, company_key, instance, full=full)
    log.info("company %s: %s", company_key, why)
    extra_tags = {} if dry_run else {CURSOR_TAG: cursor}
    return _execute(config, company_key, instance, ranges, why, dry_run=dry_run, extra_tags=extra_tags)


def export_days(config: PipelineConfig, company_key: str, first: date, last: date, *, dry_run: bool = False) -> CompanySummary:
    """Materialize the transaction days ``first`` .. ``last`` (a command-line backfill)."""
    partitions = transaction_partitions(config)
    start, end = clamp_to_partitions(partitions, first), clamp_to_partitions(partitions, last)
    ranges = chunk_range(start, end, BACKFILL_DAYS_PER_RUN)
    why = f"backfill of {start} .. {end} in {len(ranges)} run(s)"
    log.info("company %s: %s", company_key, why)
    return _execute(config, company_key, dg.DagsterInstance.get(), ranges, why, dry_run=dry_run, extra_tags={})


def _execute(
    config: PipelineConfig,
    company_key: str,
    instance: dg.DagsterInstance,
    ranges: list[tuple[str, str]],
    why: str,
    *,
    dry_run: bool,
    extra_tags: dict[str, str],
) -> CompanySummary:
    from qbo_pipeline.definitions import build_definitions

    definitions = build_definitions(config)
    summary = CompanySummary(company_key, note=why)
    base_tags = {COMPANY_TAG: company_key, RUNNER_TAG: "qbo-pipeline"}
    if ranges:
        job = definitions.resolve_job_def(export_job_name(company_key))
        export_assets = ["qbo_customers", "qbo_items", *TRANSACTION_EXPORTS, "qbo_deactivations"]
        for index, (start, end) in enumerate(ranges):
            log.info("company %s: exporting transaction days %s .. %s", company_key, start, end)
            # the source cursor goes on the last run only: if an earlier range fails, the next
            # run starts again from the previous cursor and loses nothing
            last = extra_tags if index == len(ranges) - 1 else {}
            result = job.execute_in_process(
                instance=instance,
                tags={**base_tags, **last, RANGE_START_TAG: start, RANGE_END_TAG: end},
                run_config=_dry_run_config(company_key, dry_run, export_assets),
                raise_on_error=False,
            )
            _collect(config, instance, result, company_key, summary)
            if not result.success:
                break  # later ranges may depend on this one; the summary says which run failed
    else:
        job = definitions.resolve_job_def(master_job_name(company_key))
        result = job.execute_in_process(
            instance=instance, tags={**base_tags, **extra_tags},
            run_config=_dry_run_config(company_key, dry_run, ["qbo_customers", "qbo_items", "qbo_deactivations"]),
            raise_on_error=False,
        )
        _collect(config, instance, result, company_key, summary)
    return summary


def _collect(config: PipelineConfig, instance: dg.DagsterInstance, result: Any, company_key: str, summary: CompanySummary) -> None:
    run = instance.get_run_by_id(result.run_id)
    report = build_sync_report(instance, run, company_key)
    record_sync_report(config, instance, report)
    summary.add(report)
    if not result.success:
        for event in result.all_events:
            if event.is_step_failure:
                log.error("step %s failed: %s", event.step_key, event.step_failure_data.error.message.strip())


def print_summary(summaries: list[CompanySummary], *, dagster_home: Path, sandbox_data: Path | None) -> None:
    """A short summary for a person: per company and entity, what happened."""
    columns = ("created", "updated", "unchanged", "skipped_by_rule", "failed", "blocked", "quarantined")
    click.echo("")
    for summary in summaries:
        click.echo(f"Company {summary.company}: {summary.note}; {len(summary.runs)} Dagster run(s) "
                   + ", ".join(f"{r['run_id'][:8]} {r['status']}" for r in summary.runs))
        header = f"  {'entity':<22}" + "".join(f"{c:>17}" for c in columns)
        click.echo(header)
        totals = dict.fromkeys(columns, 0)
        for name in ("qbo_customers", "qbo_items", *TRANSACTION_EXPORTS, "qbo_deactivations"):
            counts = summary.entities.get(name)
            if counts is None:
                continue
            click.echo(f"  {name:<22}" + "".join(f"{counts.get(c, 0):>17}" for c in columns))
            for c in columns:
                totals[c] += counts.get(c, 0)
        click.echo(f"  {'total':<22}" + "".join(f"{totals[c]:>17}" for c in columns))
        click.echo(f"  summary: created={totals['created']} updated={totals['updated']} "
                   f"skipped={totals['unchanged'] + totals['skipped_by_rule']} failed={totals['failed']} "
                   f"blocked={totals['blocked']} quarantined={totals['quarantined']}")
    click.echo("")
    click.echo(f"Dagster instance: {dagster_home}  (browse it with `make ui`)")
    if sandbox_data is not None:
        click.echo(f"Local QBO sandbox data: {sandbox_data}")
    click.echo("Failed and quarantined records: `qbo-pipeline status`")
