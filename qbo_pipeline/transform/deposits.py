"""Deposit slips -> QBO Deposit payloads: payments and receipts moved from Undeposited Funds to a bank.

A payment that lands in Undeposited Funds is not in the bank yet; the deposit slip groups
the payments (and shop receipts) taken to the bank together, which is what the bank
statement shows. The bank account is a Bank account (created with the Checking detail
for an operating account, TrustAccounts for a client trust account), never Undeposited
Funds. A line may also bring money that never passed through Undeposited Funds (a
retainer, interest): it then names the account it comes from.
"""

from __future__ import annotations

import pandas as pd

from qbo_pipeline.config import PipelineConfig
from qbo_pipeline.transform.context import TransformContext, TransformResult
from qbo_pipeline.transform.invoices import transaction_skips
from qbo_pipeline.transform.payload import Payload, source_ref
from qbo_pipeline.transform.rules import Report, iso_date, positions_by_parent, text, to_cents
from qbo_pipeline.transform.tracking import account_ref, currency_fields, tracking


def build_deposits(deposits: pd.DataFrame, lines: pd.DataFrame, config: PipelineConfig,
                   context: TransformContext | None = None) -> TransformResult:
    """One Deposit per slip (after the payments and receipts it groups; the registry orders it)."""
    report = Report("deposits")
    options = config.options
    deposits = deposits.sort_values("id", kind="stable").reset_index(drop=True)
    before = transaction_skips(deposits["date"], options.sync_start_date)
    lines = lines.sort_values(["deposit_id", "line_no", "id"], kind="stable").reset_index(drop=True)
    cents = to_cents(lines["amount"].to_numpy())
    by_deposit = positions_by_parent(lines["deposit_id"].to_numpy())
    payloads = []
    for index, row in enumerate(deposits.to_dict("records")):
        sid = str(row["id"])
        if before[index]:
            report.skip(sid, "before_sync_start",
                        f"Dated {iso_date(row['date'])}, before the sync start date {options.sync_start_date}.")
            continue
        body_lines = []
        for p in by_deposit.get(sid, []):
            line = lines.iloc[p]
            amount = int(cents[p]) / 100
            payment, receipt = text(line["payment_id"]), text(line["receipt_id"])
            if payment or receipt:
                kind, target = ("Payment", payment) if payment else ("SalesReceipt", receipt)
                body_lines.append({"Amount": amount, "LinkedTxn": [
                    {"TxnId": source_ref(kind, target, as_id=True), "TxnType": kind}]})
                continue
            detail: dict = {"AccountRef": account_ref(str(line["account"]), text(line["account_kind"]) or "income")}
            if text(line["customer_id"]):
                detail["Entity"] = {"value": source_ref("Customer", line["customer_id"], as_id=True),
                                    "type": "Customer"}
            tracking(detail, line["class_name"])
            out = {"Amount": amount, "DetailType": "DepositLineDetail", "DepositLineDetail": detail}
            if text(line["description"]):
                out["Description"] = str(line["description"])[: options.description_max_length]
            body_lines.append(out)
        kind = text(row["bank_kind"]) or "operating"
        body: dict = {"TxnDate": iso_date(row["date"]),
                      "DepositToAccountRef": account_ref(str(row["bank_account"]), kind), "Line": body_lines}
        note = report.fit(sid, "PrivateNote", text(row["memo"]))
        if note:
            body["PrivateNote"] = note
        currency_fields(body, row["currency"], None, options.home_currency)
        tracking(body, None, row["department_name"])
        payloads.append(Payload("Deposit", sid, body, action="delete" if row["deleted"] else "upsert",
                                txn_date=body["TxnDate"]))
    skipped, normalisations = report.frames()
    return TransformResult(payloads, skipped, normalisations)
