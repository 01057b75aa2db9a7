"""Automation: a source-change sensor per company, sync reports after each run, nightly reconciliation.

The source sensor's cursor is the source's watermarks (latest ``updated_at`` per entity).
When they move, it asks the source which transaction days changed and requests exactly
those partitions, in as few runs as possible (one run spans at most 92 days). A run key
made of the new watermarks means a tick that is evaluated twice never starts a run twice.
"""


import hashlib
import json
from datetime import date, datetime, timedelta
from typing import Any

import dagster as dg

from qbo_pipeline import sync
from qbo_pipeline.config import PipelineConfig
from qbo_pipeline.defs.assets import BACKFILL_DAYS_PER_RUN, COMPANY_TAG
from qbo_pipeline.defs.jobs import export_job_name, master_job_name
from qbo_pipeline.defs.partitions import clamp_to_partitions, spanning_ranges, transaction_partitions
from qbo_pipeline.defs.reports import build_sync_report, record_sync_report
from qbo_pipeline.defs.resources import PipelineResource

SOURCE_SENSOR_INTERVAL_S = 300
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
EARLIEST = datetime(1900, 1, 1)


def _parse_cursor(cursor: str | None) -> dict[str, datetime | None] | None:
    if not cursor:
        return None
    return {k: datetime.fromisoformat(v) if v else None for k, v in json.loads(cursor).items()}


def _dump_cursor(watermarks: dict[str, datetime | None]) -> str:
    return json.dumps({k: v.isoformat() if v else None for k, v in sorted(watermarks.items())})


def source_change_requests(
    reader: Any, partitions: dg.DailyPartitionsDefinition, company: str, cursor: str | None
) -> tuple[list[dg.RunRequest], str, str | None]:
    """Run requests for what changed in the source since ``cursor``: (requests, new cursor, skip reason)."""
    entities = [*sync.MASTER_ENTITIES, *sync.TRANSACTION_ENTITIES]
    current = {entity: reader.watermark(entity) for entity in entities}
    new_cursor = _dump_cursor(current)
    previous = _parse_cursor(cursor)
    if previous is None:
        return [], new_cursor, (
            "First evaluation: the cursor now holds the source's watermarks. "
            "Run a backfill of the export job for the history; later changes are picked up here."
        )

    def moved(entity: str) -> bool:
        now, before = current.get(entity), previous.get(entity)
        return now is not None and (before is None or now > before)

    token = hashlib.sha256(new_cursor.encode()).hexdigest()[:12]
    days: set[str] = set()
    for entity in sync.TRANSACTION_ENTITIES:
        if moved(entity):
            since = previous.get(entity) or EARLIEST
            days |= {clamp_to_partitions(partitions, d) for d in reader.changed_dates(entity, since)}
    requests = [
        dg.RunRequest(
            run_key=f"{company}:{token}:{start}..{end}",
            job_name=export_job_name(company),
            tags={RANGE_START_TAG: start, RANGE_END_TAG: end, COMPANY_TAG: company},
        )
        for start, end in spanning_ranges(sorted(days), BACKFILL_DAYS_PER_RUN)
    ]
    if not requests and any(moved(e) for e in sync.MASTER_ENTITIES):
        requests.append(
            dg.RunRequest(run_key=f"{company}:{token}:master", job_name=master_job_name(company), tags={COMPANY_TAG: company})
        )
    if not requests:
        return [], new_cursor, "No source row changed since the last evaluation."
    return requests, new_cursor, None


def build_source_sensor(config: PipelineConfig, company: str, jobs: list) -> dg.SensorDefinition:
    partitions = transaction_partitions(config)

    @dg.sensor(
        name=f"source_changes_{company}",
        jobs=jobs,
        minimum_interval_seconds=SOURCE_SENSOR_INTERVAL_S,
        description=f"Requests exactly the export partitions of {company!r} whose source rows changed.",
        default_status=dg.DefaultSensorStatus.STOPPED,
    )
    def source_changes(context: dg.SensorEvaluationContext, pipeline: PipelineResource) -> dg.SensorResult | dg.SkipReason:
        config = pipeline.load()
        with sync.reader_for(config, company) as reader:
            requests, cursor, skip = source_change_requests(reader, partitions, company, context.cursor)
        if skip:
            context.update_cursor(cursor)
            return dg.SkipReason(skip)
        context.log.info(f"{len(requests)} run(s) requested for changed source rows")
        return dg.SensorResult(run_requests=requests, cursor=cursor)

    return source_changes


def _report_sensor(status: dg.DagsterRunStatus, name: str) -> dg.RunStatusSensorDefinition:
    @dg.run_status_sensor(
        run_status=status,
        name=name,
        description=f"Writes the sync report of every export run that ends in {status.value} to the ledger and to sync_reports.",
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
    )
    def report_sensor(context: dg.RunStatusSensorContext, pipeline: PipelineResource) -> dg.SkipReason | None:
        run = context.dagster_run
        company = run.tags.get(COMPANY_TAG) or _company_from_assets(run)
        if not company:
            return dg.SkipReason(f"run {run.run_id} exported no company")
        report = build_sync_report(context.instance, run, company)
        record_sync_report(pipeline.load(), context.instance, report)
        return None

    return report_sensor


def _company_from_assets(run: Any) -> str | None:
    for key in run.asset_selection or ():
        if len(key.path) == 2 and key.path[1].startswith("qbo_"):
            return key.path[0]
    return None


def build_nightly_reconciliation(config: PipelineConfig, company: str) -> dg.ScheduleDefinition:
    """Re-run yesterday's partition every night: idempotent, and its checks reconcile with QBO."""

    @dg.schedule(
        name=f"nightly_reconciliation_{company}",
        cron_schedule="0 2 * * *",
        execution_timezone="UTC",
        job_name=export_job_name(company),
        description=f"Nightly: re-export yesterday for {company!r} (no writes when unchanged) and reconcile it with QuickBooks.",
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )
    def nightly(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        scheduled = context.scheduled_execution_time or datetime.now()
        yesterday: date = scheduled.date() - timedelta(days=1)
        key = clamp_to_partitions(transaction_partitions(config), yesterday)
        return dg.RunRequest(run_key=f"{company}:nightly:{key}", partition_key=key, tags={COMPANY_TAG: company})

    return nightly


sync_report_on_success = _report_sensor(dg.DagsterRunStatus.SUCCESS, "sync_report_on_success")
sync_report_on_failure = _report_sensor(dg.DagsterRunStatus.FAILURE, "sync_report_on_failure")
