"""Credits, write-offs and bad debts -> QBO CreditMemo payloads (and their application to invoices)."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from qbo_pipeline.config import PipelineConfig
from qbo_pipeline.transform.context import TransformContext, TransformResult
from qbo_pipeline.transform.invoices import transaction_skips
from qbo_pipeline.transform.payload import Payload, named_ref, source_ref
from qbo_pipeline.transform.payments import linked_line
from qbo_pipeline.transform.rules import Report, iso_date, money, text, to_cents
from qbo_pipeline.transform.taxes import NO_DEFAULT_CODE, lacks_default_code

BAD_DEBT_PREFIX = "bad_debt:"
APPLY_PREFIX = "apply:"


def credit_line(cents: int, item_ref: dict, description: str | None, config: PipelineConfig) -> dict:
    """The single SalesItemLine of a credit memo or refund receipt."""
    detail: dict = {"ItemRef": item_ref}
    if config.taxes.mode == "us":
        detail["TaxCodeRef"] = named_ref("TaxCode", "NON")
    elif config.taxes.default_code:
        detail["TaxCodeRef"] = named_ref("TaxCode", config.taxes.default_code)
    line = {"Amount": cents / 100, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": detail}
    if description:
        line["Description"] = description
    return line


def described(report: Report, sid: str, description: str | None, config: PipelineConfig,
              note: str | None) -> tuple[str | None, str | None]:
    """(line description cut to the limit, private note keeping the full text when it fits)."""
    if description is None:
        return None, note
    limit = config.options.description_max_length
    if len(description) <= limit:
        return description, note
    short = description[:limit]
    report.changed(sid, "Line[1].Description", description, short, "truncated")
    full = f"Full description: {description}"
    candidate = f"{note}\n{full}" if note else full
    if len(candidate) <= 4000:
        return short, candidate
    report.changed(sid, "Line[1].Description", description, "", "full_text_not_kept")
    return short, note


def _application(credit_id: str, invoice_id: str, customer: str, txn_date: str, cents: int,
                 currency: str | None, config: PipelineConfig) -> Payload:
    """A zero Payment that applies a credit memo to the invoice it credits, closing that balance."""
    body = {
        "CustomerRef": source_ref("Customer", customer),
        "TxnDate": txn_date,
        "TotalAmt": 0.0,
        "Line": [linked_line(cents, "Invoice", invoice_id), linked_line(cents, "CreditMemo", credit_id)],
        "PrivateNote": f"Applies credit {credit_id} to invoice {invoice_id}.",
    }
    if currency and currency != config.options.home_currency:
        body["CurrencyRef"] = {"value": currency}
    return Payload("Payment", APPLY_PREFIX + credit_id, body, txn_date=txn_date)


def build_credit_memos(credits: pd.DataFrame, config: PipelineConfig,
                       context: TransformContext | None = None) -> TransformResult:
    """One CreditMemo per credit; the item is the product or the configured item of its kind.

    With ``options.apply_credits_to_invoices`` a credit that names an invoice also gets a
    zero Payment (source id ``apply:<credit id>``) linking both, capped at the invoice
    total when known. With ``options.write_off_closed_unpaid`` every closed invoice of the
    context that still has a balance and no credit gets a bad-debt CreditMemo (source id
    ``bad_debt:<invoice id>``) for that balance, dated on its last change.
    """
    context = context or TransformContext()
    report = Report("credits")
    options = config.options
    items = {"credit": options.credit_item, "write_off": options.write_off_item, "bad_debt": options.bad_debt_item}
    credits = credits.sort_values("id", kind="stable").reset_index(drop=True)
    before = transaction_skips(credits["date"], options.sync_start_date)
    amounts = to_cents(credits["amount"].to_numpy())
    no_code = lacks_default_code(config.taxes)
    payloads: list[Payload] = []
    applications: list[Payload] = []
    columns = ["id", "customer_id", "invoice_id", "kind", "date", "currency", "product_id", "description", "deleted"]
    for index, row in enumerate(credits[columns].itertuples(index=False, name=None)):
        sid, customer, invoice, kind, when, currency, product, description, deleted = row
        sid, invoice, product, currency = str(sid), text(invoice), text(product), text(currency)
        if before[index]:
            report.skip(sid, "before_sync_start",
                        f"Dated {iso_date(when)}, before the sync start date {options.sync_start_date.isoformat()}.")
            continue
        if no_code:
            report.skip(sid, "no_default_tax_code", NO_DEFAULT_CODE)
            continue
        cents = int(amounts[index])
        label = {"credit": "Credit", "write_off": "Write-off", "bad_debt": "Bad debt"}[kind]
        note = f"{label} for invoice {invoice}." if invoice else None
        desc, note = described(report, sid, text(description), config, note)
        item_ref = source_ref("Item", product) if product else named_ref("Item", items[kind])
        body: dict = {"CustomerRef": source_ref("Customer", customer), "TxnDate": iso_date(when),
                      "Line": [credit_line(cents, item_ref, desc, config)]}
        if note:
            body["PrivateNote"] = note
        if currency and currency != options.home_currency:
            body["CurrencyRef"] = {"value": currency}
        payloads.append(Payload("CreditMemo", sid, body, action="delete" if deleted else "upsert",
                                txn_date=body["TxnDate"]))
        if invoice and options.apply_credits_to_invoices and not deleted:
            state = context.invoices.get(invoice)
            applied = min(cents, int(state.total * 100)) if state is not None else cents
            if applied > 0:
                applications.append(_application(sid, invoice, str(customer), body["TxnDate"], applied, currency,
                                                 config))
    if options.write_off_closed_unpaid:
        credited = set(credits["invoice_id"].dropna())
        for invoice_id in sorted(context.invoices):
            state = context.invoices[invoice_id]
            if state.status != "closed" or state.balance <= Decimal("0") or invoice_id in credited:
                continue
            sid = BAD_DEBT_PREFIX + invoice_id
            if state.last_change < options.sync_start_date.isoformat():
                continue
            cents = int(money(state.balance) * 100)
            body = {"CustomerRef": source_ref("Customer", state.customer_id), "TxnDate": state.last_change,
                    "Line": [credit_line(cents, named_ref("Item", options.bad_debt_item),
                                         f"Bad debt: invoice {invoice_id} closed unpaid", config)],
                    "PrivateNote": f"Bad debt for invoice {invoice_id}, closed with {state.balance} unpaid."}
            payloads.append(Payload("CreditMemo", sid, body, txn_date=state.last_change))
            if options.apply_credits_to_invoices:
                applications.append(_application(sid, invoice_id, state.customer_id, state.last_change, cents,
                                                 None, config))
    skipped, normalisations = report.frames()
    return TransformResult(payloads + applications, skipped, normalisations)
