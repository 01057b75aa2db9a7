"""The canonical billing model: the one shape every source is mapped onto.

Hosting billing, web shops and practice-management systems all store the same business
facts under different names. Extraction maps each of them onto these tables, so every
later stage (validation, transform, export) is written once. The embedded demo database
uses exactly this schema, so its mapping is the identity.

Conventions of the extracted frames (pandas):
- ids are strings (``object`` dtype), whatever the source stored;
- money columns are float64 in the frames and become ``Decimal`` rounded half-up to
  cents in the transform;
- dates (``issue_date``, ``due_date``, ``date``) are naive datetime64 at midnight;
  ``updated_at`` is a naive UTC datetime64;
- booleans are ``bool`` (nullable sources map NULL to the column's default).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

metadata = sa.MetaData()


# -- the column factory: blocks many tables share, as fresh columns (a Column belongs to one table) --------
def _key(comment: str | None = None) -> list[sa.Column]:
    """The source's own id of the record, kept as text whatever the source stored."""
    return [sa.Column("id", sa.String(64), primary_key=True, comment=comment)]


def _line_key(parent_key: str) -> list[sa.Column]:
    """A child row: its id, its parent's id and its position on the parent document."""
    return [*_key(), sa.Column(parent_key, sa.String(64), nullable=False),
            sa.Column("line_no", sa.Integer, nullable=False, default=1)]


def _item_line(amount_comment: str) -> list[sa.Column]:
    """What a sold line bills: a product (or free text) times a price; invoice and receipt lines alike."""
    return [
        sa.Column("product_id", sa.String(64), comment="NULL for a free-text line"),
        sa.Column("name", sa.Text, comment="product name for free-text lines"),
        sa.Column("description", sa.Text),
        sa.Column("quantity", sa.Numeric(18, 4)),
        sa.Column("unit_price", sa.Numeric(18, 4)),
        sa.Column("amount", sa.Numeric(18, 2), comment=amount_comment),
    ]


def _tracking(*, department: bool = True, class_comment: str | None = None) -> list[sa.Column]:
    """QBO Class (brand, matter, service line) and, on whole documents, Department (QBO's Location)."""
    columns = [sa.Column("class_name", sa.Text, comment=class_comment)]
    return [*columns, sa.Column("department_name", sa.Text)] if department else columns


def _currency(rate_comment: str | None = None) -> list[sa.Column]:
    """The document's currency; with ``rate_comment``, also the exchange rate the source booked."""
    columns = [sa.Column("currency", sa.String(3))]
    if rate_comment is None:
        return columns
    return [*columns, sa.Column("exchange_rate", sa.Numeric(18, 8), comment=rate_comment)]


def _received(method_comment: str, reference_comment: str) -> list[sa.Column]:
    """How money came in (payments, sales receipts): the method, its reference and the account it lands in."""
    return [
        sa.Column("method", sa.Text, comment=method_comment),
        sa.Column("reference", sa.Text, comment=reference_comment),
        sa.Column("deposit_account", sa.Text, comment="account name; Undeposited Funds when empty"),
    ]


def _flag(name: str, default: bool, comment: str | None = None) -> sa.Column:
    """A yes/no column; NULL in a source reads as ``default``."""
    return sa.Column(name, sa.Boolean, nullable=False, default=default, comment=comment)


def _updated_at() -> list[sa.Column]:
    """The last change in the source (naive UTC): the watermark of incremental extraction."""
    return [sa.Column("updated_at", sa.DateTime, nullable=False)]


def _record_end(*, memo: bool = False) -> list[sa.Column]:
    """The end of a top-level record: its internal note (when it has one), soft delete and last change."""
    columns = [sa.Column("memo", sa.Text)] if memo else []
    return [*columns, _flag("deleted", False), *_updated_at()]


customers = sa.Table(
    "customers",
    metadata,
    *_key("source customer id"),
    sa.Column("display_name", sa.Text, comment="name shown in QBO; built from company/person when empty"),
    sa.Column("company_name", sa.Text),
    sa.Column("given_name", sa.Text),
    sa.Column("family_name", sa.Text),
    sa.Column("email", sa.Text),
    sa.Column("phone", sa.Text),
    sa.Column("bill_line1", sa.Text),
    sa.Column("bill_line2", sa.Text),
    sa.Column("bill_city", sa.Text),
    sa.Column("bill_region", sa.Text, comment="state / province"),
    sa.Column("bill_postal_code", sa.Text),
    sa.Column("bill_country", sa.Text),
    sa.Column("parent_id", sa.String(64), comment="parent customer for sub-customers (jobs, matters)"),
    _flag("active", True),
    _flag("deleted", False, "soft-deleted in the source"),
    sa.Column("currency", sa.String(3), comment="ISO 4217; the company's home currency when empty"),
    *_updated_at(),
)

products = sa.Table(
    "products",
    metadata,
    *_key(),
    sa.Column("name", sa.Text),
    sa.Column("sku", sa.Text, comment="catalog id; becomes the QBO Item Sku"),
    sa.Column("description", sa.Text),
    sa.Column("type", sa.String(16), comment="service | non_inventory | inventory"),
    sa.Column("unit_price", sa.Numeric(18, 4)),
    sa.Column("cost", sa.Numeric(18, 4)),
    sa.Column("income_account", sa.Text, comment="account name; the configured default when empty"),
    sa.Column("expense_account", sa.Text, comment="account name; the configured default when empty"),
    _flag("taxable", False),
    sa.Column("qty_on_hand", sa.Numeric(18, 4), comment="inventory items only"),
    _flag("active", True),
    *_record_end(),
)

invoices = sa.Table(
    "invoices",
    metadata,
    *_key(),
    sa.Column("number", sa.Text, comment="the document number; QBO DocNumber (21 chars, shortened by rule)"),
    sa.Column("customer_id", sa.String(64)),
    sa.Column("status", sa.String(16), comment="draft | sent | paid | void | closed"),
    sa.Column("issue_date", sa.Date),
    sa.Column("due_date", sa.Date),
    *_currency(),
    sa.Column("memo", sa.Text),
    sa.Column("kind", sa.String(16), comment="invoice | credit_note (a credit invoice: QBO CreditMemo); invoice when empty"),
    sa.Column("credited_invoice_id", sa.String(64), comment="credit notes: the invoice they credit (applied to it)"),
    sa.Column("tax_amount", sa.Numeric(18, 2),
              comment="tax billed on the invoice as a whole (sources that keep tax per invoice); booked as is"),
    sa.Column("tax_rate", sa.Numeric(9, 4), comment="percent the invoice-level tax was computed with (reported)"),
    sa.Column("tax_code", sa.Text, comment="source tax code of the invoice-level tax (reported)"),
    sa.Column("discount_amount", sa.Numeric(18, 2), comment="invoice-level discount as an amount (>= 0)"),
    sa.Column("discount_percent", sa.Numeric(9, 4), comment="invoice-level discount as a percent (0-100)"),
    sa.Column("discount_after_tax", sa.Boolean, default=False,
              comment="the invoice-level discount applies to the total with tax (else to the lines before tax)"),
    *_record_end(),
)

invoice_lines = sa.Table(
    "invoice_lines",
    metadata,
    *_line_key("invoice_id"),
    *_item_line("quantity x unit_price, before discount"),
    sa.Column("discount", sa.Numeric(18, 2), comment="discount amount on this line (>= 0)"),
    sa.Column("tax_code", sa.Text, comment="source tax code; mapped to QBO tax codes by configuration"),
    sa.Column("tax_amount", sa.Numeric(18, 2), comment="tax billed on this line; QBO books exactly the sum"),
    sa.Column("tax_rate", sa.Numeric(9, 4), comment="percent the line's tax was computed with (reported)"),
    *_updated_at(),
)

payments = sa.Table(
    "payments",
    metadata,
    *_key(),
    sa.Column("customer_id", sa.String(64)),
    sa.Column("date", sa.Date),
    sa.Column("amount", sa.Numeric(18, 2)),
    *_currency(),
    *_received("payment method name (Cash, Check, Credit Card...)", "check number / gateway transaction id"),
    *_record_end(memo=True),
    sa.Column("tip", sa.Numeric(18, 2), comment="part of amount that is a tip (issue 14): booked on the tips item"),
)

payment_applications = sa.Table(
    "payment_applications",
    metadata,
    *_key(),
    sa.Column("payment_id", sa.String(64), nullable=False),
    sa.Column("invoice_id", sa.String(64), nullable=False),
    sa.Column("amount", sa.Numeric(18, 2)),
    *_updated_at(),
)

credits = sa.Table(
    "credits",
    metadata,
    *_key(),
    sa.Column("customer_id", sa.String(64)),
    sa.Column("invoice_id", sa.String(64), comment="the invoice credited or written off, if any"),
    sa.Column("kind", sa.String(16), comment="credit | write_off | bad_debt"),
    sa.Column("date", sa.Date),
    sa.Column("amount", sa.Numeric(18, 2)),
    *_currency(),
    sa.Column("product_id", sa.String(64), comment="item credited; the configured credit item when empty"),
    sa.Column("description", sa.Text),
    *_record_end(),
)

refunds = sa.Table(
    "refunds",
    metadata,
    *_key(),
    sa.Column("customer_id", sa.String(64)),
    sa.Column("payment_id", sa.String(64), comment="the payment refunded, if any"),
    sa.Column("date", sa.Date),
    sa.Column("amount", sa.Numeric(18, 2)),
    *_currency(),
    sa.Column("method", sa.Text),
    sa.Column("reference", sa.Text),
    sa.Column("refund_account", sa.Text, comment="account the money leaves; the payments' account when empty"),
    sa.Column("product_id", sa.String(64)),
    sa.Column("description", sa.Text),
    *_record_end(),
)


@dataclass(frozen=True)
class Entity:
    """A canonical entity: its table, and the date column that partitions it (if any)."""

    name: str
    table: sa.Table
    txn_date_column: str | None = None
    parent: str | None = None  # child tables (lines, applications) travel with their parent

    @property
    def columns(self) -> list[str]:
        return [c.name for c in self.table.columns]


ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (
        Entity("customers", customers),
        Entity("products", products),
        Entity("invoices", invoices, txn_date_column="issue_date"),
        Entity("invoice_lines", invoice_lines, parent="invoices"),
        Entity("payments", payments, txn_date_column="date"),
        Entity("payment_applications", payment_applications, parent="payments"),
        Entity("credits", credits, txn_date_column="date"),
        Entity("refunds", refunds, txn_date_column="date"),
    )
}

CANONICAL_VALUES: dict[tuple[str, str], tuple[str, ...]] = {
    ("invoices", "status"): ("draft", "sent", "paid", "void", "closed"),
    ("invoices", "kind"): ("invoice", "credit_note"),
    ("products", "type"): ("service", "non_inventory", "inventory"),
    ("credits", "kind"): ("credit", "write_off", "bad_debt"),
}
"""The closed value lists of canonical text columns (a mapping's ``values:`` must land in them)."""

OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "invoices": ("kind", "credited_invoice_id", "tax_amount", "tax_rate", "tax_code", "discount_amount",
                 "discount_percent", "discount_after_tax"),
    "invoice_lines": ("tax_amount", "tax_rate"),
    "sales_receipt_lines": ("tax_amount",),
}
"""Columns added after the first release (tax as billed, invoice discounts). The identity
mapping reads them where the database has them and as empty where a database made by an
earlier version lacks them; a YAML mapping maps them like any other column."""

UNREADABLE = "_unreadable"
"""Extra column of an extracted frame: per row, the values that could not be read, as
``{column: (check, raw value)}`` (``not_a_number``, ``not_a_date``, ``not_a_boolean``,
``not_text``, ``control_characters``). Present only when some row has one. Validation
quarantines those rows with a sentence, instead of extraction stopping for the whole table
or a value silently becoming empty."""

MONEY_COLUMNS = {
    "products": ["unit_price", "cost", "qty_on_hand"],
    "invoices": ["tax_amount", "tax_rate", "discount_amount", "discount_percent"],
    "invoice_lines": ["quantity", "unit_price", "amount", "discount", "tax_amount", "tax_rate"],
    "payments": ["amount"],
    "payment_applications": ["amount"],
    "credits": ["amount"],
    "refunds": ["amount"],
}


# -- bookkeeping beyond billing (issue 14): receipts, deposits, costs, journal entries ----------
# Tracking columns: ``class_name`` (brand, matter, service line) and ``department_name`` (QBO calls
# it Location) name a QBO Class / Department, found or created by name at export.

def _cost(account_kind_comment: str) -> list[sa.Column]:
    """What an expense and a bill both book: the cost account, the amount, the client it is billed on to."""
    return [
        sa.Column("account", sa.Text, comment="expense or cost of goods sold account"),
        sa.Column("account_kind", sa.String(16), comment=account_kind_comment),
        sa.Column("amount", sa.Numeric(18, 2)),
        sa.Column("description", sa.Text),
        sa.Column("customer_id", sa.String(64), comment="the client a hard cost is billed on to"),
        _flag("billable", False),
        *_tracking(),
        *_currency(),
        *_record_end(memo=True),
    ]


sales_receipts = sa.Table(
    "sales_receipts",
    metadata,
    *_key(),
    sa.Column("number", sa.Text, comment="order number; QBO DocNumber (21 chars, shortened by rule)"),
    sa.Column("customer_id", sa.String(64), comment="the buyer; empty for a walk-in sale"),
    sa.Column("date", sa.Date),
    *_currency("home units per foreign unit; QBO's rate when empty"),
    *_received("payment method name (Visa, PayPal...)", "gateway transaction id"),
    sa.Column("tip", sa.Numeric(18, 2), comment="tip paid with the order; a line on the tips item"),
    *_tracking(),
    *_record_end(memo=True),
)

sales_receipt_lines = sa.Table(
    "sales_receipt_lines",
    metadata,
    *_line_key("receipt_id"),
    *_item_line("quantity x unit_price"),
    sa.Column("tax_code", sa.Text),
    sa.Column("tax_amount", sa.Numeric(18, 2), comment="tax billed on this line; QBO books exactly the sum"),
    *_tracking(department=False, class_comment="line tracking; the receipt's class when empty"),
    *_updated_at(),
)

deposits = sa.Table(
    "deposits",
    metadata,
    *_key(),
    sa.Column("date", sa.Date),
    sa.Column("bank_account", sa.Text, comment="the Bank account the money goes to"),
    sa.Column("bank_kind", sa.String(16), comment="operating | trust (detail type of a created account)"),
    *_currency(),
    sa.Column("department_name", sa.Text),
    *_record_end(memo=True),
)

deposit_lines = sa.Table(
    "deposit_lines",
    metadata,
    *_line_key("deposit_id"),
    sa.Column("payment_id", sa.String(64), comment="a payment waiting in Undeposited Funds"),
    sa.Column("receipt_id", sa.String(64), comment="a sales receipt waiting in Undeposited Funds"),
    sa.Column("account", sa.Text, comment="for money not from Undeposited Funds: the account it comes from"),
    sa.Column("account_kind", sa.String(16), comment="income | trust_liability | ... (type of a created account)"),
    sa.Column("customer_id", sa.String(64), comment="received from (lines with an account)"),
    sa.Column("amount", sa.Numeric(18, 2)),
    sa.Column("description", sa.Text),
    *_tracking(department=False),
    *_updated_at(),
)

expenses = sa.Table(
    "expenses",
    metadata,
    *_key(),
    sa.Column("number", sa.Text, comment="check or receipt number; QBO DocNumber"),
    sa.Column("date", sa.Date),
    sa.Column("vendor", sa.Text, comment="payee name (a QBO Vendor, created when missing)"),
    sa.Column("payment_type", sa.String(16), comment="cash | check | credit_card"),
    sa.Column("paid_from", sa.Text, comment="bank or credit card account the money left"),
    *_cost("expense | cogs (type of a created account)"),
)

bills = sa.Table(
    "bills",
    metadata,
    *_key(),
    sa.Column("number", sa.Text, comment="the vendor's invoice number; QBO DocNumber"),
    sa.Column("date", sa.Date),
    sa.Column("due_date", sa.Date),
    sa.Column("vendor", sa.Text, comment="vendor name (a QBO Vendor, created when missing)"),
    *_cost("expense | cogs"),
)

journal_entries = sa.Table(
    "journal_entries",
    metadata,
    *_key(),
    sa.Column("number", sa.Text, comment="QBO DocNumber"),
    sa.Column("date", sa.Date),
    sa.Column("purpose", sa.String(16), comment="write_off | transfer | adjustment"),
    *_currency("home units per foreign unit"),
    *_record_end(memo=True),
)

journal_entry_lines = sa.Table(
    "journal_entry_lines",
    metadata,
    *_line_key("journal_entry_id"),
    sa.Column("posting", sa.String(8), comment="debit | credit"),
    sa.Column("account", sa.Text, comment="account name; write-off debits: the configured bad-debt account when empty"),
    sa.Column("account_kind", sa.String(16),
              comment="operating | trust | trust_liability | receivable | expense | bad_debt | income"),
    sa.Column("amount", sa.Numeric(18, 2)),
    sa.Column("customer_id", sa.String(64), comment="required on receivable lines (the customer written off)"),
    sa.Column("description", sa.Text),
    *_tracking(department=False),
    *_updated_at(),
)

ENTITIES.update({
    e.name: e
    for e in (
        Entity("sales_receipts", sales_receipts, txn_date_column="date"),
        Entity("sales_receipt_lines", sales_receipt_lines, parent="sales_receipts"),
        Entity("deposits", deposits, txn_date_column="date"),
        Entity("deposit_lines", deposit_lines, parent="deposits"),
        Entity("expenses", expenses, txn_date_column="date"),
        Entity("bills", bills, txn_date_column="date"),
        Entity("journal_entries", journal_entries, txn_date_column="date"),
        Entity("journal_entry_lines", journal_entry_lines, parent="journal_entries"),
    )
})

BOOKKEEPING_PARENT_KEYS = {"sales_receipt_lines": "receipt_id", "deposit_lines": "deposit_id",
                           "journal_entry_lines": "journal_entry_id"}
"""Child table -> the column holding its parent's id, for the bookkeeping tables."""

MONEY_COLUMNS["payments"] = [*MONEY_COLUMNS["payments"], "tip"]
MONEY_COLUMNS.update({
    "sales_receipts": ["tip"],
    "sales_receipt_lines": ["quantity", "unit_price", "amount"],
    "deposit_lines": ["amount"],
    "expenses": ["amount"],
    "bills": ["amount"],
    "journal_entry_lines": ["amount"],
})
