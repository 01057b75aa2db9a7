"""``qbo-pipeline status``: where each entity stands, the last runs, and the export lock.

Synced, failed, blocked and ignored come from the ledger's links. *Needs sync* is computed
the way a run would decide it: the source rows are extracted, validated and transformed,
and the planner compares each payload's hash with the ledger (a new or changed record
needs sync). Customers and items are small lists and always evaluated whole; transactions
are evaluated for the last ``--since`` days only (0 skips them), which bounds the cost on a
large source. Quarantined counts the source rows quarantined now (the latest state of each row in
the ledger, as `qbo-pipeline quarantine` lists them), which agrees with the run summary. Drift counts
the records a person changed or deleted in QuickBooks since the pipeline wrote them, which the
export holds until the operator decides (`qbo-pipeline drift list`). The source is read through the
stage API (``stages.source_payloads``), the way a run reads it.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

import click

from qbo_pipeline.config import PipelineConfig
from qbo_pipeline.operator.common import (
    EXIT_FINDINGS,
    STUCK_AFTER_MINUTES,
    Invocation,
    OperatorError,
    common_options,
    describe_age,
    emit,
    lock_state,
    operator_command,
    qbo_entity_name,
)
from qbo_pipeline.operator.quarantine import quarantined_counts
from qbo_pipeline.transform.payload import EXPORT_ORDER, QBO_ENTITY_FOR_SOURCE

log = logging.getLogger("qbo_pipeline.operator.status")

SYNCED_STATUSES = ("exported", "linked", "deactivated", "voided", "deleted")
NEEDS_SYNC_ACTIONS = ("create", "update", "deactivate", "void", "delete")
# quarantine rows name canonical tables; child tables count for their parent's QBO entity
_QBO_ENTITY_FOR_TABLE = {**QBO_ENTITY_FOR_SOURCE, "invoice_lines": "Invoice", "payment_applications": "Payment"}
DEFAULT_SINCE_DAYS = 30


def needs_sync(config: PipelineConfig, company_key: str, links: dict[tuple[str, str], dict[str, Any]],
               *, since_days: int, ledger: Any) -> dict[str, dict[str, int]]:
    """Per QBO entity: how many source records a run would write now, and how many it would block."""
    from qbo_pipeline import stages
    from qbo_pipeline.entities import NAME_LISTS, TRANSACTIONS
    from qbo_pipeline.export import planner

    window = None
    evaluated = [e.qbo_entity for e in NAME_LISTS]
    if since_days > 0:
        today = date.today()
        window = stages.Window(today - timedelta(days=since_days), today + timedelta(days=1))
        evaluated += [e.qbo_entity for e in TRANSACTIONS]
    payloads = stages.source_payloads(config, company_key, ledger, transactions=window)
    plan = planner.plan(payloads, links, max_attempts=config.export.max_attempts)
    counts = {entity: {"needs_sync": 0, "would_block": 0} for entity in evaluated}
    for step in plan.steps:
        entity = counts.setdefault(step.payload.entity, {"needs_sync": 0, "would_block": 0})
        if step.action in NEEDS_SYNC_ACTIONS:
            entity["needs_sync"] += 1
        elif step.action == "blocked":
            entity["would_block"] += 1
    return counts


def company_status(config: PipelineConfig, company_key: str, *, since_days: int, with_source: bool,
                   stuck_after: float, run_limit: int) -> dict[str, Any]:
    """Everything `status` shows for one company, as plain data."""
    from qbo_pipeline.ledger import Ledger
    from qbo_pipeline.stages import open_drift, open_vault

    ledger = Ledger(config.ledger.url)
    try:
        counts = ledger.status_counts(company_key)
        links = ledger.links(company_key) if with_source else {}
        quarantined = quarantined_counts(ledger, company_key)
        runs = ledger.runs(company_key, limit=run_limit)
        reports: dict[str, Any] = {}
        for row in ledger.reports(company_key, limit=max(run_limit * 3, 10)):  # newest first: keep a run's last
            reports.setdefault(row["run_id"], row["report"])
        lock = lock_state(ledger, company_key, stuck_after)
        connection = open_vault(config, ledger).status(company_key)
        drift = open_drift(ledger, company_key)
        drift_checked = ledger.drift_cursor(company_key)
        pending = needs_sync(config, company_key, links, since_days=since_days, ledger=ledger) if with_source else {}
    finally:
        ledger.dispose()
    entities: dict[str, dict[str, Any]] = {}
    names = [e for e in EXPORT_ORDER if e in counts or e in pending or e in quarantined or e in drift or e != "Account"]
    for entity in names + sorted(set(counts) - set(names)):
        by_status = counts.get(entity, {})
        entities[entity] = {
            "synced": sum(by_status.get(s, 0) for s in SYNCED_STATUSES),
            "needs_sync": pending[entity]["needs_sync"] if entity in pending else None,
            "failed": by_status.get("failed", 0),
            "blocked": by_status.get("blocked", 0),
            "quarantined": quarantined.get(entity, 0),
            "ignored": by_status.get("ignored", 0),
            "skipped": by_status.get("skipped", 0),
            "drift": drift.get(entity, 0),
            "by_status": by_status,
        }
    return {
        "company": company_key,
        "connection": {k: connection.get(k) for k in ("status", "realm_id", "access_expires_in", "refresh_expires_at")},
        "needs_sync_scope": {"master_data": "all" if with_source else None,
                             "transactions_days": since_days if with_source and since_days > 0 else None},
        "entities": entities,
        "runs": [{k: run.get(k) for k in ("run_id", "status", "started_at", "finished_at", "dry_run", "write_requests",
                                          "message")} | {"counts": {k: v for k, v in (run.get("counts") or {}).items() if v},
                                                         "rows": source_rows(reports.get(run["run_id"]))}
                 for run in runs],
        "export_lock": lock,
        "drift": {"open": sum(drift.values()), "by_entity": drift,
                  "checked_until": drift_checked.isoformat() if drift_checked else None},
    }


ROW_COLUMNS = ("created", "updated", "unchanged", "quarantined", "skipped", "removed", "deactivated", "failed",
               "blocked")


def source_rows(report: dict[str, Any] | None) -> dict[str, int] | None:
    """Where a run's source rows ended, summed over entities: the same columns as the run's own summary
    (the engine's counts also hold companion documents, so they do not add up to the rows read)."""
    if not report or not report.get("entities"):
        return None
    totals = dict.fromkeys(("read", *ROW_COLUMNS), 0)
    for counts in report["entities"].values():
        totals["read"] += counts.get("read", 0)
        for column in ROW_COLUMNS:
            value = counts.get(column, 0)
            totals[column] += sum(value.values()) if isinstance(value, dict) else value
    return {k: v for k, v in totals.items() if v or k == "read"}


def record_status(config: PipelineConfig, company_key: str, entity: str, source_id: str) -> dict[str, Any] | None:
    """One record's link, history of results, quarantine entries and "View in QuickBooks" link."""
    from qbo_pipeline.ledger import Ledger
    from qbo_pipeline.qbo.environments import app_url

    ledger = Ledger(config.ledger.url)
    try:
        link = ledger.get_link(company_key, entity, source_id)
        history = ledger.record_history(company_key, entity, source_id)
        quarantine = [row for row in ledger.quarantined(company=company_key)
                      if _QBO_ENTITY_FOR_TABLE.get(row["entity"], row["entity"]) == entity
                      and str(row["source_id"]) == str(source_id)]
    finally:
        ledger.dispose()
    if link is None and not history and not quarantine:
        return None
    company = config.company(company_key)
    url = None
    if link and link.get("qbo_id"):
        try:
            url = app_url(company.environment, company.base_url, entity, link["qbo_id"])
        except ValueError:  # a local company without its sandbox address
            url = None
    link_view = None if link is None else {k: link.get(k) for k in (
        "status", "qbo_id", "sync_token", "name", "manual", "attempts", "last_error", "error_code", "hint",
        "intuit_tid", "payload_hash", "run_id", "updated_at")}
    return {
        "company": company_key, "entity": entity, "source_id": source_id, "link": link_view, "app_url": url,
        "history": [{k: h.get(k) for k in ("at", "run_id", "action", "outcome", "qbo_id", "error_code", "message",
                                           "hint", "intuit_tid")} for h in history],
        "quarantine": [{k: q.get(k) for k in ("created_at", "run_id", "entity", "reason")} for q in quarantine],
    }


def _print_company(data: dict[str, Any]) -> None:
    c = data["connection"]
    click.echo(f"company {data['company']!r}: {c['status'] or 'not connected'}"
               + (f" (realm {c['realm_id']})" if c.get("realm_id") else ""))
    header = (f"  {'entity':<14}{'synced':>8}{'needs sync':>12}{'failed':>8}{'blocked':>9}{'quarant.':>10}"
              f"{'ignored':>9}{'drift':>7}")
    click.echo(header)
    for entity, row in data["entities"].items():
        pending = "-" if row["needs_sync"] is None else str(row["needs_sync"])
        click.echo(f"  {entity:<14}{row['synced']:>8}{pending:>12}{row['failed']:>8}{row['blocked']:>9}"
                   f"{row['quarantined']:>10}{row['ignored']:>9}{row['drift']:>7}")
    scope = data["needs_sync_scope"]
    if scope["master_data"] is None:
        click.echo("  needs sync: not computed (--no-source)")
    elif scope["transactions_days"] is None:
        click.echo("  needs sync: customers and items only (--since 0)")
    else:
        click.echo(f"  needs sync: customers and items, transactions of the last {scope['transactions_days']} day(s)")
    drift = data["drift"]
    if drift["open"]:
        held = ", ".join(f"{entity} {n}" for entity, n in drift["by_entity"].items())
        click.echo(f"drift: {drift['open']} record(s) changed or deleted in QuickBooks by a person are held ({held}): "
                   "`qbo-pipeline drift list`")
    else:
        click.echo("drift: none open" + (f" (QuickBooks checked until {drift['checked_until']})"
                                         if drift["checked_until"] else " (QuickBooks not checked yet)"))
    lock = data["export_lock"]
    if lock["state"] == "free":
        click.echo("export lock: free")
    else:
        click.echo(f"export lock: {lock['state']} — held by {lock['owner']} for {describe_age(lock['age_seconds'])}"
                   + ("; clear it with `qbo-pipeline unlock`" if lock["state"] == "stuck" else ""))
    click.echo("last runs:" if data["runs"] else "last runs: none")
    for run in data["runs"]:
        counts = ", ".join(f"{k} {v}" for k, v in (run["rows"] or run["counts"]).items()) or "nothing to do"
        started = run["started_at"].strftime("%Y-%m-%d %H:%M") if run["started_at"] else "-"
        click.echo(f"  {started}  {run['status']:<8} {counts}  ({run['run_id']})")


def _print_record(data: dict[str, Any]) -> None:
    link = data["link"]
    click.echo(f"{data['entity']} {data['source_id']} (company {data['company']!r})")
    if link is None:
        click.echo("  not in the ledger")
    else:
        click.echo(f"  status: {link['status']}" + (f", QBO Id {link['qbo_id']}" if link["qbo_id"] else "")
                   + (f" ({link['name']})" if link["name"] else "") + (" [linked by hand]" if link["manual"] else ""))
        if link["last_error"]:
            click.echo(f"  last error: {link['last_error']}")
        if link["hint"]:
            click.echo(f"  hint: {link['hint']}")
    if data["app_url"]:
        click.echo(f"  View in QuickBooks: {data['app_url']}")
    for q in data["quarantine"]:
        click.echo(f"  quarantined {q['created_at']:%Y-%m-%d %H:%M} ({q['entity']}): {q['reason']}")
    click.echo("  history:" if data["history"] else "  history: none")
    for h in data["history"]:
        click.echo(f"    {h['at']:%Y-%m-%d %H:%M:%S}  {h['action']:<10} {h['outcome']:<10}"
                   + (f" QBO Id {h['qbo_id']}" if h["qbo_id"] else "") + (f"  {h['message']}" if h["message"] else ""))


@click.command("status")
@click.option("--record", nargs=2, metavar="ENTITY ID", default=None,
              help="Show one record: its ledger link, history and View-in-QuickBooks link.")
@click.option("--since", "since_days", type=click.IntRange(min=0), default=DEFAULT_SINCE_DAYS, show_default=True,
              metavar="DAYS", help="Compute 'needs sync' for transactions dated in the last DAYS days (0: skip).")
@click.option("--no-source", is_flag=True, help="Ledger only: do not read the source (no 'needs sync').")
@click.option("--runs", "run_limit", type=click.IntRange(min=0), default=5, show_default=True,
              help="How many recent runs to show.")
@click.option("--stuck-after", type=click.FloatRange(min=0), default=STUCK_AFTER_MINUTES, show_default=True,
              metavar="MINUTES", help="An export lock older than this counts as stuck.")
@common_options
@operator_command
def status_command(invocation: Invocation, record: tuple[str, str] | None, since_days: int, no_source: bool,
                   run_limit: int, stuck_after: float) -> None:
    """Per entity: synced, needs sync, failed, blocked, quarantined; the last runs; the export lock.

    Exit 1 when records failed, a person's QBO edit holds records (open drift) or the export lock is stuck. With --record ENTITY ID, one
    record's history and its QuickBooks link (exit 1 when the ledger does not know it).
    """
    if record:
        entity = qbo_entity_name(record[0])
        data = record_status(invocation.config, invocation.company_key, entity, record[1])
        if data is None:
            raise OperatorError(f"{entity} {record[1]} is not in the ledger of {invocation.company_key!r} (never "
                                "exported, failed or quarantined)")
        emit(invocation, data, lambda: _print_record(data))
        return
    if not no_source:
        from qbo_pipeline.operator.preflight import check_sources

        check_sources(invocation.config, [invocation.company_key])
    data = company_status(invocation.config, invocation.company_key, since_days=since_days,
                          with_source=not no_source, stuck_after=stuck_after, run_limit=run_limit)
    emit(invocation, data, lambda: _print_company(data))
    if (any(row["failed"] for row in data["entities"].values()) or data["drift"]["open"]
            or data["export_lock"]["state"] == "stuck"):
        raise click.exceptions.Exit(EXIT_FINDINGS)
