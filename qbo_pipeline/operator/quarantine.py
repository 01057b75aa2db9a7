"""``qbo-pipeline quarantine``: the source rows that are quarantined now, with their reasons.

The ledger keeps every quarantine entry a run recorded (append-only). A row's current state
is its latest run's entries: incremental runs read only changed days, so a row quarantined
by an earlier run and not read since is still quarantined; a row exported after its latest
quarantine entry (fixed in the source) is not. `status` counts these rows, as the run
summary does.
"""

from __future__ import annotations

import csv
import sys
from typing import Any

import click

from qbo_pipeline.operator.common import (
    Invocation,
    common_options,
    emit,
    operator_command,
    qbo_entity_name,
)
from qbo_pipeline.transform.payload import QBO_ENTITY_FOR_SOURCE

CSV_COLUMNS = ("company", "entity", "source_id", "quarantined_at", "run_id", "checks", "reasons")
# the ledger statuses of a record exported (or linked) after its last quarantine entry
_EXPORTED = ("exported", "linked", "deactivated", "voided", "deleted", "kept_active")
# quarantine entries name canonical tables; child tables count for their parent's QBO entity
_QBO_ENTITY_FOR_TABLE = {**QBO_ENTITY_FOR_SOURCE, "invoice_lines": "Invoice", "payment_applications": "Payment"}


def current_quarantine(ledger: Any, company_key: str) -> list[dict[str, Any]]:
    """One entry per quarantined source record (QBO entity name, source id), with all the reasons
    its latest quarantining run recorded; records exported since then are left out."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for row in ledger.quarantined(company=company_key):  # oldest first
        if row.get("kind") not in (None, "row"):
            continue
        key = (_QBO_ENTITY_FOR_TABLE.get(row["entity"], row["entity"]), str(row["source_id"]))
        entry = latest.get(key)
        if entry is None or entry["run_id"] != row["run_id"]:
            entry = latest[key] = {"entity": key[0], "source_id": key[1], "run_id": row["run_id"],
                                   "quarantined_at": row["created_at"], "reasons": [], "checks": []}
        data = row.get("data") or {}
        if row["reason"] not in entry["reasons"]:
            entry["reasons"].append(row["reason"])
        check = data.get("check") if isinstance(data, dict) else None
        if check and check not in entry["checks"]:
            entry["checks"].append(check)
    links = ledger.links(company_key)
    current = []
    for key, entry in latest.items():
        link = links.get(key) or {}
        updated = link.get("updated_at")
        if link.get("status") in _EXPORTED and updated is not None and updated > entry["quarantined_at"]:
            continue  # exported after it was quarantined: fixed in the source
        current.append(entry)
    return sorted(current, key=lambda e: (e["entity"], e["source_id"]))


def quarantined_counts(ledger: Any, company_key: str) -> dict[str, int]:
    """Per QBO entity: how many source records are quarantined now."""
    counts: dict[str, int] = {}
    for entry in current_quarantine(ledger, company_key):
        counts[entry["entity"]] = counts.get(entry["entity"], 0) + 1
    return counts


def _matches(entry: dict[str, Any], entity: str | None, reason: str | None, check: str | None) -> bool:
    if entity and entry["entity"] != entity:
        return False
    if reason and not any(reason.lower() in r.lower() for r in entry["reasons"]):
        return False
    return not check or check in entry["checks"]


@click.command("quarantine")
@click.option("--entity", default=None, help="Only this entity (customer, item, invoice, payment, credit, refund).")
@click.option("--reason", default=None, metavar="TEXT", help="Only rows whose reason contains TEXT (any case).")
@click.option("--check", default=None, metavar="CHECK", help="Only rows that failed this check (as listed).")
@click.option("--csv", "csv_output", type=click.Path(dir_okay=False, allow_dash=True), default=None, metavar="FILE",
              help="Write the rows as CSV to FILE ('-' for stdout) instead of the listing.")
@common_options
@operator_command
def quarantine_command(invocation: Invocation, entity: str | None, reason: str | None, check: str | None,
                       csv_output: str | None) -> None:
    """Source rows quarantined now (never sent to QuickBooks), with their reasons.

    Fix the rows in the billing system; the next run that reads them exports them and they
    leave this list. The counts agree with `qbo-pipeline status` and the run summary.
    """
    from qbo_pipeline.ledger import Ledger

    qbo_entity = qbo_entity_name(entity) if entity else None
    ledger = Ledger(invocation.config.ledger.url)
    try:
        rows = [e for e in current_quarantine(ledger, invocation.company_key) if _matches(e, qbo_entity, reason, check)]
    finally:
        ledger.dispose()
    if csv_output is not None:
        _write_csv(invocation.company_key, rows, csv_output)
        return
    by_reason: dict[str, int] = {}
    for row in rows:
        for text in row["reasons"]:
            by_reason[text] = by_reason.get(text, 0) + 1
    data = {"company": invocation.company_key, "total": len(rows),
            "filters": {"entity": qbo_entity, "reason": reason, "check": check},
            "by_entity": {e: sum(1 for r in rows if r["entity"] == e) for e in sorted({r["entity"] for r in rows})},
            "rows": rows}

    def human() -> None:
        if not rows:
            click.echo(f"no quarantined rows for {invocation.company_key!r}")
            return
        for row in rows:
            click.echo(f"{row['entity']:<14}{row['source_id']:<16}{row['quarantined_at']:%Y-%m-%d %H:%M}  "
                       + "; ".join(row["reasons"]))
        click.echo(f"{len(rows)} quarantined row(s): "
                   + ", ".join(f"{e} {n}" for e, n in data["by_entity"].items())
                   + "; fix them in the source, the next run exports them")

    emit(invocation, data, human)


def _write_csv(company_key: str, rows: list[dict[str, Any]], output: str) -> None:
    stream = sys.stdout if output == "-" else open(output, "w", newline="", encoding="utf-8")  # noqa: SIM115
    try:
        writer = csv.DictWriter(stream, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({"company": company_key, "entity": row["entity"], "source_id": row["source_id"],
                             "quarantined_at": row["quarantined_at"], "run_id": row["run_id"],
                             "checks": "; ".join(row["checks"]), "reasons": "; ".join(row["reasons"])})
    finally:
        if stream is not sys.stdout:
            stream.close()
    if output != "-":
        click.echo(f"wrote {len(rows)} row(s) to {output}", err=True)
