"""Tips on payments: the tip part of a payment lands on the tips item, not as unapplied credit.

QBO's Payment has no tip field: a payment of 110 applied to a 100 invoice leaves 10 as the
customer's unapplied credit, which the books then show as money owed back. So a payment with
a ``tip`` is exported as the Payment of what it pays (amount - tip) plus a companion
SalesReceipt (source id ``tip:<payment id>``) for the tip, on ``options.tip_item``, same
customer, date and deposit account: the deposit of the day still adds up.
"""

from __future__ import annotations

import pandas as pd

from qbo_pipeline.config import PipelineConfig
from qbo_pipeline.transform.context import TransformContext, TransformResult
from qbo_pipeline.transform.payload import Payload, named_ref
from qbo_pipeline.transform.payments import build_payments
from qbo_pipeline.transform.rules import to_cents
from qbo_pipeline.transform.sales_receipts import receipt_line, tip_item

TIP_PREFIX = "tip:"


def build_payments_with_tips(payments: pd.DataFrame, applications: pd.DataFrame, config: PipelineConfig,
                             context: TransformContext | None = None) -> TransformResult:
    """``build_payments``, with each tip moved from the Payment to its own tips SalesReceipt."""
    result = build_payments(payments, applications, config, context)
    if "tip" not in payments or payments["tip"].isna().all():
        return result
    tips = dict(zip(payments["id"].astype(str), to_cents(payments["tip"].fillna(0.0).to_numpy()), strict=True))
    out: list[Payload] = []
    for payload in result.payloads:
        cents = int(tips.get(payload.source_id, 0))
        if not cents or payload.entity != "Payment":
            out.append(payload)
            continue
        body = dict(payload.body)
        body["TotalAmt"] = round(body["TotalAmt"] * 100 - cents) / 100
        out.append(Payload(payload.entity, payload.source_id, body, action=payload.action, lookup=payload.lookup,
                           txn_date=payload.txn_date))
        tip: dict = {"CustomerRef": body["CustomerRef"], "TxnDate": body["TxnDate"],
                     "DepositToAccountRef": body["DepositToAccountRef"],
                     "PrivateNote": f"Tip paid with payment {payload.source_id}.",
                     "Line": [receipt_line(config, 1, cents, named_ref("Item", tip_item(config)),
                                           "NON" if config.taxes.mode == "us" else config.taxes.default_code,
                                           "Tip")]}
        for field_name in ("PaymentMethodRef", "CurrencyRef"):
            if field_name in body:
                tip[field_name] = body[field_name]
        out.append(Payload("SalesReceipt", TIP_PREFIX + payload.source_id, tip, action=payload.action,
                           txn_date=payload.txn_date))
    result.payloads = out
    return result
