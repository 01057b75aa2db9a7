"""References the bookkeeping builders share: typed accounts, vendors, classes and departments.

An account named by a source row (a trust bank account, a cost account) may not exist in
the company yet; the export engine then creates it, and it must get the right type and
detail type (a trust account is a Bank account with the TrustAccounts detail, not
Undeposited Funds). So the placeholder carries the ``(AccountType, AccountSubType)`` the
row's kind implies. Classes and departments (QBO's "locations") are tracking lists found,
or created, by name.
"""

from __future__ import annotations

from typing import Any

from qbo_pipeline.transform.payload import REF_KEY, named_ref
from qbo_pipeline.transform.rules import clean_name, text

# row kind -> (AccountType, AccountSubType) of an account the export creates
ACCOUNT_KINDS: dict[str, tuple[str, str]] = {
    "operating": ("Bank", "Checking"),
    "trust": ("Bank", "TrustAccounts"),
    "trust_liability": ("Other Current Liability", "TrustAccountsLiabilities"),
    "receivable": ("Accounts Receivable", "AccountsReceivable"),
    "expense": ("Expense", "OtherMiscellaneousServiceCost"),
    "cogs": ("Cost of Goods Sold", "SuppliesMaterialsCogs"),
    "bad_debt": ("Expense", "BadDebts"),
    "income": ("Income", "ServiceFeeIncome"),
    "credit_card": ("Credit Card", "CreditCard"),
    "undeposited": ("Other Current Asset", "UndepositedFunds"),
}


def account_ref(name: str, kind: str | None = None) -> dict[str, Any]:
    """An Account placeholder; ``kind`` (a key of ``ACCOUNT_KINDS``) types it when it is created."""
    ref = named_ref("Account", name)
    if kind:
        ref[REF_KEY]["account_type"] = list(ACCOUNT_KINDS[kind])
    return ref


def vendor_ref(name: str) -> dict[str, Any]:
    """A Vendor found (or created) by DisplayName."""
    return named_ref("Vendor", clean_name(name)[:100])


def tracking(body: dict[str, Any], class_name: Any = None, department_name: Any = None) -> dict[str, Any]:
    """Add ClassRef / DepartmentRef to ``body`` (a transaction or a line detail) when named."""
    klass, department = text(class_name), text(department_name)
    if klass:
        body["ClassRef"] = named_ref("Class", clean_name(klass)[:100])
    if department:
        body["DepartmentRef"] = named_ref("Department", clean_name(department)[:100])
    return body


def currency_fields(body: dict[str, Any], currency: Any, exchange_rate: Any, home: str) -> None:
    """CurrencyRef and ExchangeRate of a foreign-currency transaction (the source's rate when it has one)."""
    code = text(currency)
    if code and code != home:
        body["CurrencyRef"] = {"value": code}
        if exchange_rate is not None and exchange_rate == exchange_rate:
            body["ExchangeRate"] = float(exchange_rate)
