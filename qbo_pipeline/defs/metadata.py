"""What the UI shows: numeric counts (plotted over time), markdown reports, links, checks.

Per-record detail stays in the ledger; metadata carries counts and a bounded sample, so a
run over 20,000 invoices never produces megabytes of metadata (dagster.md, pitfall 6).
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import pandas as pd

from qbo_pipeline.config import PipelineConfig
from qbo_pipeline.schemas import ValidationResult
from qbo_pipeline.schemas import column_schema as entity_columns

SAMPLE_ROWS = 20
MAX_QUARANTINE_RATE = 0.05


def column_schema(entity: str) -> dg.TableSchema:
    """The pandera contract of an entity as Dagster column metadata (the Columns tab)."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=c["name"],
                type=str(c["type"]),
                description=c.get("description"),
                constraints=dg.TableColumnConstraints(nullable=bool(c.get("nullable", True))),
            )
            for c in entity_columns(entity)
        ]
    )


def _table(frame: pd.DataFrame, columns: list[str], limit: int = SAMPLE_ROWS) -> str:
    if frame is None or frame.empty:
        return "_none_"
    shown = frame[[c for c in columns if c in frame.columns]].head(limit)
    lines = ["| " + " | ".join(shown.columns) + " |", "|" + "---|" * len(shown.columns)]
    for row in shown.itertuples(index=False):
        lines.append("| " + " | ".join(str(v).replace("|", "\\|").replace("\n", " ")[:200] for v in row) + " |")
    if len(frame) > limit:
        lines.append(f"\n_{len(frame) - limit} more not shown; all are in the ledger._")
    return "\n".join(lines)


def extract_metadata(frames: dict[str, pd.DataFrame]) -> dict[str, Any]:
    rows = sum(len(f) for f in frames.values())
    return {"dagster/row_count": dg.MetadataValue.int(rows), **{f"rows_{t}": dg.MetadataValue.int(len(f)) for t, f in frames.items()}}


def _quarantined(entity: str, result: ValidationResult | None) -> int:
    if result is None:
        return 0
    q = result.quarantine
    return 0 if q.empty else int(q.loc[q["entity"] == entity, "source_id"].nunique())


def validation_metadata(entity: str, frames: dict[str, pd.DataFrame], result: ValidationResult) -> dict[str, Any]:
    total = len(frames.get(entity, pd.DataFrame()))
    quarantined = _quarantined(entity, result)
    return {
        "rows": dg.MetadataValue.int(total),
        "valid": dg.MetadataValue.int(len(result.valid.get(entity, pd.DataFrame()))),
        "quarantined": dg.MetadataValue.int(quarantined),
        "quarantine": dg.MetadataValue.md(_table(result.quarantine, ["entity", "source_id", "column", "check", "reason"])),
    }


def validations_metadata(frames: dict[str, pd.DataFrame], results: dict[str, ValidationResult]) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    quarantines = []
    for entity, result in results.items():
        meta[f"valid_{entity}"] = dg.MetadataValue.int(len(result.valid.get(entity, pd.DataFrame())))
        meta[f"quarantined_{entity}"] = dg.MetadataValue.int(_quarantined(entity, result))
        quarantines.append(result.quarantine)
    meta["quarantined"] = dg.MetadataValue.int(sum(_quarantined(e, r) for e, r in results.items()))
    combined = pd.concat([q for q in quarantines if not q.empty], ignore_index=True) if any(not q.empty for q in quarantines) else pd.DataFrame()
    meta["quarantine"] = dg.MetadataValue.md(_table(combined, ["entity", "source_id", "column", "check", "reason"]))
    return meta


def _rate_check(
    config: PipelineConfig, counts: dict[str, tuple[int, int]], asset_key: dg.AssetKey
) -> dg.AssetCheckResult:
    rows = sum(total for total, _ in counts.values())
    quarantined = sum(q for _, q in counts.values())
    rate = quarantined / rows if rows else 0.0
    limit = getattr(config.options, "max_quarantine_rate", MAX_QUARANTINE_RATE)
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name="quarantine_rate",
        passed=rate <= limit,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{quarantined} of {rows} rows quarantined ({rate:.1%}; limit {limit:.0%}).",
        metadata={"quarantined": quarantined, "rows": rows, "rate": dg.MetadataValue.float(round(rate, 4))},
    )


def quarantine_check(
    config: PipelineConfig, entity: str, frames: dict[str, pd.DataFrame], result: ValidationResult, *, asset_key: dg.AssetKey
) -> dg.AssetCheckResult:
    counts = {entity: (len(frames.get(entity, pd.DataFrame())), _quarantined(entity, result))}
    return _rate_check(config, counts, asset_key)


def quarantine_checks(
    config: PipelineConfig, frames: dict[str, pd.DataFrame], results: dict[str, ValidationResult], *, asset_key: dg.AssetKey
) -> dg.AssetCheckResult:
    counts = {e: (len(frames.get(e, pd.DataFrame())), _quarantined(e, r)) for e, r in results.items()}
    return _rate_check(config, counts, asset_key)


def transform_metadata(result: Any) -> dict[str, Any]:
    return {
        "payloads": dg.MetadataValue.int(len(result.payloads)),
        "skipped_by_rule": dg.MetadataValue.int(len(result.skipped)),
        "normalised_values": dg.MetadataValue.int(len(result.normalisations)),
        "skipped": dg.MetadataValue.md(_table(result.skipped, ["entity", "source_id", "rule", "reason"])),
        "normalisation_report": dg.MetadataValue.md(
            _table(result.normalisations, ["entity", "source_id", "field", "rule", "original", "value"])
        ),
    }


def transforms_metadata(results: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for entity, result in results.items():
        meta[f"payloads_{entity}"] = dg.MetadataValue.int(len(result.payloads))
        meta[f"skipped_{entity}"] = dg.MetadataValue.int(len(result.skipped))
    skipped = [r.skipped for r in results.values() if not r.skipped.empty]
    normalised = [r.normalisations for r in results.values() if not r.normalisations.empty]
    meta["skipped_by_rule"] = dg.MetadataValue.int(sum(len(s) for s in skipped))
    meta["normalised_values"] = dg.MetadataValue.int(sum(len(n) for n in normalised))
    meta["skipped"] = dg.MetadataValue.md(
        _table(pd.concat(skipped, ignore_index=True) if skipped else pd.DataFrame(), ["entity", "source_id", "rule", "reason"])
    )
    meta["normalisation_report"] = dg.MetadataValue.md(
        _table(
            pd.concat(normalised, ignore_index=True) if normalised else pd.DataFrame(),
            ["entity", "source_id", "field", "rule", "original", "value"],
        )
    )
    return meta


def _normalisation_result(frames: list[pd.DataFrame], asset_key: dg.AssetKey) -> dg.AssetCheckResult:
    frames = [f for f in frames if not f.empty]
    report = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    by_rule = report["rule"].value_counts().to_dict() if not report.empty else {}
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name="normalisation_report",
        passed=report.empty,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            "Every value was exported as it is in the source."
            if report.empty
            else f"{len(report)} value(s) were shortened or renamed to fit QuickBooks; review the report."
        ),
        metadata={
            "normalised_values": len(report),
            **{f"rule_{rule}": int(n) for rule, n in by_rule.items()},
            "report": dg.MetadataValue.md(_table(report, ["entity", "source_id", "field", "rule", "original", "value"])),
        },
    )


def normalisation_check(result: Any, *, asset_key: dg.AssetKey) -> dg.AssetCheckResult:
    return _normalisation_result([result.normalisations], asset_key)


def normalisation_checks(results: dict[str, Any], *, asset_key: dg.AssetKey) -> dg.AssetCheckResult:
    return _normalisation_result([r.normalisations for r in results.values()], asset_key)


def failed_check(report: Any, *, asset_key: dg.AssetKey) -> dg.AssetCheckResult:
    failed, blocked = report.counts.get("failed", 0), report.counts.get("blocked", 0)
    problems = [r for r in report.results if r.outcome in ("failed", "blocked")]
    rows = pd.DataFrame([r.as_dict() for r in problems]) if problems else pd.DataFrame()
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name="no_failed_or_blocked",
        passed=failed + blocked == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{failed} failed, {blocked} blocked." + (" See `qbo-pipeline failed`." if problems else ""),
        metadata={
            "failed": failed,
            "blocked": blocked,
            "records": dg.MetadataValue.md(_table(rows, ["source_id", "outcome", "error_code", "message", "hint"])),
        },
    )


def reconciliation_check(session: Any, qbo_entity: str, payloads: list[Any], report: Any, *, asset_key: dg.AssetKey) -> dg.AssetCheckResult:
    from qbo_pipeline.reconcile import reconcile

    result = reconcile(session, qbo_entity, payloads, dry_run=report.dry_run)
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name="reconciliation",
        passed=result.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=result.description,
        metadata={
            "expected_count": result.expected_count,
            "found_count": result.found_count,
            "expected_total": dg.MetadataValue.float(result.expected_total),
            "found_total": dg.MetadataValue.float(result.found_total),
            "not_exported": result.not_exported,
            "mismatches": dg.MetadataValue.md(_table(pd.DataFrame(result.mismatches), ["source_id", "qbo_id", "problem"])),
        },
    )


def export_metadata(
    session: Any,
    entity: str,
    qbo_entity: str,
    report: Any,
    *,
    transform: Any,
    validation: ValidationResult | None,
    dry_run: bool,
) -> dict[str, Any]:
    counts = report.counts
    meta: dict[str, Any] = {
        "created": dg.MetadataValue.int(counts.get("created", 0) + counts.get("linked", 0)),
        "updated": dg.MetadataValue.int(
            counts.get("updated", 0) + counts.get("deactivated", 0) + counts.get("voided", 0) + counts.get("deleted", 0)
        ),
        "unchanged": dg.MetadataValue.int(counts.get("skipped", 0)),
        "skipped_by_rule": dg.MetadataValue.int(len(transform.skipped)),
        "failed": dg.MetadataValue.int(counts.get("failed", 0)),
        "blocked": dg.MetadataValue.int(counts.get("blocked", 0)),
        "quarantined": dg.MetadataValue.int(_quarantined(entity, validation)),
        "write_requests": dg.MetadataValue.int(report.write_requests),
        "dry_run": dg.MetadataValue.bool(dry_run),
        "status": report.status,
    }
    for name in ("linked", "deactivated", "voided", "deleted"):
        meta[name] = dg.MetadataValue.int(counts.get(name, 0))
    written = [r for r in report.results if r.qbo_id and r.outcome in ("created", "updated", "linked")]
    if written:
        last = written[-1]
        meta["view_in_quickbooks"] = dg.MetadataValue.url(session.app_url(qbo_entity, last.qbo_id))
        links = pd.DataFrame(
            [{"source_id": r.source_id, "outcome": r.outcome, "qbo": f"[{r.qbo_id}]({session.app_url(qbo_entity, r.qbo_id)})"} for r in written]
        )
        meta["records"] = dg.MetadataValue.md(_table(links, ["source_id", "outcome", "qbo"]))
    if dry_run and report.plan is not None:
        meta["plan"] = dg.MetadataValue.md(plan_markdown(report.plan))
    return meta


def plan_markdown(plan: Any, limit: int = 100) -> str:
    """The dry-run plan: action per record, with the field-level diff of updates."""
    steps = list(plan.steps)
    counts = plan.counts() if callable(getattr(plan, "counts", None)) else {}
    lines = ["**Plan** " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())), "", "| record | action | changes |", "|---|---|---|"]
    for step in steps[:limit]:
        data = step.as_dict()
        diff = data.get("diff") or []
        changes = "; ".join(f"`{d.get('field')}`: {d.get('old')!r} → {d.get('new')!r}" for d in diff[:5])
        if len(diff) > 5:
            changes += f"; … {len(diff) - 5} more"
        lines.append(f"| {data.get('entity')} {data.get('source_id')} | {data.get('action')} | {changes.replace('|', '/')} |")
    if len(steps) > limit:
        lines.append(f"\n_{len(steps) - limit} more steps not shown._")
    return "\n".join(lines)
