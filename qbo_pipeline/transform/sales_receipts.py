"""Orders paid at checkout -> QBO SalesReceipt payloads (not an invoice plus a payment).

A web shop's order is paid when it is placed: QBO books that as one SalesReceipt whose
money lands in Undeposited Funds (or the account the source names) until a deposit moves
it to the bank. Lines map like invoice lines (product item or the generic item, tax codes
through ``taxes``); a tip becomes its own line on the tips item, so it is neither lost nor
left as unapplied income. Class and Department (location) track the brand and the shop.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd

from qbo_pipeline.config import PipelineConfig
from qbo_pipeline.transform.context import TransformContext, TransformResult
from qbo_pipeline.transform.invoices import tax_codes, transaction_skips
from qbo_pipeline.transform.payload import Payload, named_ref, source_ref
from qbo_pipeline.transform.payments import reference_number
from qbo_pipeline.transform.rules import (
    LIMITS,
    Report,
    iso_date,
    positions_by_parent,
    short_doc_number,
    text,
    to_cents,
)
from qbo_pipeline.transform.tracking import currency_fields, tracking

TIP_ITEM = "Tips"


def tip_item(config: PipelineConfig) -> str:
    return getattr(config.options, "tip_item", None) or TIP_ITEM


def receipt_line(config: PipelineConfig, number: int, cents: int, item_ref: dict, tax_code: str | None,
                 description: str | None = None, qty: float | None = None, price: float | None = None,
                 class_name: object = None) -> dict:
    """One SalesItemLine of a receipt. With tax-inclusive amounts (non-US, ``TaxInclusive``) the
    amount goes as ``TaxInclusiveAmt`` and QBO works out the net line and its UnitPrice (docs/tax.md)."""
    detail: dict = {"ItemRef": item_ref}
    if config.taxes.inclusive:
        detail["TaxInclusiveAmt"] = cents / 100
        if qty:
            detail["Qty"] = qty
    elif qty is not None and price is not None:
        detail["Qty"], detail["UnitPrice"] = qty, price
    if tax_code:
        detail["TaxCodeRef"] = named_ref("TaxCode", tax_code)
    tracking(detail, class_name)
    line = {"LineNum": number, "Amount": cents / 100, "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": detail}
    if description:
        line["Description"] = description[: config.options.description_max_length]
    return line


def billed_tax(line_tax: np.ndarray | None, positions: list[int]) -> int | None:
    """Cents of tax the shop billed on an order's lines, or None when the source gave none.

    QBO takes it as ``TxnTaxDetail.TotalTax`` (its override: the tax as billed), as for
    invoices; without it QBO would compute its own tax, and the receipt's total would not be
    what the customer paid.
    """
    if line_tax is None or not positions:
        return None
    values = line_tax[positions]
    given = values[~np.isnan(values)]
    return int(to_cents(given).sum()) if len(given) else None


def _no_tax(config: PipelineConfig) -> str | None:
    return "NON" if config.taxes.mode == "us" else config.taxes.default_code


def build_sales_receipts(receipts: pd.DataFrame, lines: pd.DataFrame, config: PipelineConfig,
                         context: TransformContext | None = None) -> TransformResult:
    """One SalesReceipt per order; rule skips: ``before_sync_start``, ``unmapped_tax_code``."""
    report = Report("sales_receipts")
    options, accounts = config.options, config.accounts
    receipts = receipts.sort_values("id", kind="stable").reset_index(drop=True)
    before = transaction_skips(receipts["date"], options.sync_start_date)
    lines = lines.sort_values(["receipt_id", "line_no", "id"], kind="stable").reset_index(drop=True)
    codes = tax_codes(lines["tax_code"], config).to_numpy()
    cents = to_cents(lines["amount"].to_numpy())
    line_tax = lines["tax_amount"].to_numpy(dtype="float64") if "tax_amount" in lines else None
    by_receipt = positions_by_parent(lines["receipt_id"].to_numpy())
    tips = to_cents(receipts["tip"].fillna(0.0).to_numpy())
    generic = named_ref("Item", options.generic_item)
    payloads = []
    for index, row in enumerate(receipts.to_dict("records")):
        sid = str(row["id"])
        if before[index]:
            report.skip(sid, "before_sync_start",
                        f"Dated {iso_date(row['date'])}, before the sync start date {options.sync_start_date}.")
            continue
        positions = by_receipt.get(sid, [])
        if any(codes[p] is None for p in positions):
            report.skip(sid, "unmapped_tax_code", "A line uses a tax code with no entry in taxes.map.")
            continue
        body_lines = []
        for number, p in enumerate(positions, start=1):
            line = lines.iloc[p]
            product = text(line["product_id"])
            qty, price = line["quantity"], line["unit_price"]
            priced = qty == qty and price == price and int(to_cents([qty * price])[0]) == int(cents[p])
            description = text(line["description"])
            if not product:
                label = text(line["name"])
                description = f"{label} - {description}" if label and description else label or description
            body_lines.append(receipt_line(
                config, number, int(cents[p]), source_ref("Item", product) if product else generic, codes[p],
                description, float(qty) if priced else None, round(float(price), 4) if priced else None,
                text(line["class_name"]) or row["class_name"]))
        if tips[index]:
            body_lines.append(receipt_line(config, len(body_lines) + 1, int(tips[index]),
                                           named_ref("Item", tip_item(config)), _no_tax(config), "Tip",
                                           class_name=row["class_name"]))
        body: dict = {"TxnDate": iso_date(row["date"]),
                      "DepositToAccountRef": named_ref("Account", text(row["deposit_account"]) or accounts.deposit)}
        if text(row["customer_id"]):
            body["CustomerRef"] = source_ref("Customer", row["customer_id"])
        lookup = {}
        number = text(row["number"])
        if number:
            doc = short_doc_number(number)
            if doc != number:
                report.changed(sid, "DocNumber", number, doc, "doc_number_shortened")
            body["DocNumber"] = lookup["DocNumber"] = doc
        method = report.fit(sid, "PaymentMethod.Name", text(row["method"]), name=True)
        if method:
            body["PaymentMethodRef"] = named_ref("PaymentMethod", method)
        ref = reference_number(report, sid, text(row["reference"]), LIMITS["PaymentRefNum"])
        if ref:
            body["PaymentRefNum"] = ref
        note = report.fit(sid, "PrivateNote", text(row["memo"]))
        if note:
            body["PrivateNote"] = note
        currency_fields(body, row["currency"], row["exchange_rate"], options.home_currency)
        if config.taxes.mode == "mapped":
            body["GlobalTaxCalculation"] = config.taxes.global_calculation
        tracking(body, None, row["department_name"])
        body["Line"] = body_lines
        billed = billed_tax(line_tax, positions)
        if billed is not None and not config.taxes.inclusive:
            body["TxnTaxDetail"] = {"TotalTax": billed / 100}
        payloads.append(Payload("SalesReceipt", sid, body, action="delete" if row["deleted"] else "upsert",
                                lookup=lookup, txn_date=body["TxnDate"]))
    if config.options.summarize.get("sales_receipts") == "daily":
        payloads = summarise_daily(payloads, report, config)
    skipped, normalisations = report.frames()
    return TransformResult(payloads, skipped, normalisations)


SUMMARY_PREFIX = "summary:"


def summary_key(body: dict, home: str) -> tuple[str, ...]:
    """What one daily summary shares: the day, and the currency, account and location of its orders."""
    return (body["TxnDate"], (body.get("CurrencyRef") or {}).get("value", home),
            json.dumps(body["DepositToAccountRef"], sort_keys=True), json.dumps(body.get("DepartmentRef"), sort_keys=True))


def summarise_daily(payloads: list[Payload], report: Report, config: PipelineConfig) -> list[Payload]:
    """One summary SalesReceipt per day (and currency, deposit account, location) instead of one per order.

    Lines are summed per item, tax code and class (tips stay on the tips item); the order ids
    are kept: each order is skipped by the rule ``summarised`` naming its summary, the
    normalisation report maps order -> summary, and the summary's PrivateNote lists them.
    A deleted order leaves its day's summary (rebuilt from the whole day) and keeps its own delete,
    which the planner skips when the order was never exported on its own.
    """
    home = config.options.home_currency
    groups: dict[tuple[str, ...], list[Payload]] = {}
    default_key = summary_key({"TxnDate": "", "DepositToAccountRef": named_ref("Account", config.accounts.deposit)},
                              home)[1:]
    out = []
    for payload in payloads:
        if payload.action == "upsert":
            groups.setdefault(summary_key(payload.body, home), []).append(payload)
        else:  # left out of its day's summary; its own delete/void goes to the planner as without summaries
            out.append(payload)  # (an order never exported alone is skipped as such, not called summarised)
    for key, orders in sorted(groups.items()):
        day, currency = key[0], key[1]
        # stable per group (not by position): a new order in another currency or location that day
        # must not rename the day's existing summaries
        suffix = "" if key[1:] == default_key else "-" + hashlib.sha256("|".join(key[1:]).encode()).hexdigest()[:6]
        source_id = f"{SUMMARY_PREFIX}{day}{suffix}"
        lines: dict[str, dict] = {}
        for order in orders:
            for line in order.body["Line"]:
                detail = dict(line["SalesItemLineDetail"])
                detail.pop("Qty", None)
                detail.pop("UnitPrice", None)
                group = json.dumps(detail, sort_keys=True)
                entry = lines.setdefault(group, {"cents": 0, "count": 0, "detail": detail,
                                                 "tip": line.get("Description") == "Tip"})
                entry["cents"] += round(line["Amount"] * 100)
                entry["count"] += 1
        body_lines = []
        for number, entry in enumerate(lines.values(), start=1):
            label = "Tips" if entry["tip"] else f"{entry['count']} order line{'s' if entry['count'] != 1 else ''}"
            body_lines.append({"LineNum": number, "Amount": entry["cents"] / 100, "DetailType": "SalesItemLineDetail",
                               "Description": f"{label}, {day}", "SalesItemLineDetail": entry["detail"]})
        first = orders[0].body
        ids = [o.source_id for o in orders]
        note = f"Daily summary of {len(ids)} order(s): {', '.join(ids)}"
        if len(note) > LIMITS["PrivateNote"]:
            note = note[: LIMITS["PrivateNote"] - 40].rsplit(",", 1)[0] + " ... (all in the sync report)"
        body = {"TxnDate": day, "DocNumber": f"S{day.replace('-', '')}{suffix}",
                "DepositToAccountRef": first["DepositToAccountRef"], "PrivateNote": note, "Line": body_lines}
        billed = [round(o.body["TxnTaxDetail"]["TotalTax"] * 100) for o in orders if "TxnTaxDetail" in o.body]
        if billed:  # the day's billed tax, as billed (orders without billed tax add none)
            body["TxnTaxDetail"] = {"TotalTax": sum(billed) / 100}
        for field_name in ("CurrencyRef", "DepartmentRef", "GlobalTaxCalculation"):
            if field_name in first:
                body[field_name] = first[field_name]
        rates = {o.body.get("ExchangeRate") for o in orders}
        if currency != home and len(rates) == 1 and None not in rates:
            body["ExchangeRate"] = rates.pop()
        for order_id in ids:
            report.skip(order_id, "summarised", f"In the daily summary {source_id} (DocNumber {body['DocNumber']}).")
            report.changed(order_id, "SalesReceipt", order_id, source_id, "summarised")
        out.append(Payload("SalesReceipt", source_id, body, lookup={"DocNumber": body["DocNumber"]}, txn_date=day))
    return out
