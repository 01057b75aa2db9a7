"""pandera contracts and cross-row rules of the bookkeeping tables (issue 14).

Sales receipts (an order paid at checkout), deposits (payments grouped from Undeposited
Funds into a bank account), expenses and bills (hard costs, possibly billed on to a
client) and journal entries (write-offs, trust -> operating transfers). The row rules are
what a bookkeeper would say about one record; the cross-row rules (a journal entry
balances, a deposit groups each payment once, a receivable line names its customer) are in
:func:`bookkeeping_rules`, called by :func:`qbo_pipeline.schemas.validation.validate`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from qbo_pipeline.schemas import reasons
from qbo_pipeline.schemas.checks import _mask_failures, failures, unknown_reference
from qbo_pipeline.schemas.models import _Base, _ItemLine, _Transaction

BANK_KINDS = ("operating", "trust")
PAYMENT_TYPES = ("cash", "check", "credit_card")
COST_KINDS = ("expense", "cogs")
JOURNAL_PURPOSES = ("write_off", "transfer", "adjustment")
POSTINGS = ("debit", "credit")
LINE_ACCOUNT_KINDS = ("operating", "trust", "trust_liability", "receivable", "expense", "bad_debt", "income")


class SalesReceipt(_Transaction):
    """An order paid at checkout: becomes a QBO SalesReceipt (no invoice, no payment)."""

    id: Series[str] = pa.Field(unique=True, description="Source order id (unique).")
    number: Series[str] = pa.Field(nullable=True, description="Order number; QBO DocNumber.")
    customer_id: Series[str] = pa.Field(nullable=True, description="Buyer; must exist if set (empty: walk-in).")
    date: Series[pa.DateTime] = pa.Field(description="Sale date (QBO TxnDate).")
    exchange_rate: Series[float] = pa.Field(nullable=True, gt=0, description="Home units per foreign unit.")
    method: Series[str] = pa.Field(nullable=True, description="Payment method name.")
    reference: Series[str] = pa.Field(nullable=True, description="Gateway transaction id (PaymentRefNum).")
    deposit_account: Series[str] = pa.Field(nullable=True, description="Account the money lands in.")
    tip: Series[float] = pa.Field(nullable=True, ge=0, description="Tip paid with the order, not negative.")
    class_name: Series[str] = pa.Field(nullable=True, description="QBO Class (brand, channel).")
    department_name: Series[str] = pa.Field(nullable=True, description="QBO Department / Location.")
    memo: Series[str] = pa.Field(nullable=True, description="Internal note.")


class SalesReceiptLine(_ItemLine):
    """One sold line of a receipt: a SalesItemLine."""

    id: Series[str] = pa.Field(unique=True, description="Source line id (unique).")
    receipt_id: Series[str] = pa.Field(description="Receipt the line belongs to.")
    line_no: Series[int] = pa.Field(ge=0, description="Position on the receipt.")
    product_id: Series[str] = pa.Field(nullable=True, description="Product sold; empty for free text.")
    name: Series[str] = pa.Field(nullable=True, description="Product name of a free-text line.")
    description: Series[str] = pa.Field(nullable=True, description="Line description.")
    quantity: Series[float] = pa.Field(nullable=True, ge=0, description="Quantity, not negative.")
    unit_price: Series[float] = pa.Field(nullable=True, description="Unit price.")
    amount: Series[float] = pa.Field(ge=0, description="quantity x unit_price (within half a cent).")
    tax_code: Series[str] = pa.Field(nullable=True, description="Source tax code, mapped like invoice lines.")
    tax_amount: Series[float] = pa.Field(nullable=True, ge=0, description="Tax billed on this line (booked as is).")
    class_name: Series[str] = pa.Field(nullable=True, description="QBO Class of the line.")
    updated_at: Series[pa.DateTime] = pa.Field(description="Last change in the source (UTC).")


class Deposit(_Transaction):
    """A bank deposit: payments and receipts moved from Undeposited Funds into a Bank account."""

    id: Series[str] = pa.Field(unique=True, description="Source deposit (slip) id.")
    date: Series[pa.DateTime] = pa.Field(description="Deposit date.")
    bank_account: Series[str] = pa.Field(description="Bank account name (operating or trust).")
    bank_kind: Series[str] = pa.Field(nullable=True, isin=list(BANK_KINDS),
                                      description="operating | trust (operating when empty).")
    department_name: Series[str] = pa.Field(nullable=True, description="QBO Department / Location.")
    memo: Series[str] = pa.Field(nullable=True, description="Internal note.")


class DepositLine(_Base):
    """One deposited item: a payment or receipt from Undeposited Funds, or money from an account."""

    id: Series[str] = pa.Field(unique=True, description="Source line id.")
    deposit_id: Series[str] = pa.Field(description="Deposit the line belongs to.")
    line_no: Series[int] = pa.Field(ge=0, description="Position on the slip.")
    payment_id: Series[str] = pa.Field(nullable=True, description="Payment deposited; must exist.")
    receipt_id: Series[str] = pa.Field(nullable=True, description="Sales receipt deposited; must exist.")
    account: Series[str] = pa.Field(nullable=True, description="Account of money not from Undeposited Funds.")
    account_kind: Series[str] = pa.Field(nullable=True, isin=list(LINE_ACCOUNT_KINDS),
                                         description="Type of the account when it is created.")
    customer_id: Series[str] = pa.Field(nullable=True, description="Received from; must exist if set.")
    amount: Series[float] = pa.Field(gt=0, description="Amount deposited, more than zero.")
    description: Series[str] = pa.Field(nullable=True, description="Line description.")
    class_name: Series[str] = pa.Field(nullable=True, description="QBO Class of the line.")
    updated_at: Series[pa.DateTime] = pa.Field(description="Last change in the source (UTC).")


class _Cost(_Transaction):
    number: Series[str] = pa.Field(nullable=True, description="Document number; QBO DocNumber.")
    date: Series[pa.DateTime] = pa.Field(description="Cost date (QBO TxnDate).")
    account: Series[str] = pa.Field(description="Expense or cost-of-goods-sold account name.")
    account_kind: Series[str] = pa.Field(nullable=True, isin=list(COST_KINDS), description="expense | cogs.")
    amount: Series[float] = pa.Field(gt=0, description="Cost, more than zero.")
    description: Series[str] = pa.Field(nullable=True, description="Line description.")
    customer_id: Series[str] = pa.Field(nullable=True, description="Client the cost is for; must exist if set.")
    billable: Series[bool] = pa.Field(description="Billed on to the client (needs customer_id).")
    class_name: Series[str] = pa.Field(nullable=True, description="QBO Class.")
    department_name: Series[str] = pa.Field(nullable=True, description="QBO Department / Location.")
    memo: Series[str] = pa.Field(nullable=True, description="Internal note.")


class Expense(_Cost):
    """A cost paid at once (cash, check, card): becomes a QBO Purchase."""

    id: Series[str] = pa.Field(unique=True, description="Source expense id.")
    vendor: Series[str] = pa.Field(nullable=True, description="Payee (QBO Vendor).")
    payment_type: Series[str] = pa.Field(isin=list(PAYMENT_TYPES), description="cash | check | credit_card.")
    paid_from: Series[str] = pa.Field(description="Bank or credit card account the money left.")


class Bill(_Cost):
    """A cost owed to a vendor: becomes a QBO Bill."""

    id: Series[str] = pa.Field(unique=True, description="Source bill id.")
    vendor: Series[str] = pa.Field(description="Vendor owed (QBO Vendor).")
    due_date: Series[pa.DateTime] = pa.Field(nullable=True, description="Due date.")


class JournalEntry(_Transaction):
    """A balanced journal entry: a write-off or a transfer between trust and operating accounts."""

    id: Series[str] = pa.Field(unique=True, description="Source entry id.")
    number: Series[str] = pa.Field(nullable=True, description="QBO DocNumber.")
    date: Series[pa.DateTime] = pa.Field(description="Entry date.")
    purpose: Series[str] = pa.Field(isin=list(JOURNAL_PURPOSES), description="write_off | transfer | adjustment.")
    exchange_rate: Series[float] = pa.Field(nullable=True, gt=0, description="Home units per foreign unit.")
    memo: Series[str] = pa.Field(nullable=True, description="Internal note.")


class JournalEntryLine(_Base):
    """One debit or credit of a journal entry."""

    id: Series[str] = pa.Field(unique=True, description="Source line id.")
    journal_entry_id: Series[str] = pa.Field(description="Entry the line belongs to.")
    line_no: Series[int] = pa.Field(ge=0, description="Position in the entry.")
    posting: Series[str] = pa.Field(isin=list(POSTINGS), description="debit | credit.")
    account: Series[str] = pa.Field(nullable=True, description="Account name (bad-debt debits: configured).")
    account_kind: Series[str] = pa.Field(nullable=True, isin=list(LINE_ACCOUNT_KINDS),
                                         description="Type of the account when it is created.")
    amount: Series[float] = pa.Field(gt=0, description="Amount, more than zero.")
    customer_id: Series[str] = pa.Field(nullable=True, description="Customer of a receivable line.")
    description: Series[str] = pa.Field(nullable=True, description="Line description.")
    class_name: Series[str] = pa.Field(nullable=True, description="QBO Class.")
    updated_at: Series[pa.DateTime] = pa.Field(description="Last change in the source (UTC).")


MODELS: dict[str, type[pa.DataFrameModel]] = {
    "sales_receipts": SalesReceipt,
    "sales_receipt_lines": SalesReceiptLine,
    "deposits": Deposit,
    "deposit_lines": DepositLine,
    "expenses": Expense,
    "bills": Bill,
    "journal_entries": JournalEntry,
    "journal_entry_lines": JournalEntryLine,
}

# the sentences of these checks (the quarantine is read by bookkeepers)
reasons.SUBJECTS.update({
    "sales_receipts": "The sales receipt", "deposits": "The deposit", "expenses": "The expense",
    "bills": "The bill", "journal_entries": "The journal entry", "sales_receipt_lines": "A line of the sales receipt",
    "deposit_lines": "A line of the deposit", "journal_entry_lines": "A line of the journal entry",
})
reasons.ALLOWED.update({"bank_kind": BANK_KINDS, "payment_type": PAYMENT_TYPES, "purpose": JOURNAL_PURPOSES,
                        "posting": POSTINGS})
reasons.TEMPLATES.update({
    "unbalanced": "The journal entry does not balance: debits and credits differ by {value}.",
    "receivable_without_customer": "{subject} posts to accounts receivable without naming the customer; "
    "QuickBooks needs one on every receivable line.",
    "deposited_twice": "{subject} deposits payment or receipt {value}, which another deposit line also deposits.",
    "deposit_line_source": "{subject} has a line that names neither a payment, a receipt nor an account.",
    "billable_without_customer": "{subject} is billable but names no customer to bill it on to.",
    "unknown_receipt": "{subject} points at sales receipt {value}, which is neither in the source nor exported "
    "earlier.",
    "multicurrency_off": "{subject} is in {value}, but the QuickBooks company has multicurrency off; turn it on "
    "(Account and Settings > Advanced > Currency > Multicurrency) or book it in the home currency.",
    "home_total_mismatch": "{subject} has a home-currency total that is not its total times its exchange rate "
    "({value}).",
})

Known = Callable[[str], "set[str] | None"]


def bookkeeping_rules(entity: str, main: pd.DataFrame, child: pd.DataFrame | None,
                      known: Known) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
    """Cross-row failures on ``(parent rows, child rows)`` of a bookkeeping entity."""
    on_main: list[pd.DataFrame] = []
    on_child: list[pd.DataFrame] = []

    def refs(frame: pd.DataFrame, out: list, column: str, target: str, check: str) -> None:
        ids = known(target)
        if ids is not None and column in frame:
            out.append(unknown_reference(frame, column, ids, check))

    if entity == "sales_receipts":
        refs(main, on_main, "customer_id", "customers", "unknown_customer")
        refs(child, on_child, "product_id", "products", "unknown_product")
    elif entity == "deposits":
        refs(child, on_child, "payment_id", "payments", "unknown_payment")
        refs(child, on_child, "receipt_id", "sales_receipts", "unknown_receipt")
        refs(child, on_child, "customer_id", "customers", "unknown_customer")
        sourceless = child["payment_id"].isna() & child["receipt_id"].isna() & child["account"].isna()
        on_child.append(_mask_failures(child, sourceless, "account", "deposit_line_source"))
        for column in ("payment_id", "receipt_id"):
            named = child[column].notna()
            twice = named & child[column].duplicated(keep=False)
            on_child.append(_mask_failures(child, twice, column, "deposited_twice"))
    elif entity in ("expenses", "bills"):
        refs(main, on_main, "customer_id", "customers", "unknown_customer")
        on_main.append(_mask_failures(main, main["billable"].astype(bool) & main["customer_id"].isna(),
                                      "customer_id", "billable_without_customer"))
    elif entity == "journal_entries":
        refs(child, on_child, "customer_id", "customers", "unknown_customer")
        receivable = (child["account_kind"] == "receivable") & child["customer_id"].isna()
        on_child.append(_mask_failures(child, receivable, "customer_id", "receivable_without_customer"))
        cents = np.round(child["amount"].fillna(0).to_numpy(dtype="float64") * 100).astype("int64")
        signed = np.where(child["posting"].to_numpy() == "debit", cents, -cents)
        balance = pd.Series(signed).groupby(child["journal_entry_id"].to_numpy()).sum()
        off = main["id"].map(balance).fillna(0).astype("int64")
        rows = np.flatnonzero((off != 0).to_numpy())
        on_main.append(failures(rows, "row", "unbalanced", [f"{abs(v) / 100:.2f}" for v in off.to_numpy()[rows]]))
    return on_main, on_child
