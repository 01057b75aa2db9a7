"""Payments and their applications -> QBO Payment payloads (one LinkedTxn line per invoice)."""

from __future__ import annotations

import pandas as pd

from qbo_pipeline.config import PipelineConfig
from qbo_pipeline.transform.context import TransformContext, TransformResult
from qbo_pipeline.transform.invoices import UNPAID_STATUSES, transaction_skips
from qbo_pipeline.transform.payload import Payload, named_ref, source_ref
from qbo_pipeline.transform.rules import (
    LIMITS,
    Report,
    iso_date,
    short_reference,
    text,
    to_cents,
)


def linked_line(cents: int, entity: str, source_id: str) -> dict:
    """A Payment line applying ``cents`` to one exported transaction."""
    return {"Amount": cents / 100,
            "LinkedTxn": [{"TxnId": source_ref(entity, source_id, as_id=True), "TxnType": entity}]}


def reference_number(report: Report, sid: str, value: str | None, limit: int) -> str | None:
    """PaymentRefNum: long gateway ids keep their first 5 and last characters, like DocNumber."""
    if value is None:
        return None
    short = short_reference(value, limit)
    if short != value:
        report.changed(sid, "PaymentRefNum", value, short, "reference_shortened")
    return short


def build_payments(payments: pd.DataFrame, applications: pd.DataFrame, config: PipelineConfig,
                   context: TransformContext | None = None) -> TransformResult:
    """One Payment per exported payment; ``TotalAmt`` is the amount received, lines the applications.

    Skip rules: ``before_sync_start`` (unless it pays an invoice kept by
    ``export_unpaid_before_start``) and ``zero_amount`` (nothing received, nothing applied).
    An unapplied remainder stays on the customer as a credit, as in QBO.
    """
    context = context or TransformContext()
    report = Report("payments")
    options, accounts = config.options, config.accounts
    payments = payments.sort_values("id", kind="stable").reset_index(drop=True)
    apps = pd.DataFrame({
        "payment_id": applications["payment_id"].to_numpy(),
        "invoice_id": applications["invoice_id"].to_numpy(),
        "cents": to_cents(applications["amount"].to_numpy()),
    })
    applied = apps.groupby(["payment_id", "invoice_id"], sort=True)["cents"].sum()
    by_payment: dict[str, list[tuple[str, int]]] = {}
    for (pid, iid), cents in applied.items():
        by_payment.setdefault(pid, []).append((iid, int(cents)))

    before = transaction_skips(payments["date"], options.sync_start_date)
    statuses, balances = context.statuses(), context.balances()
    kept_invoices = {k for k in set(statuses) | set(balances)
                     if statuses.get(k) != "void" and (statuses.get(k) in UNPAID_STATUSES or balances.get(k, 0) > 0)}
    amounts = to_cents(payments["amount"].to_numpy())
    payloads = []
    columns = ["id", "customer_id", "date", "currency", "method", "reference", "deposit_account", "memo", "deleted"]
    for index, row in enumerate(payments[columns].itertuples(index=False, name=None)):
        sid, customer, when, currency, method, reference, deposit, memo, deleted = row
        sid = str(sid)
        lines = by_payment.get(sid, [])
        if before[index] and not (options.export_unpaid_before_start and any(i in kept_invoices for i, _ in lines)):
            report.skip(sid, "before_sync_start",
                        f"Dated {iso_date(when)}, before the sync start date {options.sync_start_date.isoformat()}.")
            continue
        if amounts[index] == 0 and not lines and not deleted:
            report.skip(sid, "zero_amount", "The payment is for 0 and is applied to nothing.")
            continue
        body: dict = {
            "CustomerRef": source_ref("Customer", customer),
            "TxnDate": iso_date(when),
            "TotalAmt": int(amounts[index]) / 100,
            "DepositToAccountRef": named_ref("Account", text(deposit) or accounts.deposit),
        }
        method = report.fit(sid, "PaymentMethod.Name", text(method), name=True)
        if method:
            body["PaymentMethodRef"] = named_ref("PaymentMethod", method)
        ref = reference_number(report, sid, text(reference), LIMITS["PaymentRefNum"])
        if ref:
            body["PaymentRefNum"] = ref
        note = report.fit(sid, "PrivateNote", text(memo))
        if note:
            body["PrivateNote"] = note
        currency = text(currency)
        if currency and currency != options.home_currency:
            body["CurrencyRef"] = {"value": currency}
        body["Line"] = [linked_line(cents, "Invoice", iid) for iid, cents in lines]
        payloads.append(Payload("Payment", sid, body, action="delete" if deleted else "upsert",
                                txn_date=body["TxnDate"]))
    skipped, normalisations = report.frames()
    return TransformResult(payloads, skipped, normalisations)


def deposit_accounts(payments: pd.DataFrame, config: PipelineConfig) -> dict[str, str]:
    """Source payment id -> the account its money went to (for refunds from the same account)."""
    return {str(k): text(v) or config.accounts.deposit
            for k, v in zip(payments["id"], payments["deposit_account"], strict=True)}
