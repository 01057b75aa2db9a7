"""Commands on single records and on the export lock: ``sync``, ``link``, ``unlink``, ``unlock``."""

from __future__ import annotations

import logging
import os
from typing import Any

import click

from qbo_pipeline.operator.common import (
    EXIT_FINDINGS,
    EXIT_USAGE,
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

log = logging.getLogger("qbo_pipeline.operator.records")

_SYNC_OPTIONS = (("invoice", "invoices"), ("customer", "customers"), ("item", "products"), ("payment", "payments"),
                 ("credit", "credits"), ("refund", "refunds"))


def plan_steps(outcome: Any) -> list[dict[str, Any]]:
    """The dry run's plan: one step per record (action, reason, QBO Id, field diffs ``field/old/new``)."""
    plan = getattr(outcome.report, "plan", None) if outcome.report is not None else None
    return [step.as_dict() for step in plan.steps] if plan is not None else []


def print_plan(steps: list[dict[str, Any]], *, max_fields: int = 12) -> None:
    """The plan as a person reads it: what would happen to each record and which fields change."""
    for step in steps:
        click.echo(f"  would {step['action']:<10} {step['entity']} {step['source_id']}"
                   + (f" (QBO Id {step['qbo_id']})" if step.get("qbo_id") else "")
                   + (f": {step['reason']}" if step.get("reason") else ""))
        diff = step.get("diff") or []
        for change in diff[:max_fields]:
            click.echo(f"      {change['field']}: {change['old']!r} -> {change['new']!r}")
        if len(diff) > max_fields:
            click.echo(f"      ... and {len(diff) - max_fields} more field(s) (--json for all)")


def print_selected_export(outcome: Any) -> None:
    """Human summary of an :class:`~qbo_pipeline.operator.selection.SelectedExport`."""
    for entity, ids in outcome.parents.items():
        click.echo(f"  also exporting {entity} {', '.join(ids)} (not in QuickBooks yet)")
    for row in outcome.quarantined:
        click.echo(f"  quarantined {row['entity']} {row['source_id']}: {row['reason']}")
    for row in outcome.skipped:
        click.echo(f"  skipped {row['entity']} {row['source_id']} ({row['rule']}): {row['reason']}")
    for result in outcome.report.results:
        line = f"  {result.outcome:<9} {result.entity} {result.source_id}"
        if result.qbo_id:
            line += f" -> QBO Id {result.qbo_id}"
        if result.message:
            line += f": {result.message}"
        click.echo(line)
        if result.hint and result.outcome in ("failed", "blocked"):
            click.echo(f"            hint: {result.hint}")
    counts = {k: v for k, v in outcome.report.counts.items() if v}
    click.echo(f"run {outcome.report.run_id}: {outcome.report.status}; "
               + (", ".join(f"{k} {v}" for k, v in counts.items()) or "nothing to do"))


@click.command("sync")
@click.option("--invoice", "invoices", multiple=True, metavar="ID", help="Source invoice id (repeatable).")
@click.option("--customer", "customers", multiple=True, metavar="ID", help="Source customer id (repeatable).")
@click.option("--item", "--product", "products", multiple=True, metavar="ID", help="Source product id (repeatable).")
@click.option("--payment", "payments", multiple=True, metavar="ID", help="Source payment id (repeatable).")
@click.option("--credit", "credits", multiple=True, metavar="ID", help="Source credit id (repeatable).")
@click.option("--refund", "refunds", multiple=True, metavar="ID", help="Source refund id (repeatable).")
@click.option("--dry-run", is_flag=True, help="Plan only: show what would be created or updated, write nothing.")
@common_options
@operator_command
def sync_command(invocation: Invocation, dry_run: bool, **selection: tuple[str, ...]) -> None:
    """Export selected records now, with the parents QuickBooks does not have yet.

    An invoice brings its customer and items along unless they are already in QuickBooks;
    a payment its invoices; a sub-customer its parent. Unchanged records are skipped as in
    a run. Exit 1 when a record failed, was blocked or quarantined.
    """
    from qbo_pipeline.operator.preflight import check_sources
    from qbo_pipeline.operator.selection import SelectionError, export_selected

    wanted = {entity: list(selection[entity]) for _, entity in _SYNC_OPTIONS if selection.get(entity)}
    if not wanted:
        raise OperatorError("name at least one record: --invoice ID, --customer ID, --item ID, --payment ID, "
                            "--credit ID or --refund ID", EXIT_USAGE)
    check_sources(invocation.config, [invocation.company_key])
    from qbo_pipeline.runlock import company_export_lock

    try:
        # one export per company: wait (saying why, on stderr) while a run of this company exports
        with company_export_lock(invocation.company_key, f"sync-{os.getpid()}",
                                 on_wait=lambda message: click.echo(message, err=True)):
            outcome = export_selected(invocation.config, invocation.company_key, wanted, dry_run=dry_run)
    except SelectionError as exc:
        raise OperatorError(str(exc), EXIT_USAGE) from None
    data = {"company": invocation.company_key, "dry_run": dry_run, **outcome.as_dict()}
    if dry_run:
        data["plan"] = plan_steps(outcome)

    def human() -> None:
        if dry_run:
            click.echo("plan (dry run, nothing written):")
            print_plan(data["plan"])
        print_selected_export(outcome)

    emit(invocation, data, human)
    if outcome.failed:
        raise click.exceptions.Exit(EXIT_FINDINGS)


def _qbo_name(entity: str, record: dict[str, Any]) -> str | None:
    return record.get("DisplayName") or record.get("Name") or record.get("DocNumber")


@click.command("link")
@click.argument("entity")
@click.argument("source_id")
@click.argument("qbo_id")
@click.option("--force", is_flag=True, help="Replace an existing link of this record, or share a QBO record "
                                            "already linked to another source row.")
@common_options
@operator_command
def link_command(invocation: Invocation, entity: str, source_id: str, qbo_id: str, force: bool) -> None:
    """Link a source record to a record that already exists in QuickBooks.

    ENTITY is customer, item, invoice, payment, credit or refund; the QBO record is read
    first, so a wrong Id is refused. Later runs update the linked record instead of
    creating a duplicate.
    """
    from qbo_pipeline.qbo.errors import NotFoundError
    from qbo_pipeline.sync import open_company

    qbo_entity = qbo_entity_name(entity)
    with open_company(invocation.config, invocation.company_key) as session:
        try:
            record = session.client.read(qbo_entity, qbo_id)
        except NotFoundError:
            raise OperatorError(f"QuickBooks has no {qbo_entity} with Id {qbo_id}; nothing linked") from None
        ledger = session.ledger
        current = ledger.get_link(invocation.company_key, qbo_entity, source_id)
        if current and current.get("qbo_id") and str(current["qbo_id"]) != str(qbo_id) and not force:
            raise OperatorError(f"{qbo_entity} {source_id} is already linked to QBO Id {current['qbo_id']} "
                                f"({current['status']}); pass --force to link it to {qbo_id} instead")
        others = [key[1] for key, link in ledger.links(invocation.company_key, qbo_entity).items()
                  if str(link.get("qbo_id")) == str(qbo_id) and key[1] != str(source_id)]
        if others and not force:
            raise OperatorError(f"QBO {qbo_entity} {qbo_id} is already linked to source row(s) {', '.join(others)}; "
                                "two rows updating one record overwrite each other (pass --force to link anyway)")
        ledger.link(invocation.company_key, qbo_entity, source_id, qbo_id, name=_qbo_name(qbo_entity, record))
        url = session.app_url(qbo_entity, qbo_id)
    data = {"ok": True, "company": invocation.company_key, "entity": qbo_entity, "source_id": source_id,
            "qbo_id": qbo_id, "name": _qbo_name(qbo_entity, record), "status": "linked", "app_url": url,
            "replaced_qbo_id": current.get("qbo_id") if current else None}
    emit(invocation, data, lambda: click.echo(
        f"linked {qbo_entity} {source_id} to QBO Id {qbo_id} ({_qbo_name(qbo_entity, record)}); the next export "
        f"updates it\n  {url}"))


@click.command("unlink")
@click.argument("entity")
@click.argument("source_id")
@common_options
@operator_command
def unlink_command(invocation: Invocation, entity: str, source_id: str) -> None:
    """Forget a source record's link to QuickBooks (the QBO record itself is left alone).

    The next export looks the record up by its natural key (name, DocNumber) before
    creating it, so unlinking does not by itself create a duplicate.
    """
    from qbo_pipeline.ledger import Ledger

    qbo_entity = qbo_entity_name(entity)
    ledger = Ledger(invocation.config.ledger.url)
    try:
        current = ledger.get_link(invocation.company_key, qbo_entity, source_id)
        removed = ledger.unlink(invocation.company_key, qbo_entity, source_id)
    finally:
        ledger.dispose()
    if not removed:
        raise OperatorError(f"{qbo_entity} {source_id} has no link in the ledger")
    data = {"ok": True, "company": invocation.company_key, "entity": qbo_entity, "source_id": source_id,
            "qbo_id": current.get("qbo_id") if current else None}
    emit(invocation, data, lambda: click.echo(
        f"unlinked {qbo_entity} {source_id} (was QBO Id {data['qbo_id'] or '-'})"))


@click.command("unlock")
@click.option("--force", is_flag=True, help="Clear the lock even though it looks fresh (its export may still run).")
@click.option("--stuck-after", type=click.FloatRange(min=0), default=STUCK_AFTER_MINUTES, show_default=True,
              metavar="MINUTES", help="A lock older than this counts as stuck.")
@common_options
@operator_command
def unlock_command(invocation: Invocation, force: bool, stuck_after: float) -> None:
    """Show and clear the company's export lock when an export hangs or crashed.

    A lock is stuck when it is older than --stuck-after minutes or the run holding it has
    ended; such a lock is cleared. A fresh lock (an export that may still be running) is
    only cleared with --force. Requests the dead run sent are recovered by the next run
    through their request ids, so nothing is created twice.
    """
    from qbo_pipeline.ledger import Ledger

    ledger = Ledger(invocation.config.ledger.url)
    try:
        state = lock_state(ledger, invocation.company_key, stuck_after)
        cleared = False
        if state["state"] == "running" and not force:
            message = (f"the export lock of {invocation.company_key!r} is held by {state['owner']} for "
                       f"{describe_age(state['age_seconds'])}, less than {stuck_after:g} minutes: that export may "
                       "still be running; wait, or pass --force if you know it is dead")
            raise OperatorError(message, data={"company": invocation.company_key, "lock": state, "cleared": False})
        if state["state"] != "free":
            cleared = ledger.clear_export_lock(invocation.company_key)
            run_id = state["owner"].removeprefix("run ") if state["owner"].startswith("run ") else None
            if run_id and state["run_status"] == "running":
                ledger.finish_run(run_id, status="stopped", counts={}, write_requests=0,
                                  message="export lock cleared by an operator (qbo-pipeline unlock)")
            log.warning("cleared the export lock of %s held by %s", invocation.company_key, state["owner"])
    finally:
        ledger.dispose()
    data = {"ok": True, "company": invocation.company_key, "lock": state, "cleared": cleared}

    def human() -> None:
        if state["state"] == "free":
            click.echo(f"company {invocation.company_key!r} has no export lock")
        else:
            click.echo(f"cleared the export lock of {invocation.company_key!r} held by {state['owner']} for "
                       f"{describe_age(state['age_seconds'])} ({state['state']})")

    emit(invocation, data, human)
