"""Refunds -> QBO RefundReceipt payloads, paid from the refund account or the payments' account."""

from __future__ import annotations

import pandas as pd

from qbo_pipeline.config import PipelineConfig
from qbo_pipeline.transform.context import TransformContext, TransformResult
from qbo_pipeline.transform.credit_memos import credit_line, described
from qbo_pipeline.transform.invoices import transaction_skips
from qbo_pipeline.transform.payload import Payload, named_ref, source_ref
from qbo_pipeline.transform.payments import reference_number
from qbo_pipeline.transform.rules import LIMITS, Report, iso_date, text, to_cents
from qbo_pipeline.transform.taxes import NO_DEFAULT_CODE, lacks_default_code


def refund_account(row_account: str | None, payment_id: str | None, config: PipelineConfig,
                   context: TransformContext) -> str:
    """The refund's own account, else ``accounts.refund``, else the account the refunded payment
    went to ("same account as payments"), else the default deposit account."""
    if row_account:
        return row_account
    if config.accounts.refund:
        return config.accounts.refund
    if payment_id and payment_id in context.payment_deposit_accounts:
        return context.payment_deposit_accounts[payment_id]
    return config.accounts.deposit


def build_refund_receipts(refunds: pd.DataFrame, config: PipelineConfig,
                          context: TransformContext | None = None) -> TransformResult:
    """One RefundReceipt per refund, with one line on the product or ``options.credit_item``."""
    context = context or TransformContext()
    report = Report("refunds")
    options = config.options
    refunds = refunds.sort_values("id", kind="stable").reset_index(drop=True)
    before = transaction_skips(refunds["date"], options.sync_start_date)
    amounts = to_cents(refunds["amount"].to_numpy())
    no_code = lacks_default_code(config.taxes)
    payloads = []
    columns = ["id", "customer_id", "payment_id", "date", "currency", "method", "reference", "refund_account",
               "product_id", "description", "deleted"]
    for index, row in enumerate(refunds[columns].itertuples(index=False, name=None)):
        sid, customer, payment, when, currency, method, reference, account, product, description, deleted = row
        sid, payment, product, currency = str(sid), text(payment), text(product), text(currency)
        if before[index]:
            report.skip(sid, "before_sync_start",
                        f"Dated {iso_date(when)}, before the sync start date {options.sync_start_date.isoformat()}.")
            continue
        if no_code:
            report.skip(sid, "no_default_tax_code", NO_DEFAULT_CODE)
            continue
        note = f"Refund of payment {payment}." if payment else None
        desc, note = described(report, sid, text(description), config, note)
        item_ref = source_ref("Item", product) if product else named_ref("Item", options.credit_item)
        body: dict = {
            "CustomerRef": source_ref("Customer", customer),
            "TxnDate": iso_date(when),
            "DepositToAccountRef": named_ref("Account", refund_account(text(account), payment, config, context)),
            "Line": [credit_line(int(amounts[index]), item_ref, desc, config)],
        }
        method = report.fit(sid, "PaymentMethod.Name", text(method), name=True)
        if method:
            body["PaymentMethodRef"] = named_ref("PaymentMethod", method)
        ref = reference_number(report, sid, text(reference), LIMITS["RefundReceipt.PaymentRefNum"])
        if ref:
            body["PaymentRefNum"] = ref
        if note:
            body["PrivateNote"] = note
        if currency and currency != options.home_currency:
            body["CurrencyRef"] = {"value": currency}
        payloads.append(Payload("RefundReceipt", sid, body, action="delete" if deleted else "upsert",
                                txn_date=body["TxnDate"]))
    skipped, normalisations = report.frames()
    return TransformResult(payloads, skipped, normalisations)
