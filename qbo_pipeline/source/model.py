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

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True, comment="source customer id"),
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
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("deleted", sa.Boolean, nullable=False, default=False, comment="soft-deleted in the source"),
    sa.Column("currency", sa.String(3), comment="ISO 4217; the company's home currency when empty"),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

products = sa.Table(
    "products",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.Text),
    sa.Column("sku", sa.Text, comment="catalog id; becomes the QBO Item Sku"),
    sa.Column("description", sa.Text),
    sa.Column("type", sa.String(16), comment="service | non_inventory | inventory"),
    sa.Column("unit_price", sa.Numeric(18, 4)),
    sa.Column("cost", sa.Numeric(18, 4)),
    sa.Column("income_account", sa.Text, comment="account name; the configured default when empty"),
    sa.Column("expense_account", sa.Text, comment="account name; the configured default when empty"),
    sa.Column("taxable", sa.Boolean, nullable=False, default=False),
    sa.Column("qty_on_hand", sa.Numeric(18, 4), comment="inventory items only"),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("deleted", sa.Boolean, nullable=False, default=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

invoices = sa.Table(
    "invoices",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("number", sa.Text, comment="the document number; QBO DocNumber (21 chars, shortened by rule)"),
    sa.Column("customer_id", sa.String(64)),
    sa.Column("status", sa.String(16), comment="draft | sent | paid | void | closed"),
    sa.Column("issue_date", sa.Date),
    sa.Column("due_date", sa.Date),
    sa.Column("currency", sa.String(3)),
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
    sa.Column("deleted", sa.Boolean, nullable=False, default=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

invoice_lines = sa.Table(
    "invoice_lines",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("invoice_id", sa.String(64), nullable=False),
    sa.Column("line_no", sa.Integer, nullable=False, default=1),
    sa.Column("product_id", sa.String(64), comment="NULL for a free-text line"),
    sa.Column("name", sa.Text, comment="product name for free-text lines"),
    sa.Column("description", sa.Text),
    sa.Column("quantity", sa.Numeric(18, 4)),
    sa.Column("unit_price", sa.Numeric(18, 4)),
    sa.Column("amount", sa.Numeric(18, 2), comment="quantity x unit_price, before discount"),
    sa.Column("discount", sa.Numeric(18, 2), comment="discount amount on this line (>= 0)"),
    sa.Column("tax_code", sa.Text, comment="source tax code; mapped to QBO tax codes by configuration"),
    sa.Column("tax_amount", sa.Numeric(18, 2), comment="tax billed on this line; QBO books exactly the sum"),
    sa.Column("tax_rate", sa.Numeric(9, 4), comment="percent the line's tax was computed with (reported)"),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

payments = sa.Table(
    "payments",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("customer_id", sa.String(64)),
    sa.Column("date", sa.Date),
    sa.Column("amount", sa.Numeric(18, 2)),
    sa.Column("currency", sa.String(3)),
    sa.Column("method", sa.Text, comment="payment method name (Cash, Check, Credit Card...)"),
    sa.Column("reference", sa.Text, comment="check number / gateway transaction id"),
    sa.Column("deposit_account", sa.Text, comment="account name; Undeposited Funds when empty"),
    sa.Column("memo", sa.Text),
    sa.Column("deleted", sa.Boolean, nullable=False, default=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("tip", sa.Numeric(18, 2), comment="part of amount that is a tip (issue 14): booked on the tips item"),
)

payment_applications = sa.Table(
    "payment_applications",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("payment_id", sa.String(64), nullable=False),
    sa.Column("invoice_id", sa.String(64), nullable=False),
    sa.Column("amount", sa.Numeric(18, 2)),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

credits = sa.Table(
    "credits",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("customer_id", sa.String(64)),
    sa.Column("invoice_id", sa.String(64), comment="the invoice credited or written off, if any"),
    sa.Column("kind", sa.String(16), comment="credit | write_off | bad_debt"),
    sa.Column("date", sa.Date),
    sa.Column("amount", sa.Numeric(18, 2)),
    sa.Column("currency", sa.String(3)),
    sa.Column("product_id", sa.String(64), comment="item credited; the configured credit item when empty"),
    sa.Column("description", sa.Text),
    sa.Column("deleted", sa.Boolean, nullable=False, default=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

refunds = sa.Table(
    "refunds",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("customer_id", sa.String(64)),
    sa.Column("payment_id", sa.String(64), comment="the payment refunded, if any"),
    sa.Column("date", sa.Date),
    sa.Column("amount", sa.Numeric(18, 2)),
    sa.Column("currency", sa.String(3)),
    sa.Column("method", sa.Text),
    sa.Column("reference", sa.Text),
    sa.Column("refund_account", sa.Text, comment="account the money leaves; the payments' account when empty"),
    sa.Column("product_id", sa.String(64)),
    sa.Column("description", sa.Text),
    sa.Column("deleted", sa.Boolean, nullable=False, default=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
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
}
"""Columns added after the first release (tax as billed, invoice discounts). The identity
mapping of the demo database reads them as empty, so a database made by an earlier version
still reads; a YAML mapping maps them like any other column."""

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

sales_receipts = sa.Table(
    "sales_receipts",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("number", sa.Text, comment="order number; QBO DocNumber (21 chars, shortened by rule)"),
    sa.Column("customer_id", sa.String(64), comment="the buyer; empty for a walk-in sale"),
    sa.Column("date", sa.Date),
    sa.Column("currency", sa.String(3)),
    sa.Column("exchange_rate", sa.Numeric(18, 8), comment="home units per foreign unit; QBO's rate when empty"),
    sa.Column("method", sa.Text, comment="payment method name (Visa, PayPal...)"),
    sa.Column("reference", sa.Text, comment="gateway transaction id"),
    sa.Column("deposit_account", sa.Text, comment="account name; Undeposited Funds when empty"),
    sa.Column("tip", sa.Numeric(18, 2), comment="tip paid with the order; a line on the tips item"),
    sa.Column("class_name", sa.Text),
    sa.Column("department_name", sa.Text),
    sa.Column("memo", sa.Text),
    sa.Column("deleted", sa.Boolean, nullable=False, default=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

sales_receipt_lines = sa.Table(
    "sales_receipt_lines",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("receipt_id", sa.String(64), nullable=False),
    sa.Column("line_no", sa.Integer, nullable=False, default=1),
    sa.Column("product_id", sa.String(64), comment="NULL for a free-text line"),
    sa.Column("name", sa.Text, comment="product name for free-text lines"),
    sa.Column("description", sa.Text),
    sa.Column("quantity", sa.Numeric(18, 4)),
    sa.Column("unit_price", sa.Numeric(18, 4)),
    sa.Column("amount", sa.Numeric(18, 2), comment="quantity x unit_price"),
    sa.Column("tax_code", sa.Text),
    sa.Column("class_name", sa.Text, comment="line tracking; the receipt's class when empty"),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

deposits = sa.Table(
    "deposits",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("date", sa.Date),
    sa.Column("bank_account", sa.Text, comment="the Bank account the money goes to"),
    sa.Column("bank_kind", sa.String(16), comment="operating | trust (detail type of a created account)"),
    sa.Column("currency", sa.String(3)),
    sa.Column("department_name", sa.Text),
    sa.Column("memo", sa.Text),
    sa.Column("deleted", sa.Boolean, nullable=False, default=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

deposit_lines = sa.Table(
    "deposit_lines",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("deposit_id", sa.String(64), nullable=False),
    sa.Column("line_no", sa.Integer, nullable=False, default=1),
    sa.Column("payment_id", sa.String(64), comment="a payment waiting in Undeposited Funds"),
    sa.Column("receipt_id", sa.String(64), comment="a sales receipt waiting in Undeposited Funds"),
    sa.Column("account", sa.Text, comment="for money not from Undeposited Funds: the account it comes from"),
    sa.Column("account_kind", sa.String(16), comment="income | trust_liability | ... (type of a created account)"),
    sa.Column("customer_id", sa.String(64), comment="received from (lines with an account)"),
    sa.Column("amount", sa.Numeric(18, 2)),
    sa.Column("description", sa.Text),
    sa.Column("class_name", sa.Text),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

expenses = sa.Table(
    "expenses",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("number", sa.Text, comment="check or receipt number; QBO DocNumber"),
    sa.Column("date", sa.Date),
    sa.Column("vendor", sa.Text, comment="payee name (a QBO Vendor, created when missing)"),
    sa.Column("payment_type", sa.String(16), comment="cash | check | credit_card"),
    sa.Column("paid_from", sa.Text, comment="bank or credit card account the money left"),
    sa.Column("account", sa.Text, comment="expense or cost of goods sold account"),
    sa.Column("account_kind", sa.String(16), comment="expense | cogs (type of a created account)"),
    sa.Column("amount", sa.Numeric(18, 2)),
    sa.Column("description", sa.Text),
    sa.Column("customer_id", sa.String(64), comment="the client a hard cost is billed on to"),
    sa.Column("billable", sa.Boolean, nullable=False, default=False),
    sa.Column("class_name", sa.Text),
    sa.Column("department_name", sa.Text),
    sa.Column("currency", sa.String(3)),
    sa.Column("memo", sa.Text),
    sa.Column("deleted", sa.Boolean, nullable=False, default=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

bills = sa.Table(
    "bills",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("number", sa.Text, comment="the vendor's invoice number; QBO DocNumber"),
    sa.Column("date", sa.Date),
    sa.Column("due_date", sa.Date),
    sa.Column("vendor", sa.Text, comment="vendor name (a QBO Vendor, created when missing)"),
    sa.Column("account", sa.Text, comment="expense or cost of goods sold account"),
    sa.Column("account_kind", sa.String(16), comment="expense | cogs"),
    sa.Column("amount", sa.Numeric(18, 2)),
    sa.Column("description", sa.Text),
    sa.Column("customer_id", sa.String(64), comment="the client a hard cost is billed on to"),
    sa.Column("billable", sa.Boolean, nullable=False, default=False),
    sa.Column("class_name", sa.Text),
    sa.Column("department_name", sa.Text),
    sa.Column("currency", sa.String(3)),
    sa.Column("memo", sa.Text),
    sa.Column("deleted", sa.Boolean, nullable=False, default=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

journal_entries = sa.Table(
    "journal_entries",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("number", sa.Text, comment="QBO DocNumber"),
    sa.Column("date", sa.Date),
    sa.Column("purpose", sa.String(16), comment="write_off | transfer | adjustment"),
    sa.Column("currency", sa.String(3)),
    sa.Column("exchange_rate", sa.Numeric(18, 8), comment="home units per foreign unit"),
    sa.Column("memo", sa.Text),
    sa.Column("deleted", sa.Boolean, nullable=False, default=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

journal_entry_lines = sa.Table(
    "journal_entry_lines",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("journal_entry_id", sa.String(64), nullable=False),
    sa.Column("line_no", sa.Integer, nullable=False, default=1),
    sa.Column("posting", sa.String(8), comment="debit | credit"),
    sa.Column("account", sa.Text, comment="account name; write-off debits: the configured bad-debt account when empty"),
    sa.Column("account_kind", sa.String(16),
              comment="operating | trust | trust_liability | receivable | expense | bad_debt | income"),
    sa.Column("amount", sa.Numeric(18, 2)),
    sa.Column("customer_id", sa.String(64), comment="required on receivable lines (the customer written off)"),
    sa.Column("description", sa.Text),
    sa.Column("class_name", sa.Text),
    sa.Column("updated_at", sa.DateTime, nullable=False),
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
