"""Sync reports: what one run did to one company's books, kept in the ledger and shown in the UI.

A report is assembled from the run's own materialization metadata (the export assets
emit their counts as numbers), so it needs no second look at QuickBooks. It is written to
the ledger (``qbo-pipeline status`` reads it) and reported as a materialization of the
``sync_reports`` asset, whose history in the UI is the list of reports.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from qbo_pipeline.config import PipelineConfig
from qbo_pipeline.ledger import Ledger

SYNC_REPORTS_KEY = dg.AssetKey("sync_reports")
COUNT_FIELDS = ("created", "updated", "unchanged", "skipped_by_rule", "failed", "blocked", "quarantined", "write_requests")

sync_reports_spec = dg.AssetSpec(
    SYNC_REPORTS_KEY,
    group_name="reports",
    kinds={"markdown"},
    description="One materialization per export run: what it created, updated, skipped, failed or quarantined.",
)


def _value(entry: Any) -> Any:
    return getattr(entry, "value", entry)


def build_sync_report(instance: dg.DagsterInstance, run: dg.DagsterRun, company: str) -> dict[str, Any]:
    """The counts per QBO entity of one run, from its export materializations."""
    records = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
    entities: dict[str, dict[str, int]] = {}
    for record in records:
        materialization = record.event_log_entry.asset_materialization
        if materialization is None or not materialization.asset_key.path[-1].startswith("qbo_"):
            continue
        name = materialization.asset_key.path[-1]
        if name in entities:  # a run over a range of days repeats the same counts per day
            continue
        meta = materialization.metadata
        entities[name] = {f: int(_value(meta[f])) for f in COUNT_FIELDS if f in meta}
    totals = {f: sum(e.get(f, 0) for e in entities.values()) for f in COUNT_FIELDS}
    return {
        "kind": "dagster_run",
        "company": company,
        "run_id": run.run_id,
        "job": run.job_name,
        "status": run.status.value,
        "dry_run": any(_dry_run(run)),
        "partition_range": _partition_range(run),
        "entities": entities,
        "totals": totals,
    }


def _dry_run(run: dg.DagsterRun) -> list[bool]:
    ops = (run.run_config or {}).get("ops", {})
    return [bool(op.get("config", {}).get("dry_run")) for op in ops.values() if isinstance(op, dict)]


def _partition_range(run: dg.DagsterRun) -> str | None:
    tags = run.tags
    start = tags.get("dagster/asset_partition_range_start") or tags.get("dagster/partition")
    end = tags.get("dagster/asset_partition_range_end") or start
    return f"{start}..{end}" if start else None


def report_markdown(report: dict[str, Any]) -> str:
    lines = [
        f"**{report['company']}** run `{report['run_id'][:8]}` {report['status']}"
        + (" (dry run)" if report["dry_run"] else "")
        + (f", days {report['partition_range']}" if report["partition_range"] else ""),
        "",
        "| entity | " + " | ".join(COUNT_FIELDS) + " |",
        "|---|" + "---:|" * len(COUNT_FIELDS),
    ]
    for name, counts in sorted(report["entities"].items()):
        lines.append(f"| {name} | " + " | ".join(str(counts.get(f, 0)) for f in COUNT_FIELDS) + " |")
    lines.append("| **total** | " + " | ".join(str(report["totals"][f]) for f in COUNT_FIELDS) + " |")
    return "\n".join(lines)


def record_sync_report(config: PipelineConfig, instance: dg.DagsterInstance, report: dict[str, Any]) -> None:
    """Keep the report in the ledger and show it as a ``sync_reports`` materialization (once per run)."""
    ledger = Ledger(config.ledger.url)
    try:
        recorded = any(
            r.get("run_id") == report["run_id"] and (r.get("report") or {}).get("kind") == "dagster_run"
            for r in ledger.reports(report["company"], limit=200)
        )
        if recorded:
            return
        ledger.save_report(report["company"], report["run_id"], report)
    finally:
        ledger.dispose()
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=SYNC_REPORTS_KEY,
            partition=None,
            metadata={
                "company": report["company"],
                "run_id": report["run_id"],
                "status": report["status"],
                **{f: dg.MetadataValue.int(report["totals"][f]) for f in COUNT_FIELDS},
                "report": dg.MetadataValue.md(report_markdown(report)),
            },
        )
    )
