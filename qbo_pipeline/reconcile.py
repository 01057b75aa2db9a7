"""Reconciliation: do the records QuickBooks holds match what we exported, in count and total?

The engine already knows what it sent; this asks QuickBooks what it has, so an edit or a
delete made in QuickBooks, a tax recalculation or a lost write shows up as a failed check
instead of a silent drift in the books.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from qbo_pipeline.transform.payload import Payload

IDS_PER_QUERY = 500
COST_AND_DEPOSIT_LINES = ("AccountBasedExpenseLineDetail", "ItemBasedExpenseLineDetail", "DepositLineDetail")
TOLERANCE = Decimal("0.005")


def _cents(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def expected_total(payload: Payload) -> Decimal:
    """The amount QuickBooks should show as TotalAmt for a payload (before any tax QBO adds)."""
    if payload.action == "void":
        return Decimal("0.00")
    body = payload.body
    if "TotalAmt" in body:
        return _cents(body["TotalAmt"])
    total = Decimal("0")
    for line in body.get("Line", []):
        detail = line.get("DetailType")
        if detail in ("SalesItemLineDetail", "GroupLineDetail"):
            total += _cents(line.get("Amount"))
        elif detail == "DiscountLineDetail":
            total -= _cents(line.get("Amount"))
        elif detail in COST_AND_DEPOSIT_LINES or (detail is None and line.get("LinkedTxn")):
            total += _cents(line.get("Amount"))  # purchases, bills, deposits (a deposited payment's line)
        elif detail == "JournalEntryLineDetail" and line[detail].get("PostingType") == "Debit":
            total += _cents(line.get("Amount"))  # a journal entry's TotalAmt is its debits
    return total


@dataclass
class ReconcileResult:
    expected_count: int = 0
    found_count: int = 0
    expected_total: float = 0.0
    found_total: float = 0.0
    not_exported: int = 0
    mismatches: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.mismatches

    @property
    def description(self) -> str:
        if self.passed:
            return f"{self.found_count} record(s) in QuickBooks match the export (total {self.found_total:.2f})."
        return f"{len(self.mismatches)} record(s) differ between the export and QuickBooks."


def reconcile(session: Any, qbo_entity: str, payloads: list[Payload], *, dry_run: bool = False) -> ReconcileResult:
    """Compare exported payloads with the records QuickBooks returns for their linked Ids.

    Payloads are compared per their own QBO entity (a credit's run also carries the zero
    Payment that applies it). In a dry run nothing new was written, so only records already
    exported with this very payload are compared; planned creates and updates are not mismatches.
    """
    result = ReconcileResult()
    by_entity: dict[str, list[Payload]] = {}
    for payload in payloads:
        by_entity.setdefault(payload.entity or qbo_entity, []).append(payload)
    for entity, group in sorted(by_entity.items()):
        _reconcile_entity(session, entity, group, dry_run, result)
    result.expected_total = round(result.expected_total, 2)
    result.found_total = round(result.found_total, 2)
    return result


def _reconcile_entity(session: Any, entity: str, payloads: list[Payload], dry_run: bool, result: ReconcileResult) -> None:
    links = session.ledger.links(session.company_key, entity)
    expected: dict[str, tuple[Payload, Decimal]] = {}
    for payload in payloads:
        link = links.get((entity, payload.source_id))
        if payload.action == "delete":
            continue
        if dry_run and not (link and link.get("qbo_id") and link.get("payload_hash") == payload.hash):
            continue
        if not link or not link.get("qbo_id"):
            result.not_exported += 1  # failed or blocked: the no_failed_or_blocked check reports it
            continue
        total = expected_total(payload)
        result.expected_count += 1
        result.expected_total += float(total)
        expected[str(link["qbo_id"])] = (payload, total)
    found: dict[str, dict[str, Any]] = {}
    ids = sorted(expected)
    for start in range(0, len(ids), IDS_PER_QUERY):
        chunk = ids[start : start + IDS_PER_QUERY]
        where = "Id IN (" + ", ".join(f"'{i}'" for i in chunk) + ")"
        for record in session.client.query_all(entity, where):
            found[str(record["Id"])] = record
    for qbo_id, (payload, total) in expected.items():
        record = found.get(qbo_id)
        if record is None:
            result.mismatches.append({"source_id": payload.source_id, "qbo_id": qbo_id, "problem": f"{entity} missing in QuickBooks"})
            continue
        result.found_count += 1
        actual = _cents(record.get("TotalAmt"))
        result.found_total += float(actual)
        if abs(actual - total) > TOLERANCE:
            result.mismatches.append(
                {"source_id": payload.source_id, "qbo_id": qbo_id, "problem": f"{entity} TotalAmt {actual} in QuickBooks, {total} exported"}
            )
