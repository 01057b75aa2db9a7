"""Sentences a bookkeeper understands, one per failed check.

The quarantine is read by the people who fix the source data, not by engineers, so
each failure names the record part, the value and what is expected, in plain words.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from qbo_pipeline.schemas.models import CREDIT_KINDS, INVOICE_STATUSES, PRODUCT_TYPES

LABELS = {
    "id": "id",
    "display_name": "display name",
    "company_name": "company name",
    "given_name": "first name",
    "family_name": "last name",
    "email": "e-mail address",
    "parent_id": "parent customer",
    "customer_id": "customer",
    "invoice_id": "invoice",
    "payment_id": "payment",
    "product_id": "product",
    "issue_date": "invoice date",
    "due_date": "due date",
    "unit_price": "unit price",
    "qty_on_hand": "quantity on hand",
    "line_no": "line number",
    "tax_code": "tax code",
    "updated_at": "last-change time",
    "deposit_account": "deposit account",
    "refund_account": "refund account",
}

ALLOWED = {"status": INVOICE_STATUSES, "type": PRODUCT_TYPES, "kind": CREDIT_KINDS}

SUBJECTS = {
    "customers": "The customer",
    "products": "The product",
    "invoices": "The invoice",
    "payments": "The payment",
    "credits": "The credit",
    "refunds": "The refund",
}

TEMPLATES = {
    "not_nullable": "{subject} has no {label}.",
    "field_uniqueness": "{subject} uses the id {value}, which another row also uses; ids must be unique, "
    "so none of these rows is exported until the duplicate is fixed in the source.",
    "greater_than_or_equal_to": "{subject} has a negative {label} ({value}).",
    "greater_than": "{subject} has {a_label} of {value}; it must be more than zero.",
    "isin": "{subject} has the {label} {value!r}, which is not one of: {allowed}.",
    "email_format": "{subject} has an e-mail address that is not valid ({value}).",
    "email_length": "{subject} has an e-mail address longer than the 100 characters QuickBooks allows.",
    "currency_code": "{subject} has the currency {value!r}, which is not a three-letter ISO code such as USD.",
    "due_before_issue": "The invoice is due ({due_date}) before it is issued ({issue_date}).",
    "amount_arithmetic": "{subject} has an amount of {amount} but {quantity} x {unit_price} makes {expected}.",
    "discount_exceeds_amount": "{subject} has a discount ({discount}) larger than its amount ({amount}).",
    "not_a_number": "{subject} has {a_label} that is not a number ({value!r}).",
    "not_a_date": "{subject} has {a_label} that is not a date ({value!r}).",
    "date_format": "{subject} has {a_label} that does not match its declared format ({value}).",
    "not_in_values": "{subject} has {a_label} that is not one of the values the mapping declares: {value}.",
    "not_a_boolean": "{subject} has {a_label} that is neither yes nor no ({value!r}).",
    "not_text": "{subject} has {a_label} with bytes that are not readable text (not UTF-8): {value!r}.",
    "control_characters": "{subject} has {a_label} with control characters QuickBooks cannot store ({value!r}).",
    "dtype": "{subject} has {a_label} of the wrong kind ({value!r}).",
    "no_name": "{subject} has no name to show in QuickBooks (no display, company or person name).",
    "product_no_name": "{subject} has neither a name nor a SKU to name the QuickBooks item.",
    "unknown_name_token": "{subject} has a name with a placeholder that is not a token ({value}); the tokens are "
                          "description, invoice_number, customer and period, each in braces.",
    "parent_is_self": "The customer names itself as its parent customer.",
    "parent_cycle": "The customer's parent chain loops back to itself (through {value}).",
    "too_deep": "The customer is nested more than 4 levels below its top customer, deeper than QuickBooks allows.",
    "unknown_parent": "The customer's parent customer {value} is neither in the source nor exported earlier.",
    "unknown_customer": "{subject} is for customer {value}, who is neither in the source nor exported earlier.",
    "unknown_product": "{subject} is for product {value}, which is neither in the source nor exported earlier.",
    "unknown_invoice": "{subject} points at invoice {value}, which is neither in the source nor exported earlier.",
    "unknown_payment": "{subject} points at payment {value}, which is neither in the source nor exported earlier.",
    "no_lines": "The invoice has no lines; QuickBooks needs at least one.",
    "two_discounts": "The invoice has both a discount amount and a discount percent; give one of them.",
    "discount_exceeds_total": "The invoice discount {value} is larger than what it discounts.",
    "no_number": "The invoice has no number; QuickBooks would number it itself and the invoice could not be "
    "matched again. Give it a number in the source.",
    "number_reused": "The invoice number {value} is used by another invoice too; a number must belong to one "
    "invoice, so this one is held back until one of them is renumbered in the source.",
    "negative_total": "The invoice total is negative ({value}); QuickBooks does not accept negative invoices "
    "(issue a credit instead).",
    "overapplied": "The payment of {amount} is applied to invoices for {value} in total, more than was received.",
    "unmapped_tax_code": "{subject} uses the tax code {value!r}, which has no entry in taxes.map.",
    "tax_rate_mismatch": "{subject} was taxed at {value}%, which is not the rate of the QuickBooks tax code its "
    "tax code maps to (taxes.map, taxes.rates); its tax would be booked on the wrong rates.",
    "date_too_old": "{subject} is dated {value}, before 1950; that is taken for a typo or a placeholder date. "
    "Correct the date in the source.",
    "amount_too_large": "{subject} has {a_label} of {value}, more than QuickBooks can hold (at most 10 digits "
    "before the decimal point).",
    "future_date": "{subject} is dated {value}, in the future; it is exported once that date has come and "
    "the record changes again, or after the date is corrected.",
    "currency_mismatch": "{subject} is in {value}; QuickBooks needs a customer's transactions in the customer's "
    "currency.",
    "orphan": "{subject} belongs to {parent_label} {value}, which is not in this extraction.",
}


def fmt(value: Any) -> str:
    """A value as a person would write it: 2 not 2.0, no scientific notation for money."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "empty"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return f"{value:.6f}".rstrip("0").rstrip(".")
    if hasattr(value, "date") and hasattr(value, "isoformat"):
        try:
            return value.date().isoformat() if value == value.normalize() else value.isoformat()
        except AttributeError:
            return value.isoformat()
    return str(value)


def subject(table: str, row: Mapping[str, Any]) -> str:
    if table == "invoice_lines":
        return f"Line {fmt(row.get('line_no'))}"
    if table == "payment_applications":
        return f"The application to invoice {fmt(row.get('invoice_id'))}"
    return SUBJECTS.get(table, "The record")


def reason(table: str, row: Mapping[str, Any], column: str, check: str, value: Any) -> str:
    """The sentence for one failure of ``check`` on ``column`` of ``row`` (a dict of the row)."""
    if check == "no_name" and table == "products":
        check = "product_no_name"
    template = TEMPLATES.get(check)
    label = LABELS.get(column, column.replace("_", " "))
    fields = {k: fmt(v) for k, v in row.items()}
    display = fmt(value)
    if isinstance(value, str):
        display = value
    if check == "amount_arithmetic":
        try:
            fields["expected"] = fmt(round(float(row["quantity"]) * float(row["unit_price"]), 4))
        except (TypeError, ValueError):
            fields["expected"] = "something else"
    if template is None:
        return f"{subject(table, row)} fails the check {check} on its {label} (value {display})."
    fields.update(
        subject=subject(table, row),
        label=label,
        a_label=("an " if label[:1] in "aeio" else "a ") + label,
        value=display,
        allowed=", ".join(ALLOWED.get(column, ())),
        parent_label="invoice" if table == "invoice_lines" else "payment",
    )
    try:
        return template.format(**fields)
    except (KeyError, IndexError, ValueError):
        return f"{subject(table, row)} fails the check {check} on its {label} (value {display})."
