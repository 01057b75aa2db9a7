"""Journal entries -> QBO JournalEntry payloads: write-offs and trust <-> operating transfers.

A write-off debits the bad-debt account (``accounts.bad_debt`` unless the line names
another) and credits Accounts Receivable for the customer written off; a transfer moves
earned fees from the client trust bank account to the operating account. The contract
already refused entries that do not balance to the cent, and receivable lines without a
customer (QBO needs the Name on every A/R line).
"""

from __future__ import annotations

import pandas as pd

from qbo_pipeline.config import PipelineConfig
from qbo_pipeline.transform.context import TransformContext, TransformResult
from qbo_pipeline.transform.invoices import transaction_skips
from qbo_pipeline.transform.payload import Payload, source_ref
from qbo_pipeline.transform.rules import (
    Report,
    iso_date,
    positions_by_parent,
    short_doc_number,
    text,
    to_cents,
)
from qbo_pipeline.transform.tracking import account_ref, currency_fields, tracking

RECEIVABLE_ACCOUNT = "Accounts Receivable (A/R)"  # QBO's name for the default A/R account


def line_account(line: dict, purpose: str, config: PipelineConfig) -> dict:
    """The line's account placeholder; empty names default by kind (bad debt, receivable)."""
    kind = text(line["account_kind"])
    name = text(line["account"])
    if not name:
        if kind == "receivable":
            name = RECEIVABLE_ACCOUNT
        else:  # a debit of a write-off without an account: the configured bad-debt account
            name, kind = config.accounts.bad_debt, kind or "bad_debt"
    elif purpose == "write_off" and line["posting"] == "debit" and kind is None:
        kind = "bad_debt"
    return account_ref(name, kind)


def build_journal_entries(entries: pd.DataFrame, lines: pd.DataFrame, config: PipelineConfig,
                          context: TransformContext | None = None) -> TransformResult:
    """One balanced JournalEntry per source entry."""
    report = Report("journal_entries")
    options = config.options
    entries = entries.sort_values("id", kind="stable").reset_index(drop=True)
    before = transaction_skips(entries["date"], options.sync_start_date)
    lines = lines.sort_values(["journal_entry_id", "line_no", "id"], kind="stable").reset_index(drop=True)
    cents = to_cents(lines["amount"].to_numpy())
    records = lines.to_dict("records")
    by_entry = positions_by_parent(lines["journal_entry_id"].to_numpy())
    payloads = []
    for index, row in enumerate(entries.to_dict("records")):
        sid = str(row["id"])
        if before[index]:
            report.skip(sid, "before_sync_start",
                        f"Dated {iso_date(row['date'])}, before the sync start date {options.sync_start_date}.")
            continue
        body_lines = []
        for p in by_entry.get(sid, []):
            line = records[p]
            detail: dict = {"PostingType": "Debit" if line["posting"] == "debit" else "Credit",
                            "AccountRef": line_account(line, str(row["purpose"]), config)}
            if text(line["customer_id"]):
                detail["Entity"] = {"Type": "Customer", "EntityRef": source_ref("Customer", line["customer_id"])}
            tracking(detail, line["class_name"])
            out = {"Amount": int(cents[p]) / 100, "DetailType": "JournalEntryLineDetail",
                   "JournalEntryLineDetail": detail}
            if text(line["description"]):
                out["Description"] = str(line["description"])[: options.description_max_length]
            body_lines.append(out)
        body: dict = {"TxnDate": iso_date(row["date"]), "Line": body_lines}
        number = text(row["number"])
        if number:
            doc = short_doc_number(number)
            if doc != number:
                report.changed(sid, "DocNumber", number, doc, "doc_number_shortened")
            body["DocNumber"] = doc
        note = report.fit(sid, "PrivateNote", text(row["memo"]))
        if note:
            body["PrivateNote"] = note
        currency_fields(body, row["currency"], row["exchange_rate"], options.home_currency)
        payloads.append(Payload("JournalEntry", sid, body, action="delete" if row["deleted"] else "upsert",
                                txn_date=body["TxnDate"]))
    skipped, normalisations = report.frames()
    return TransformResult(payloads, skipped, normalisations)
