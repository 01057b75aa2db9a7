"""``qbo-pipeline drift``: records a person changed in QuickBooks since the pipeline wrote them.

``drift list`` shows the findings (the export holds those records); ``drift check`` reads QBO's
change feed now (each sync does it too); ``drift overwrite`` approves writing the source's values
over the person's edit on the next run; ``drift clear`` forgets findings (the edit is accepted and
the source fixed to match, or the record will be left as QBO has it until the source changes again).
"""

from __future__ import annotations

from typing import Any

import click

from qbo_pipeline.operator.common import (
    EXIT_FINDINGS,
    EXIT_USAGE,
    Invocation,
    OperatorError,
    common_options,
    emit,
    operator_command,
    qbo_entity_name,
)


def _chosen(findings: list[dict[str, Any]], entity: str | None, ids: tuple[str, ...],
            select_all: bool) -> list[tuple[str, str]]:
    if not (entity or select_all):
        raise OperatorError("select findings: --entity ENTITY [ID...] or --all", EXIT_USAGE)
    qbo_entity = qbo_entity_name(entity) if entity else None
    return [(f["entity"], f["source_id"]) for f in findings
            if (qbo_entity is None or f["entity"] == qbo_entity) and (not ids or f["source_id"] in ids)]


def _selection(func: Any) -> Any:
    func = click.option("--all", "select_all", is_flag=True, help="Every finding.")(func)
    func = click.option("--entity", default=None, help="invoice, customer, sales_receipt, deposit...")(func)
    return click.argument("ids", nargs=-1)(func)


@click.group("drift", context_settings={"help_option_names": ["-h", "--help"]})
def drift_group() -> None:
    """Records a person changed or deleted in QuickBooks since the pipeline wrote them."""


@drift_group.command("list")
@common_options
@operator_command
def list_command(invocation: Invocation) -> None:
    """The drift findings (exit 1 when some are open: the export holds those records)."""
    from qbo_pipeline.ledger import Ledger

    ledger = Ledger(invocation.config.ledger.url)
    try:
        findings = ledger.drift(invocation.company_key)
        cursor = ledger.drift_cursor(invocation.company_key)
    finally:
        ledger.dispose()

    def human() -> None:
        click.echo(f"drift checked until {cursor.isoformat() if cursor else 'never'}; {len(findings)} finding(s)")
        for f in findings:
            what = ", ".join(f.get("fields") or []) if f["kind"] == "edited" else ""
            click.echo(f"  {f['entity']} {f['source_id']} (QBO Id {f['qbo_id']}): {f['kind']} {what} "
                       f"[{f['status']}]")
    emit(invocation, {"company": invocation.company_key, "checked_until": cursor, "findings": findings}, human)
    if any(f["status"] == "open" for f in findings):
        raise click.exceptions.Exit(EXIT_FINDINGS)


@drift_group.command("check")
@common_options
@operator_command
def check_command(invocation: Invocation) -> None:
    """Read QuickBooks' change feed now and record what a person changed (exit 1 on open drift)."""
    from qbo_pipeline.drift import detect_drift
    from qbo_pipeline.stages import open_company

    with open_company(invocation.config, invocation.company_key) as session:
        report = detect_drift(session)

    def human() -> None:
        click.echo(f"checked {report.since} .. {report.until}: {report.changed} pipeline record(s) changed in QBO, "
                   f"{len(report.findings)} new finding(s), {report.open_findings} open")
        for f in report.findings:
            click.echo(f"  {f.entity} {f.source_id}: {f.kind} {', '.join(f.fields)}")
    emit(invocation, report.as_dict(), human)
    if not report.passed:
        raise click.exceptions.Exit(EXIT_FINDINGS)


@drift_group.command("overwrite")
@_selection
@common_options
@operator_command
def overwrite_command(invocation: Invocation, ids: tuple[str, ...], entity: str | None, select_all: bool) -> None:
    """Approve writing the source's values over the person's edit (the next run does it)."""
    from qbo_pipeline.ledger import Ledger

    ledger = Ledger(invocation.config.ledger.url)
    try:
        keys = _chosen(ledger.drift(invocation.company_key), entity, ids, select_all)
        changed = ledger.set_drift_status(invocation.company_key, keys, "overwrite")
    finally:
        ledger.dispose()
    emit(invocation, {"company": invocation.company_key, "approved": [list(k) for k in keys]},
         lambda: click.echo(f"{changed} record(s) will be overwritten by the next run"))


@drift_group.command("clear")
@_selection
@common_options
@operator_command
def clear_command(invocation: Invocation, ids: tuple[str, ...], entity: str | None, select_all: bool) -> None:
    """Forget findings: the person's edit stands until the source changes the record again."""
    from qbo_pipeline.ledger import Ledger

    ledger = Ledger(invocation.config.ledger.url)
    try:
        keys = _chosen(ledger.drift(invocation.company_key), entity, ids, select_all)
        ledger.clear_drift(invocation.company_key, keys)
    finally:
        ledger.dispose()
    emit(invocation, {"company": invocation.company_key, "cleared": [list(k) for k in keys]},
         lambda: click.echo(f"cleared {len(keys)} finding(s)"))
