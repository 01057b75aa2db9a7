"""Automation over every company: one source-change sensor and one nightly schedule.

The sensor is the same for 1 or 1,000 companies. Each tick adds the pipeline file's new
companies as partitions (no code change, no reload) and asks the stage API, per company,
whether the source changed since the ledger's cursor (a cheap question); the run key
carries that cursor, so a tick evaluated twice never starts a run twice, and a run still
queued for the same change is not requested again. A company whose check fails is
logged and skipped; the others go on.
"""


import hashlib
import json
from datetime import datetime

import dagster as dg

from qbo_pipeline import stages
from qbo_pipeline.defs.assets import EXPORT_STEP, qbo_export
from qbo_pipeline.defs.partitions import COMPANY_PARTITIONS_NAME, companies
from qbo_pipeline.defs.resources import LedgerResource, PipelineResource
from qbo_pipeline.defs.runs import fail_orphaned_runs

SOURCE_SENSOR_INTERVAL_S = 300
EXPORT_JOB = "export"

export_job = dg.define_asset_job(
    EXPORT_JOB,
    selection=dg.AssetSelection.assets(qbo_export),
    partitions_def=companies,
    description="Sync one company (the partition): what changed since its cursor, in one engine run.",
)


def _digest(cursor: stages.Cursor | None) -> str:
    """A short stable name of the company's ledger cursor, for run keys."""
    text = json.dumps({k: v.isoformat() if v else None for k, v in sorted((cursor or {}).items())})
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _retry_key(instance: dg.DagsterInstance, company: str, run_key: str) -> str | None:
    """A new run key when the run requested for this change failed (the cursor stayed where it was):
    one retry per failed run, never while a run of the company is queued or in progress."""
    runs = instance.get_runs(dg.RunsFilter(tags={"dagster/partition": company}), limit=1)
    if not runs or runs[0].status != dg.DagsterRunStatus.FAILURE:
        return None
    return f"{run_key}:after-{runs[0].run_id[:8]}"


@dg.sensor(
    name="source_changes",
    job=export_job,
    minimum_interval_seconds=SOURCE_SENSOR_INTERVAL_S,
    description="Adds the pipeline file's companies as partitions and requests an export of each company "
    "whose source changed since its ledger cursor.",
    default_status=dg.DefaultSensorStatus.STOPPED,
)
def source_changes(
    context: dg.SensorEvaluationContext, pipeline: PipelineResource, ledger: LedgerResource
) -> dg.SensorResult | dg.SkipReason:
    settings = pipeline.load()
    fail_orphaned_runs(context.instance, say=context.log.info)
    keys = list(settings.company_keys)
    known = set(context.instance.get_dynamic_partitions(COMPANY_PARTITIONS_NAME))
    new = [key for key in keys if key not in known]
    requested: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    requests: list[dg.RunRequest] = []
    for key, pending in stages.pending_changes_many(settings, keys, ledger.get()).items():
        if isinstance(pending, Exception):  # one company's broken source never stops the others
            context.log.warning(f"company {key}: could not check the source for changes: {pending}")
            continue
        if not pending.has_changes:
            requested.pop(key, None)
            continue
        change = f"{key}:{_digest(pending.cursor)}->{pending.token}"  # ledger cursor -> source position
        run_key: str | None = change
        if requested.get(key) == change:
            # requested already: skip unless that run failed (the cursor stayed), then once per failure
            run_key = _retry_key(context.instance, key, change)
        requested[key] = change
        if run_key is not None:
            requests.append(dg.RunRequest(run_key=run_key, partition_key=key))
    cursor = json.dumps(requested, sort_keys=True)
    partition_requests = [companies.build_add_request(new)] if new else []
    if not requests and not new:
        context.update_cursor(cursor)
        return dg.SkipReason(f"No source row changed in {len(keys)} company(ies) since their last export.")
    return dg.SensorResult(run_requests=requests, dynamic_partitions_requests=partition_requests, cursor=cursor)


@dg.schedule(
    name="nightly_reconciliation",
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    job=export_job,
    description="Nightly, per company: re-plan every source row against the ledger (full mode). Catches a row "
    "the change cursor cannot see (a back-dated edit); unchanged records cost no write.",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
def nightly_reconciliation(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    day = (context.scheduled_execution_time or datetime.now()).date().isoformat()
    return [
        dg.RunRequest(run_key=f"nightly:{key}:{day}", partition_key=key,
                      run_config={"ops": {EXPORT_STEP: {"config": {"full": True}}}})
        for key in context.instance.get_dynamic_partitions(COMPANY_PARTITIONS_NAME)
    ]
