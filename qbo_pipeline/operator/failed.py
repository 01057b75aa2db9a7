"""``qbo-pipeline failed``: the queue of records that failed or are blocked, and what to do with them.

Failures are grouped by kind (QBO's error class, or ``blocked`` for records waiting on a
failed parent) with the remediation hint the export recorded. From the queue an operator
retries records now (after fixing the cause), ignores records that must not go to
QuickBooks, clears records so the next run starts them afresh, or exports the queue as CSV.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterable
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

IGNORED = "ignored"
CSV_COLUMNS = ("company", "entity", "source_id", "status", "kind", "error_code", "attempts", "qbo_id", "message",
               "hint", "intuit_tid", "updated_at")


def failure_kind(link: dict[str, Any]) -> str:
    """The kind of a queued record's failure: QBO's error class, or blocked / missing_reference / unknown_outcome."""
    from qbo_pipeline.qbo.errors import class_for

    if link.get("status") == "blocked":
        return "blocked"
    message = str(link.get("last_error") or "")
    if link.get("error_code"):
        return class_for(str(link["error_code"]), None, message).kind
    if "outcome unknown" in message:
        return "unknown_outcome"
    if "does not exist" in message or "cannot be inferred" in message:
        return "missing_reference"
    return "error"


def group_failures(links: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Queued records grouped by (kind, hint), biggest group first."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for link in links:
        kind = failure_kind(link)
        hint = link.get("hint") or ""
        group = groups.setdefault((kind, hint), {"kind": kind, "status": link.get("status"), "hint": hint or None,
                                                 "count": 0, "records": []})
        group["count"] += 1
        group["records"].append({k: link.get(k) for k in ("entity", "source_id", "qbo_id", "status", "error_code",
                                                          "last_error", "attempts", "intuit_tid", "updated_at")})
    return sorted(groups.values(), key=lambda g: (-g["count"], g["kind"]))


def _queue(ledger: Any, company: str, *, ignored: bool = False) -> list[dict[str, Any]]:
    if ignored:
        return sorted((link for link in ledger.links(company).values() if link.get("status") == IGNORED),
                      key=lambda link: (link["entity"], link["source_id"]))
    return ledger.failed_records(company, limit=1_000_000)


def _selected(queue: list[dict[str, Any]], entity: str | None, ids: tuple[str, ...], kind: str | None,
              select_all: bool) -> list[dict[str, Any]]:
    """The queued records the options name; naming nothing is refused (use --all)."""
    if not (entity or ids or kind or select_all):
        raise OperatorError("select records: --entity ENTITY [ID...], --kind KIND, or --all", EXIT_USAGE)
    if ids and not entity:
        raise OperatorError("source ids need --entity (customer, item, invoice, payment, credit, refund)", EXIT_USAGE)
    qbo_entity = qbo_entity_name(entity) if entity else None
    chosen = [link for link in queue
              if (qbo_entity is None or link["entity"] == qbo_entity)
              and (not ids or link["source_id"] in ids)
              and (kind is None or failure_kind(link) == kind)]
    missing = sorted(set(ids) - {link["source_id"] for link in chosen})
    if missing:
        raise OperatorError(f"not in the failed queue: {qbo_entity} {', '.join(missing)}")
    return chosen


def _selection_options(func: Any) -> Any:
    func = click.option("--all", "select_all", is_flag=True, help="Every record in the queue.")(func)
    func = click.option("--kind", default=None, help="Only records of this kind (see `failed list`).")(func)
    func = click.option("--entity", default=None, help="Only this entity (customer, item, invoice, ...).")(func)
    return click.argument("ids", nargs=-1)(func)


@click.group("failed", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--company", "company_key", default=None, metavar="KEY",
              help="Company key from the configuration (default: the first one); also accepted after the subcommand.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Pipeline file (default: $QBO_PIPELINE_CONFIG or the built-in defaults); also accepted after "
                   "the subcommand.")
@click.pass_context
def failed_group(ctx: click.Context, company_key: str | None, config_path: str | None) -> None:
    """The failed-record queue: list, retry, ignore, clear, export as CSV."""
    given = {k: v for k, v in (("company_key", company_key), ("config_path", config_path)) if v is not None}
    if given:  # `failed --config X list` = `failed list --config X`, like `run --config X` and `status --config X`
        ctx.default_map = {name: dict(given) for name in failed_group.commands}


@failed_group.command("list")
@click.option("--ignored", is_flag=True, help="List the ignored records instead.")
@common_options
@operator_command
def list_command(invocation: Invocation, ignored: bool) -> None:
    """Failed and blocked records grouped by kind, with the fix for each group. Exit 1 when any."""
    from qbo_pipeline.ledger import Ledger

    ledger = Ledger(invocation.config.ledger.url)
    try:
        queue = _queue(ledger, invocation.company_key, ignored=ignored)
    finally:
        ledger.dispose()
    groups = group_failures(queue)
    data = {"company": invocation.company_key, "queue": IGNORED if ignored else "failed", "total": len(queue),
            "groups": groups}

    def human() -> None:
        if not queue:
            click.echo(f"no {'ignored' if ignored else 'failed or blocked'} records for {invocation.company_key!r}")
            return
        for group in groups:
            click.echo(f"{group['kind']} ({group['count']})" + (f" — {group['hint']}" if group["hint"] else ""))
            for record in group["records"][:20]:
                click.echo(f"  {record['entity']} {record['source_id']}: {record['last_error'] or record['status']}")
            if group["count"] > 20:
                click.echo(f"  ... and {group['count'] - 20} more (--json or export-csv for all)")
        click.echo(f"{len(queue)} record(s); retry with `qbo-pipeline failed retry --all` once fixed")

    emit(invocation, data, human)
    if queue and not ignored:
        raise click.exceptions.Exit(EXIT_FINDINGS)


@failed_group.command("retry")
@_selection_options
@common_options
@operator_command
def retry_command(invocation: Invocation, ids: tuple[str, ...], entity: str | None, kind: str | None,
                  select_all: bool) -> None:
    """Export the selected failed records again now (with the parents QuickBooks lacks).

    Their attempt counters are reset first, so records that reached export.max_attempts
    are tried again. Exit 1 when some still fail.
    """
    from qbo_pipeline.ledger import Ledger
    from qbo_pipeline.operator.records import print_selected_export
    from qbo_pipeline.operator.selection import SOURCE_ENTITY_FOR_QBO, SelectionError, export_selected

    ledger = Ledger(invocation.config.ledger.url)
    try:
        chosen = _selected(_queue(ledger, invocation.company_key), entity, ids, kind, select_all)
    finally:
        ledger.dispose()
    if not chosen:
        emit(invocation, {"company": invocation.company_key, "retried": 0, "report": None},
             lambda: click.echo("nothing to retry"))
        return
    from qbo_pipeline.operator.preflight import check_sources

    check_sources(invocation.config, [invocation.company_key])
    wanted: dict[str, list[str]] = {}
    for link in chosen:
        source_entity = SOURCE_ENTITY_FOR_QBO.get(link["entity"])
        if source_entity:  # Account links are the export's own; they have no source row
            wanted.setdefault(source_entity, []).append(link["source_id"])
    try:
        outcome = export_selected(invocation.config, invocation.company_key, wanted, reset_attempts=True)
    except SelectionError as exc:
        raise OperatorError(f"{exc}; the row left the source: `failed clear` or `failed ignore` it", EXIT_FINDINGS) from None
    emit(invocation, {"company": invocation.company_key, "retried": len(chosen), **outcome.as_dict()},
         lambda: print_selected_export(outcome))
    if outcome.failed:
        raise click.exceptions.Exit(EXIT_FINDINGS)


def _mark(invocation: Invocation, ids: tuple[str, ...], entity: str | None, kind: str | None, select_all: bool,
          *, ignore: bool, from_ignored: bool = False) -> list[dict[str, Any]]:
    from qbo_pipeline.ledger import Ledger

    ledger = Ledger(invocation.config.ledger.url)
    try:
        queue = _queue(ledger, invocation.company_key, ignored=from_ignored)
        chosen = _selected(queue, entity, ids, kind, select_all)
        if ignore:
            ledger.save_links(invocation.company_key, [
                {"entity": link["entity"], "source_id": link["source_id"], "status": IGNORED} for link in chosen])
            return chosen
        unlinked = [link for link in chosen if not link.get("qbo_id")]
        for link in unlinked:  # never in QBO: forget it, the next run starts it afresh
            ledger.unlink(invocation.company_key, link["entity"], link["source_id"])
        ledger.save_links(invocation.company_key, [  # in QBO: keep the link, the next run updates it
            {"entity": link["entity"], "source_id": link["source_id"], "status": "linked", "attempts": 0,
             "last_error": None, "error_code": None, "hint": None}
            for link in chosen if link.get("qbo_id")])
        return chosen
    finally:
        ledger.dispose()


@failed_group.command("ignore")
@_selection_options
@common_options
@operator_command
def ignore_command(invocation: Invocation, ids: tuple[str, ...], entity: str | None, kind: str | None,
                   select_all: bool) -> None:
    """Take the selected records out of the queue as ``ignored`` (they must not go to QuickBooks).

    `failed list --ignored` shows them; `sync` or `failed clear` brings one back.
    """
    chosen = _mark(invocation, ids, entity, kind, select_all, ignore=True)
    data = {"ok": True, "company": invocation.company_key, "ignored": [
        {"entity": link["entity"], "source_id": link["source_id"]} for link in chosen]}
    emit(invocation, data, lambda: click.echo(f"ignored {len(chosen)} record(s)"))


@failed_group.command("clear")
@_selection_options
@click.option("--ignored", is_flag=True, help="Select among the ignored records instead (un-ignore them).")
@common_options
@operator_command
def clear_command(invocation: Invocation, ids: tuple[str, ...], entity: str | None, kind: str | None,
                  select_all: bool, ignored: bool) -> None:
    """Remove the selected records from the queue; the next run exports them afresh.

    Records never created in QuickBooks lose their ledger entry (error and attempts);
    records that exist there keep their link and are updated by the next run. With
    --ignored, the selection is made among ignored records, which puts them back.
    """
    chosen = _mark(invocation, ids, entity, kind, select_all, ignore=False, from_ignored=ignored)
    data = {"ok": True, "company": invocation.company_key, "cleared": [
        {"entity": link["entity"], "source_id": link["source_id"], "qbo_id": link.get("qbo_id")} for link in chosen]}
    emit(invocation, data, lambda: click.echo(f"cleared {len(chosen)} record(s) from the failed queue"))


@failed_group.command("export-csv")
@click.option("--output", "-o", type=click.Path(dir_okay=False, allow_dash=True), default="-", show_default=True,
              help="CSV file to write ('-' for stdout).")
@click.option("--ignored", is_flag=True, help="Export the ignored records instead.")
@click.option("--company", "company_key", default=None, metavar="KEY",
              help="Company key from the configuration (default: the first one).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Pipeline file (default: $QBO_PIPELINE_CONFIG or the built-in defaults).")
def export_csv_command(output: str, ignored: bool, company_key: str | None, config_path: str | None) -> None:
    """Write the queue as CSV (one row per record: kind, QBO error, hint...) for a spreadsheet or a ticket."""
    from qbo_pipeline.ledger import Ledger
    from qbo_pipeline.operator.common import resolve

    invocation = resolve(config_path, company_key, as_json=False)
    ledger = Ledger(invocation.config.ledger.url)
    try:
        queue = _queue(ledger, invocation.company_key, ignored=ignored)
    finally:
        ledger.dispose()
    stream = sys.stdout if output == "-" else open(output, "w", newline="", encoding="utf-8")  # noqa: SIM115
    try:
        writer = csv.DictWriter(stream, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for link in queue:
            writer.writerow({"company": invocation.company_key, "entity": link["entity"],
                             "source_id": link["source_id"], "status": link["status"], "kind": failure_kind(link),
                             "error_code": link.get("error_code"), "attempts": link.get("attempts"),
                             "qbo_id": link.get("qbo_id"), "message": link.get("last_error"),
                             "hint": link.get("hint"), "intuit_tid": link.get("intuit_tid"),
                             "updated_at": link.get("updated_at")})
    finally:
        if stream is not sys.stdout:
            stream.close()
    if output != "-":
        click.echo(f"wrote {len(queue)} record(s) to {output}", err=True)
