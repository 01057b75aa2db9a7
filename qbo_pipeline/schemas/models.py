"""pandera contracts of the canonical billing tables, one ``DataFrameModel`` per table.

These models hold the row-level rules a bookkeeper would state about one record (an
amount is not negative, an e-mail looks like one, a status is one we know). Rules that
look across rows or tables (an invoice's customer exists, applications do not exceed
their payment) live in :mod:`qbo_pipeline.schemas.checks`, because they depend on ids
known from earlier syncs. Field descriptions double as the Dagster column schemas.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from qbo_pipeline.schemas.checks import CENT_TOLERANCE
from qbo_pipeline.source.model import CANONICAL_VALUES

CURRENCY_PATTERN = r"^[A-Z]{3}$"

PRODUCT_TYPES = CANONICAL_VALUES[("products", "type")]
INVOICE_STATUSES = CANONICAL_VALUES[("invoices", "status")]
CREDIT_KINDS = CANONICAL_VALUES[("credits", "kind")]


def _is_currency(series: pd.Series) -> pd.Series:
    text = series.astype(object)
    return text.isna() | text.str.fullmatch(CURRENCY_PATTERN).fillna(False).astype(bool)


class _Base(pa.DataFrameModel):
    class Config:
        strict = False  # extra source columns travel along untouched
        coerce = False  # the frames are conformed first, so a bad value is reported per row


# A check shared through a base class is named after its method: pandera takes ``name=`` for the
# first model built from the base only (it pops it), later models fall back to the method's name.
# Were they to differ, the check (and the sentence a bookkeeper reads) would depend on which entity
# happened to be validated first in the process.


class _CurrencyCode(_Base):
    """Records with a ``currency`` column (customers, transactions): an ISO 4217 code, or empty for home."""

    @pa.check("currency", name="currency_code")
    def currency_code(cls, series: pd.Series) -> pd.Series:
        return _is_currency(series)


class _ItemLine(_Base):
    """A sold line (invoice or sales receipt): its amount is its quantity times its unit price."""

    @pa.dataframe_check(name="amount_arithmetic")
    def amount_arithmetic(cls, df: pd.DataFrame) -> pd.Series:
        expected = df["quantity"] * df["unit_price"]
        known = expected.notna() & df["amount"].notna()
        return ~known | ((df["amount"] - expected).abs() <= CENT_TOLERANCE)


class Customer(_CurrencyCode):
    """A billed party: becomes a QBO Customer (or a Job under its parent)."""

    id: Series[str] = pa.Field(unique=True, description="Source customer id (unique).")
    display_name: Series[str] = pa.Field(
        nullable=True, description="Name shown in QBO; built from company or person when empty."
    )
    company_name: Series[str] = pa.Field(nullable=True, description="Company name.")
    given_name: Series[str] = pa.Field(nullable=True, description="First name of the contact.")
    family_name: Series[str] = pa.Field(nullable=True, description="Last name of the contact.")
    email: Series[str] = pa.Field(nullable=True, description="Primary e-mail; an invalid one is dropped and reported.")
    phone: Series[str] = pa.Field(nullable=True, description="Primary phone, free form.")
    bill_line1: Series[str] = pa.Field(nullable=True, description="Billing address, first line.")
    bill_line2: Series[str] = pa.Field(nullable=True, description="Billing address, second line.")
    bill_city: Series[str] = pa.Field(nullable=True, description="Billing city.")
    bill_region: Series[str] = pa.Field(nullable=True, description="Billing state or province.")
    bill_postal_code: Series[str] = pa.Field(nullable=True, description="Billing postal code.")
    bill_country: Series[str] = pa.Field(nullable=True, description="Billing country.")
    parent_id: Series[str] = pa.Field(
        nullable=True, description="Parent customer id for sub-customers (jobs); must exist."
    )
    active: Series[bool] = pa.Field(description="False: the customer is made inactive in QBO.")
    deleted: Series[bool] = pa.Field(description="Soft-deleted in the source: made inactive in QBO.")
    currency: Series[str] = pa.Field(nullable=True, description="ISO 4217 code; home currency when empty.")
    updated_at: Series[pa.DateTime] = pa.Field(description="Last change in the source (UTC).")


class Product(_Base):
    """A catalog entry: becomes a QBO Item (Service, NonInventory or Inventory)."""

    id: Series[str] = pa.Field(unique=True, description="Source product id (unique).")
    name: Series[str] = pa.Field(nullable=True, description="Item name; the SKU when empty. A name holding a token "
                                 "({description}, {invoice_number}, {customer}, {period}) is a template: one item "
                                 "per filled name (docs/mapping.md).")
    sku: Series[str] = pa.Field(nullable=True, description="Catalog id; becomes the QBO Item Sku.")
    description: Series[str] = pa.Field(nullable=True, description="Sales description (cut at 4000).")
    type: Series[str] = pa.Field(
        nullable=True, isin=list(PRODUCT_TYPES), description="service | non_inventory | inventory (service when empty)."
    )
    unit_price: Series[float] = pa.Field(nullable=True, ge=0, description="Sales price, not negative.")
    cost: Series[float] = pa.Field(nullable=True, ge=0, description="Purchase cost, not negative.")
    income_account: Series[str] = pa.Field(nullable=True, description="Income account name; configured default when empty.")
    expense_account: Series[str] = pa.Field(nullable=True, description="Expense/COGS account name; configured default when empty.")
    taxable: Series[bool] = pa.Field(description="Sales tax applies (US companies).")
    qty_on_hand: Series[float] = pa.Field(nullable=True, description="Quantity on hand (inventory items).")
    active: Series[bool] = pa.Field(description="False: the item is made inactive in QBO.")
    deleted: Series[bool] = pa.Field(description="Soft-deleted in the source: made inactive in QBO.")
    updated_at: Series[pa.DateTime] = pa.Field(description="Last change in the source (UTC).")


class _Transaction(_CurrencyCode):
    """Columns every transaction has: currency (checked as an ISO code), soft delete, last change."""

    currency: Series[str] = pa.Field(nullable=True, description="ISO 4217 code; home currency when empty.")
    deleted: Series[bool] = pa.Field(description="Soft-deleted in the source: deleted in QBO.")
    updated_at: Series[pa.DateTime] = pa.Field(description="Last change in the source (UTC).")


class Invoice(_Transaction):
    """A bill sent to a customer: becomes a QBO Invoice."""

    id: Series[str] = pa.Field(unique=True, description="Source invoice id (unique).")
    number: Series[str] = pa.Field(nullable=True, description="Document number; QBO DocNumber (21 chars, shortened by rule).")
    customer_id: Series[str] = pa.Field(description="Billed customer; must exist.")
    status: Series[str] = pa.Field(isin=list(INVOICE_STATUSES), description="draft | sent | paid | void | closed.")
    issue_date: Series[pa.DateTime] = pa.Field(description="Invoice date (QBO TxnDate).")
    due_date: Series[pa.DateTime] = pa.Field(nullable=True, description="Due date, not before the invoice date.")
    memo: Series[str] = pa.Field(nullable=True, description="Internal note (QBO PrivateNote).")
    kind: Series[str] = pa.Field(nullable=True, isin=list(CANONICAL_VALUES[("invoices", "kind")]),
                                 description="invoice | credit_note (a QBO CreditMemo with its number and lines).")
    credited_invoice_id: Series[str] = pa.Field(nullable=True, description="Credit notes: the invoice credited.")
    tax_amount: Series[float] = pa.Field(nullable=True, description="Tax billed on the invoice as a whole (booked as is).")
    tax_rate: Series[float] = pa.Field(nullable=True, ge=0, description="Percent of the invoice-level tax.")
    tax_code: Series[str] = pa.Field(nullable=True, description="Source code of the invoice-level tax.")
    discount_amount: Series[float] = pa.Field(nullable=True, ge=0, description="Invoice-level discount (amount).")
    discount_percent: Series[float] = pa.Field(nullable=True, ge=0, le=100,
                                               description="Invoice-level discount (percent, 0-100).")
    discount_after_tax: Series[bool] = pa.Field(description="True: the discount applies to the total with tax.")

    @pa.dataframe_check(name="due_before_issue")
    def _due_after_issue(cls, df: pd.DataFrame) -> pd.Series:
        return df["due_date"].isna() | df["issue_date"].isna() | (df["due_date"] >= df["issue_date"])


class _DiscountedLine(_Base):
    """A line with its own discount (invoice lines): the discount does not exceed the line's amount."""

    @pa.dataframe_check(name="discount_exceeds_amount")
    def _discount_within_amount(cls, df: pd.DataFrame) -> pd.Series:
        known = df["discount"].notna() & df["amount"].notna()
        return ~known | (df["discount"] <= df["amount"].abs() + 1e-9)


class InvoiceLine(_ItemLine, _DiscountedLine):  # bases in this order: the arithmetic is checked (and reported) first
    """One billed line of an invoice: a QBO SalesItemLine (plus its share of the discount line)."""

    id: Series[str] = pa.Field(unique=True, description="Source line id (unique).")
    invoice_id: Series[str] = pa.Field(description="Invoice the line belongs to.")
    line_no: Series[int] = pa.Field(ge=0, description="Position on the invoice.")
    product_id: Series[str] = pa.Field(nullable=True, description="Product billed; empty for a free-text line.")
    name: Series[str] = pa.Field(nullable=True, description="Product name for free-text lines.")
    description: Series[str] = pa.Field(nullable=True, description="Line description (cut at 4000, full text in PrivateNote).")
    quantity: Series[float] = pa.Field(nullable=True, ge=0, description="Quantity, not negative.")
    unit_price: Series[float] = pa.Field(nullable=True, description="Unit price.")
    amount: Series[float] = pa.Field(description="quantity x unit_price (within half a cent), before discount.")
    discount: Series[float] = pa.Field(nullable=True, ge=0, description="Discount on this line, not negative.")
    tax_code: Series[str] = pa.Field(nullable=True, description="Source tax code, mapped to a QBO tax code.")
    tax_amount: Series[float] = pa.Field(nullable=True, description="Tax billed on this line (booked as is).")
    tax_rate: Series[float] = pa.Field(nullable=True, ge=0, description="Percent of the line's tax.")
    updated_at: Series[pa.DateTime] = pa.Field(description="Last change in the source (UTC).")


class Payment(_Transaction):
    """Money received from a customer: becomes a QBO Payment."""

    id: Series[str] = pa.Field(unique=True, description="Source payment id (unique).")
    customer_id: Series[str] = pa.Field(description="Paying customer; must exist.")
    date: Series[pa.DateTime] = pa.Field(description="Payment date (QBO TxnDate).")
    amount: Series[float] = pa.Field(ge=0, description="Amount received, not negative.")
    method: Series[str] = pa.Field(nullable=True, description="Payment method name (QBO PaymentMethodRef).")
    reference: Series[str] = pa.Field(nullable=True, description="Check number / gateway id (QBO PaymentRefNum, 21).")
    deposit_account: Series[str] = pa.Field(nullable=True, description="Deposit account; Undeposited Funds when empty.")
    memo: Series[str] = pa.Field(nullable=True, description="Internal note (QBO PrivateNote).")
    tip: Series[float] = pa.Field(nullable=True, ge=0, description="Tip within the amount, not negative.")


class PaymentApplication(_Base):
    """The part of a payment applied to one invoice: a QBO Payment line with a LinkedTxn."""

    id: Series[str] = pa.Field(unique=True, description="Source application id (unique).")
    payment_id: Series[str] = pa.Field(description="Payment applied.")
    invoice_id: Series[str] = pa.Field(description="Invoice paid; must exist.")
    amount: Series[float] = pa.Field(gt=0, description="Amount applied, more than zero.")
    updated_at: Series[pa.DateTime] = pa.Field(description="Last change in the source (UTC).")


class Credit(_Transaction):
    """A credit, write-off or bad debt: becomes a QBO CreditMemo."""

    id: Series[str] = pa.Field(unique=True, description="Source credit id (unique).")
    customer_id: Series[str] = pa.Field(description="Credited customer; must exist.")
    invoice_id: Series[str] = pa.Field(nullable=True, description="Invoice credited or written off; must exist if set.")
    kind: Series[str] = pa.Field(isin=list(CREDIT_KINDS), description="credit | write_off | bad_debt.")
    date: Series[pa.DateTime] = pa.Field(description="Credit date (QBO TxnDate).")
    amount: Series[float] = pa.Field(gt=0, description="Amount credited, more than zero.")
    product_id: Series[str] = pa.Field(nullable=True, description="Item credited; the configured item when empty.")
    description: Series[str] = pa.Field(nullable=True, description="Line description (cut at 4000).")


class Refund(_Transaction):
    """Money paid back to a customer: becomes a QBO RefundReceipt."""

    id: Series[str] = pa.Field(unique=True, description="Source refund id (unique).")
    customer_id: Series[str] = pa.Field(description="Refunded customer; must exist.")
    payment_id: Series[str] = pa.Field(nullable=True, description="Payment refunded; must exist if set.")
    date: Series[pa.DateTime] = pa.Field(description="Refund date (QBO TxnDate).")
    amount: Series[float] = pa.Field(gt=0, description="Amount refunded, more than zero.")
    method: Series[str] = pa.Field(nullable=True, description="Payment method name (QBO PaymentMethodRef).")
    reference: Series[str] = pa.Field(nullable=True, description="Check number / gateway id (QBO PaymentRefNum).")
    refund_account: Series[str] = pa.Field(
        nullable=True, description="Account the money leaves; the payments' account when empty."
    )
    product_id: Series[str] = pa.Field(nullable=True, description="Item refunded; the configured credit item when empty.")
    description: Series[str] = pa.Field(nullable=True, description="Line description (cut at 4000).")


MODELS: dict[str, type[pa.DataFrameModel]] = {
    "customers": Customer,
    "products": Product,
    "invoices": Invoice,
    "invoice_lines": InvoiceLine,
    "payments": Payment,
    "payment_applications": PaymentApplication,
    "credits": Credit,
    "refunds": Refund,
}
