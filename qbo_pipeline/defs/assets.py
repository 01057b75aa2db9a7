"""The export as one asset graph, partitioned by company: one step, one engine run, true counts.

The assets derive from the entity registry: one asset per exported entity (``qbo_customers``,
``qbo_invoices``...) and ``sync_reports``, all produced by ONE step that calls
``stages.sync_company`` once. That stage reads only what changed since the company's ledger
cursor (the whole history on the first run), validates, transforms, plans and exports it in
one engine run in dependency order. The step then records one materialization per entity
with that company's own counts for this run, and the run's report on ``sync_reports``:
a fixed number of Dagster events per run, whatever span of dates the changes touch.

The step holds the company's export lock for the whole run, whoever launched it (the
command line, the sensor, a backfill from the UI), so one company never has two exports
at once while different companies run side by side.
"""


import dataclasses
import logging
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import dagster as dg

from qbo_pipeline import stages
from qbo_pipeline.defs.partitions import companies
from qbo_pipeline.defs.resources import LedgerResource, PipelineResource, QboResource
from qbo_pipeline.defs.runs import PID_RUN_TAG, fail_orphaned_runs, process_tags
from qbo_pipeline.entities import REGISTRY, Entity
from qbo_pipeline.runlock import company_export_lock

EXPORT_STEP = "qbo_export"
SYNC_REPORTS = dg.AssetKey("sync_reports")
SYNC_REPORT_KIND = "sync"
DRIFT_CHECK = "no_open_drift"
PLAN_ROWS_SHOWN = 200
progress_log = logging.getLogger("qbo_pipeline.progress")


class ExportConfig(dg.Config):
    """Run options of the export (the launchpad's ``ops: qbo_export: config:``)."""

    dry_run: bool = False
    """Plan only: creates and updates with the fields that change; nothing is written to QuickBooks."""
    full: bool = False
    """Re-plan every source row, not only what changed since the ledger cursor (unchanged records cost no write)."""
    window_from: str | None = None
    """First transaction date (YYYY-MM-DD) of a historical re-export; the cursor is left where it is."""
    window_to: str | None = None
    """Last transaction date (YYYY-MM-DD), included."""
    wait: bool = True
    """When another export of the company runs: wait for it (saying so), or fail at once."""


def entity_key(entity: Entity) -> dg.AssetKey:
    return dg.AssetKey(entity.asset_name)


def _specs() -> list[dg.AssetSpec]:
    by_name = {e.name: e for e in REGISTRY}
    specs = [
        dg.AssetSpec(
            entity_key(e),
            group_name="export",
            kinds={"quickbooks"},
            description=f"{e.qbo_entity} records in each company's QuickBooks, exported from the source's {e.name}.",
            deps=[entity_key(by_name[d]) for d in e.depends_on if d in by_name],
            skippable=True,  # a dry run writes nothing, so it materializes no entity
        )
        for e in REGISTRY
    ]
    specs.append(
        dg.AssetSpec(
            SYNC_REPORTS,
            group_name="reports",
            kinds={"markdown"},
            description="One report per export run of the company: every source row's outcome, per entity.",
            deps=[entity_key(e) for e in REGISTRY],
        )
    )
    return specs


def _check_specs() -> list[dg.AssetCheckSpec]:
    # one check for the run (not one per entity): each check costs three events per run
    return [dg.AssetCheckSpec("no_failed_or_blocked", asset=SYNC_REPORTS,
                              description="Every record of the run was exported or skipped; none failed or is blocked."),
            dg.AssetCheckSpec(DRIFT_CHECK, asset=SYNC_REPORTS,
                              description="No record the pipeline wrote was changed or deleted in QuickBooks by a "
                                          "person and left waiting for the operator (WARN: the export holds it).")]


def _window(config: ExportConfig) -> Any:
    if not (config.window_from or config.window_to):
        return None
    start = date.fromisoformat(config.window_from) if config.window_from else date.min
    end = date.fromisoformat(config.window_to) + timedelta(days=1) if config.window_to else date.max
    return stages.Window(start=start, end=end, open_start=not config.window_from, open_end=not config.window_to)


def _progress(context: dg.AssetExecutionContext) -> Callable[[str], None]:
    """Stage progress: in the run's log and, for the command line, one line on the console."""

    def say(message: str) -> None:
        context.log.info(message)
        progress_log.info("%s", message)

    return say


@dg.multi_asset(
    name=EXPORT_STEP,
    specs=_specs(),
    check_specs=_check_specs(),
    partitions_def=companies,
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=1),
    can_subset=False,
    description="Sync one company: what changed since its cursor, in one engine run.",
)
def qbo_export(
    context: dg.AssetExecutionContext,
    config: ExportConfig,
    pipeline: PipelineResource,
    ledger: LedgerResource,
    qbo: QboResource,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    company = context.partition_key
    settings = pipeline.load()
    say = _progress(context)
    run = context.run
    if run.tags.get(PID_RUN_TAG) != context.run_id:  # launched by the daemon (or a retry): name this worker
        context.instance.add_run_tags(context.run_id, process_tags(context.run_id))
    window = _window(config)
    mode = stages.SyncMode.FULL if (config.full or window is not None) else stages.SyncMode.INCREMENTAL
    request = stages.SyncRequest(company, mode=mode, window=window, dry_run=config.dry_run, run_id=context.run_id)
    with company_export_lock(company, context.run_id, on_wait=say, wait=config.wait):
        fail_orphaned_runs(context.instance, company, keep=context.run_id, say=say)
        # under the lock no other export of the company lives: a ledger run still "running" was killed
        ledger.get().stop_abandoned_runs(company, keep=context.run_id, message="its process ended (killed)")
        with qbo.session(settings, company, ledger.get()) as session:
            result = stages.sync_company(settings, request, session, progress=say)
    ledger.get().save_report(company, context.run_id, sync_report(result))
    for e in REGISTRY:
        counts = result.entities.get(e.name)
        # a dry run changed nothing in QuickBooks, and an entity the run did not read did not change
        if counts is None or config.dry_run or not counts.read:
            continue
        yield dg.MaterializeResult(asset_key=entity_key(e), metadata=counts_metadata(counts))
    yield dg.MaterializeResult(asset_key=SYNC_REPORTS, metadata=report_metadata(context.run_id, result))
    troubled = {name: {"failed": c.failed, "blocked": c.blocked}
                for name, c in result.entities.items() if c.failed or c.blocked}
    yield dg.AssetCheckResult(
        asset_key=SYNC_REPORTS, check_name="no_failed_or_blocked", passed=not troubled,
        severity=dg.AssetCheckSeverity.ERROR, metadata={"entities": dg.MetadataValue.json(troubled),
                                                         "dry_run": config.dry_run},
        description="QuickBooks' error and a hint per record: `qbo-pipeline failed list`.",
    )
    drift = stages.drift_of(result)
    # WARN, not ERROR: the run did the safe thing (held the record); the operator decides the edit's fate
    yield dg.AssetCheckResult(
        asset_key=SYNC_REPORTS, check_name=DRIFT_CHECK, passed=drift.passed,
        severity=dg.AssetCheckSeverity.WARN, description=drift.description,
        metadata={"open": dg.MetadataValue.int(drift.open_findings), "new": dg.MetadataValue.int(len(drift.findings)),
                  "open_by_entity": dg.MetadataValue.json(dict(drift.open_by_entity)),
                  "error": drift.error or ""},
    )


def counts_metadata(counts: Any) -> dict[str, Any]:
    """The entity's counts for this run and company, as numbers (plotted per partition)."""
    meta: dict[str, Any] = {}
    for field in dataclasses.fields(counts):
        value = getattr(counts, field.name)
        if isinstance(value, dict):
            for rule, number in sorted(value.items()):
                meta[f"{field.name}/{rule}"] = dg.MetadataValue.int(int(number))
        else:
            meta[field.name] = dg.MetadataValue.int(int(value))
    return meta


def sync_report(result: Any) -> dict[str, Any]:
    """The run's typed result as the ledger keeps it (``qbo-pipeline status`` and the summary read it)."""
    report = result.report
    return {
        "kind": SYNC_REPORT_KIND,
        "company": result.company,
        "run_id": result.request.run_id,
        "mode": str(result.request.mode),
        "dry_run": result.request.dry_run,
        "window": str(result.request.window) if result.request.window else None,
        "status": getattr(report, "status", None),
        "entities": {name: dataclasses.asdict(counts) for name, counts in result.entities.items()},
        "cursor_before": cursor_text(result.cursor_before),
        "cursor_after": cursor_text(result.cursor_after),
        "stage_seconds": {k: round(v, 3) for k, v in result.stage_seconds.items()},
        "write_requests": getattr(report, "write_requests", 0),
        "drift": result.drift.counts() if result.drift is not None else None,
        "plan": plan_rows(result.plan)[:PLAN_ROWS_SHOWN] if result.plan is not None else None,
    }


def cursor_text(cursor: stages.Cursor | None) -> str | None:
    """The source cursor as text: latest ``updated_at`` read per table."""
    if cursor is None:
        return None
    return ", ".join(f"{table} {value.isoformat() if value else '-'}" for table, value in sorted(cursor.items()))


def plan_rows(plan: Any) -> list[dict[str, Any]]:
    """The dry run's plan: one row per record to create or update, with the fields that change."""
    rows = []
    for step in getattr(plan, "steps", []):
        data = step.as_dict() if hasattr(step, "as_dict") else dict(step)
        if data.get("action") in (None, "skip"):
            continue
        changes = [f"{d['field']}: {d.get('old')!r} -> {d.get('new')!r}" for d in data.get("diff") or []]
        rows.append({"entity": data.get("entity"), "source_id": data.get("source_id"), "action": data["action"],
                     "reason": data.get("reason"), "changes": changes})
    return rows


def _report_markdown(report: dict[str, Any]) -> str:
    entities = report["entities"]
    columns = [f.name for f in dataclasses.fields(stages.EntityCounts) if f.name != "skipped"] + ["skipped"]
    lines = [
        f"**{report['company']}**: {report['mode']} sync" + (" (dry run)" if report["dry_run"] else "")
        + (f", transactions dated {report['window']}" if report["window"] else ""),
        "",
        "| entity | " + " | ".join(columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for name, counts in entities.items():
        skipped = ", ".join(f"{rule} {n}" for rule, n in counts["skipped"].items()) or "0"
        lines.append(f"| {name} | " + " | ".join(str(counts[c]) for c in columns[:-1]) + f" | {skipped} |")
    drift = report.get("drift")
    if drift and drift["open"]:
        held = ", ".join(f"{entity} {n}" for entity, n in drift["open_by_entity"].items())
        lines += ["", f"**Drift**: {drift['open']} record(s) changed in QuickBooks by a person are held ({held}): "
                      "`qbo-pipeline drift list`"]
    if report["plan"]:
        lines += ["", "**Plan** (first rows)", "", "| entity | source id | action | fields that change |",
                  "|---|---|---|---|"]
        for row in report["plan"]:
            lines.append(f"| {row['entity']} | {row['source_id']} | {row['action']} | "
                         + ("<br>".join(row["changes"]) or row.get("reason") or "") + " |")
    return "\n".join(lines)


def report_metadata(run_id: str, result: Any) -> dict[str, Any]:
    report = sync_report(result)
    return {
        "run": dg.MetadataValue.dagster_run(run_id),
        "mode": report["mode"],
        "dry_run": report["dry_run"],
        "status": str(report["status"]),
        "write_requests": dg.MetadataValue.int(int(report["write_requests"] or 0)),
        "source_cursor": dg.MetadataValue.text(report["cursor_after"] or "not advanced (dry run, window or stopped)"),
        "stage_seconds": dg.MetadataValue.json(report["stage_seconds"]),
        "drift_open": dg.MetadataValue.int(int((report["drift"] or {}).get("open", 0))),
        "drift_new": dg.MetadataValue.int(int((report["drift"] or {}).get("new", 0))),
        "report": dg.MetadataValue.md(_report_markdown(report)),
    }
