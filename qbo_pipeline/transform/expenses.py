"""Hard costs -> QBO Purchase (paid at once) and Bill (owed to a vendor) payloads.

A cost posts to an Expense or Cost of Goods Sold account (created with that type when it
is missing). A cost incurred for a client (a court fee, a courier) names the customer on
its line and, when ``billable``, is marked Billable so it can be billed on to the client
from QBO. The payee is a QBO Vendor found or created by name.
"""

from __future__ import annotations

import pandas as pd

from qbo_pipeline.config import PipelineConfig
from qbo_pipeline.transform.context import TransformContext, TransformResult
from qbo_pipeline.transform.invoices import transaction_skips
from qbo_pipeline.transform.payload import REF_KEY, Payload, source_ref
from qbo_pipeline.transform.rules import Report, iso_date, short_doc_number, text, to_cents
from qbo_pipeline.transform.tracking import account_ref, currency_fields, tracking, vendor_ref

PAYMENT_TYPES = {"cash": "Cash", "check": "Check", "credit_card": "CreditCard"}


def cost_line(row: dict, cents: int, config: PipelineConfig) -> dict:
    """The one AccountBasedExpenseLine of a cost (billable to its customer when asked)."""
    detail: dict = {"AccountRef": account_ref(str(row["account"]), text(row["account_kind"]) or "expense")}
    customer = text(row["customer_id"])
    if customer:
        detail["CustomerRef"] = source_ref("Customer", customer)
        detail["BillableStatus"] = "Billable" if row["billable"] else "NotBillable"
    tracking(detail, row["class_name"])
    line = {"Amount": cents / 100, "DetailType": "AccountBasedExpenseLineDetail",
            "AccountBasedExpenseLineDetail": detail}
    if text(row["description"]):
        line["Description"] = str(row["description"])[: config.options.description_max_length]
    return line


def _build(frame: pd.DataFrame, config: PipelineConfig, entity: str, table: str) -> TransformResult:
    report = Report(table)
    options = config.options
    frame = frame.sort_values("id", kind="stable").reset_index(drop=True)
    before = transaction_skips(frame["date"], options.sync_start_date)
    cents = to_cents(frame["amount"].to_numpy())
    payloads = []
    for index, row in enumerate(frame.to_dict("records")):
        sid = str(row["id"])
        if before[index]:
            report.skip(sid, "before_sync_start",
                        f"Dated {iso_date(row['date'])}, before the sync start date {options.sync_start_date}.")
            continue
        body: dict = {"TxnDate": iso_date(row["date"]), "Line": [cost_line(row, int(cents[index]), config)]}
        if entity == "Purchase":
            payment_type = PAYMENT_TYPES[str(row["payment_type"])]
            body["PaymentType"] = payment_type
            body["AccountRef"] = account_ref(str(row["paid_from"]),
                                             "credit_card" if payment_type == "CreditCard" else "operating")
            if text(row["vendor"]):
                body["EntityRef"] = {**_vendor_id(str(row["vendor"])), "type": "Vendor"}
        else:
            body["VendorRef"] = vendor_ref(str(row["vendor"]))
            due = iso_date(row["due_date"])
            if due:
                body["DueDate"] = due
        lookup = {}
        number = text(row["number"])
        if number:
            doc = short_doc_number(number)
            if doc != number:
                report.changed(sid, "DocNumber", number, doc, "doc_number_shortened")
            body["DocNumber"] = doc
            if entity == "Bill":
                lookup["DocNumber"] = doc
        note = report.fit(sid, "PrivateNote", text(row["memo"]))
        if note:
            body["PrivateNote"] = note
        currency_fields(body, row["currency"], None, options.home_currency)
        tracking(body, None, row["department_name"])
        payloads.append(Payload(entity, sid, body, action="delete" if row["deleted"] else "upsert", lookup=lookup,
                                txn_date=body["TxnDate"]))
    skipped, normalisations = report.frames()
    return TransformResult(payloads, skipped, normalisations)


def _vendor_id(name: str) -> dict:
    """``{"value": <vendor Id>}`` for a polymorphic EntityRef (its ``type`` is set beside it)."""
    ref = vendor_ref(name)
    ref[REF_KEY]["as_id"] = True
    return {"value": ref}


def build_expenses(expenses: pd.DataFrame, config: PipelineConfig,
                   context: TransformContext | None = None) -> TransformResult:
    """One Purchase per expense paid at once (cash, check, credit card)."""
    return _build(expenses, config, "Purchase", "expenses")


def build_bills(bills: pd.DataFrame, config: PipelineConfig,
                context: TransformContext | None = None) -> TransformResult:
    """One Bill per cost owed to a vendor."""
    return _build(bills, config, "Bill", "bills")
