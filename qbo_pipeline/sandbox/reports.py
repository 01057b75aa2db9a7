"""QBO's Reports API (``GET /v3/company/{realm}/reports/{name}``), computed from the company's records.

Reconciliation needs the reports QBO itself would show for the data a client wrote: a
profit and loss whose income equals the sales lines by account, a balance sheet and trial
balance that balance, AR aging that buckets open invoices by days past due. Every report
is derived from one double-entry ledger built from the transactions (accrual or cash basis)
and answered in Intuit's report JSON (``Header`` / ``Columns`` / ``Rows`` with ``Section``
and ``Data`` rows, ``Summary`` totals and ``group`` names). Sources: Intuit's report
reference pages (ProfitAndLoss, BalanceSheet, TrialBalance, AgedReceivables,
AgedReceivableDetail, CustomerBalance, CustomerBalanceDetail, CustomerSales, ItemSales,
TransactionList) and the sample responses they carry; ``docs/sandbox.md`` lists our choices.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import partial
from typing import Any

from qbo_pipeline.sandbox import errors as E
from qbo_pipeline.sandbox.entities import COMPANY_TZ, Company, get_path

ZERO = Decimal("0")
EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)  # report dates outside answer 2070
MAX_COLUMNS = 400  # summarize_column_by and aging periods beyond this answer 2010
CENT = Decimal("0.01")

DEBIT_NORMAL = {"Bank", "Accounts Receivable", "Other Current Asset", "Fixed Asset", "Other Asset",
                "Expense", "Other Expense", "Cost of Goods Sold"}
# Balance sheet layout: (group, title, account types) inside Current Assets / Liabilities
CURRENT_ASSETS = [("BankAccounts", "Bank Accounts", {"Bank"}), ("AR", "Accounts Receivable", {"Accounts Receivable"}),
                  ("OtherCurrentAssets", "Other Current Assets", {"Other Current Asset"})]
CURRENT_LIABILITIES = [("AP", "Accounts Payable", {"Accounts Payable"}), ("CreditCards", "Credit Cards", {"Credit Card"}),
                       ("OtherCurrentLiabilities", "Other Current Liabilities", {"Other Current Liability"})]
# how each transaction type is labelled in report rows (QBO's TxnType names)
TXN_LABEL = {"Invoice": "Invoice", "Payment": "Payment", "CreditMemo": "Credit Memo", "RefundReceipt": "Refund",
             "SalesReceipt": "Sales Receipt", "Deposit": "Deposit", "Bill": "Bill", "BillPayment": "Bill Payment (Check)",
             "VendorCredit": "Vendor Credit", "Purchase": "Expense", "JournalEntry": "Journal Entry",
             "Transfer": "Transfer", "CreditCardPayment": "Credit Card Payment", "Account": "Opening Balance"}


def money(value: Any) -> Decimal:
    try:
        return Decimal(str(value or 0)).quantize(CENT, ROUND_HALF_UP)
    except InvalidOperation:
        return ZERO


def quantity(value: Any) -> Decimal:
    try:
        return Decimal(str(value or 0))
    except InvalidOperation:
        return ZERO


def fmt(value: Decimal, blank_zero: bool = False) -> str:
    value = value.quantize(CENT, ROUND_HALF_UP) + ZERO  # + ZERO turns -0.00 into 0.00
    return "" if blank_zero and not value else f"{value:.2f}"


# ====================================================================== the ledger
@dataclass(frozen=True)
class Posting:
    """One ledger line: ``amount`` is a debit when positive, a credit when negative."""

    when: date
    entity: str
    txn_id: str
    doc_num: str
    account: str
    amount: Decimal
    name_id: str = ""
    name: str = ""
    customer: str = ""
    item: str = ""
    qty: Decimal = ZERO
    memo: str = ""


class Ledger:
    """The company's postings on one basis (``Accrual`` or ``Cash``), with account lookups."""

    def __init__(self, company: Company, basis: str) -> None:
        self.company = company
        self.basis = basis
        self.accounts = company.table("Account")
        self.items = company.table("Item")
        self.postings: list[Posting] = []
        self._virtual: dict[str, dict] = {}
        self._order = sorted(self.accounts, key=_id_key)  # the chart by Id, sorted once per ledger
        self._found: dict[tuple, str] = {}  # _find's answers: every transaction asks the same few
        self._build()

    # ------------------------------------------------------------ accounts
    def account_type(self, account_id: str) -> str:
        return (self.accounts.get(account_id) or self._virtual.get(account_id) or {}).get("AccountType", "")

    def account_name(self, account_id: str) -> str:
        record = self.accounts.get(account_id) or self._virtual.get(account_id) or {}
        return record.get("FullyQualifiedName") or record.get("Name") or account_id

    def all_accounts(self) -> dict[str, dict]:
        return {**self._virtual, **self.accounts}

    def _find(self, *, subtype: str | None = None, account_type: str | None = None, name: str | None = None,
              virtual: tuple[str, str] | None = None) -> str:
        """The first account (by Id) matching; else a virtual one, as QBO creates them on first use."""
        wanted = (subtype, account_type, name, virtual)
        if wanted not in self._found:
            self._found[wanted] = self._search(subtype, account_type, name, virtual)
        return self._found[wanted]

    def _search(self, subtype: str | None, account_type: str | None, name: str | None,
                virtual: tuple[str, str] | None) -> str:
        for account_id in self._order:
            account = self.accounts[account_id]
            if subtype and account.get("AccountSubType") == subtype:
                return account_id
            if name and account.get("Name") == name:
                return account_id
        for account_id in self._order:
            if account_type and self.accounts[account_id].get("AccountType") == account_type:
                return account_id
        label, kind = virtual or (name or subtype or "Unassigned", account_type or "Other Current Asset")
        key = f"virtual:{label}"
        self._virtual[key] = {"Id": "", "Name": label, "AccountType": kind}
        return key

    def _ar(self, txn: dict) -> str:
        return get_path(txn, "ARAccountRef.value") or self._find(subtype="AccountsReceivable",
                                                                 account_type="Accounts Receivable")

    def _ap(self, txn: dict) -> str:
        return get_path(txn, "APAccountRef.value") or self._find(subtype="AccountsPayable",
                                                                 account_type="Accounts Payable")

    def _undeposited(self) -> str:
        return self._find(subtype="UndepositedFunds", virtual=("Undeposited Funds", "Other Current Asset"))

    def _discount(self) -> str:
        """QBO's default discount account is "Discounts given" (Refunds-Allowances shares its subtype)."""
        named = next((i for i in self._order if self.accounts[i].get("Name") == "Discounts given"), None)
        return named or self._find(subtype="DiscountsRefundsGiven", virtual=("Discounts given", "Income"))

    def _sales_tax(self) -> str:
        return self._find(subtype="GlobalTaxPayable", virtual=("Sales Tax Payable", "Other Current Liability"))

    def _equity(self, subtype: str, label: str) -> str:
        return self._find(subtype=subtype, virtual=(label, "Equity"))

    def retained_earnings(self) -> str:
        return self._equity("RetainedEarnings", "Retained Earnings")

    # ------------------------------------------------------------ building
    def _post(self, txn: dict, entity: str, account: str, amount: Decimal, **extra: Any) -> None:
        if not account or not amount:
            return
        who = txn.get("CustomerRef") or txn.get("VendorRef") or txn.get("EntityRef") or {}
        extra.setdefault("name_id", str(who.get("value") or ""))
        extra.setdefault("name", self._name_of(extra["name_id"], who))
        if entity in ("Invoice", "CreditMemo", "RefundReceipt", "SalesReceipt", "Payment"):
            extra.setdefault("customer", extra["name_id"])
        self.postings.append(Posting(
            when=_date(txn.get("TxnDate")), entity=entity, txn_id=str(txn.get("Id", "")),
            doc_num=str(txn.get("DocNumber") or txn.get("PaymentRefNum") or ""), account=str(account),
            amount=amount, memo=str(txn.get("PrivateNote") or ""), **extra))

    def _name_of(self, name_id: str, ref: dict) -> str:
        for entity in ("Customer", "Vendor", "Employee"):
            record = self.company.table(entity).get(name_id)
            if record:
                return record.get("FullyQualifiedName") or record.get("DisplayName") or name_id
        return str(ref.get("name") or "")

    @staticmethod
    def _as(txn: dict, source: dict | None) -> dict:
        """The lines of ``txn`` posted by ``source`` (cash basis: the payment that earns them)."""
        if source is None:
            return txn
        return {**txn, "Id": source.get("Id"), "TxnDate": source.get("TxnDate"),
                "DocNumber": source.get("DocNumber") or source.get("PaymentRefNum"),
                "PrivateNote": source.get("PrivateNote")}

    def _sales_lines(self, txn: dict, entity: str, sign: int, scale: Decimal = Decimal(1),
                     source: dict | None = None) -> Decimal:
        """Post the income side of a sales form (credits for sign=-1); answers the amount posted."""
        posted = ZERO
        view = self._as(txn, source)
        for line in txn.get("Line") or []:
            amount = (money(line.get("Amount")) * scale).quantize(CENT, ROUND_HALF_UP)
            kind = line.get("DetailType")
            if kind == "SalesItemLineDetail":
                detail = line.get("SalesItemLineDetail") or {}
                item_id = str(get_path(detail, "ItemRef.value") or "")
                item = self.items.get(item_id) or {}
                account = get_path(item, "IncomeAccountRef.value") or self._find(
                    subtype="SalesOfProductIncome", account_type="Income")
                self._post(view, entity, account, sign * amount, item=item_id,
                           qty=quantity(detail.get("Qty")) * (1 if sign < 0 else -1) * scale)
                posted += sign * amount
            elif kind == "DiscountLineDetail":
                account = get_path(line, "DiscountLineDetail.DiscountAccountRef.value") or self._discount()
                self._post(view, entity, account, -sign * amount)
                posted -= sign * amount
        tax = (money(get_path(txn, "TxnTaxDetail.TotalTax")) * scale).quantize(CENT, ROUND_HALF_UP)
        if tax:
            self._post(view, entity, self._sales_tax(), sign * tax)
            posted += sign * tax
        return posted

    def _expense_lines(self, txn: dict, entity: str, sign: int, scale: Decimal = Decimal(1),
                       source: dict | None = None) -> Decimal:
        posted = ZERO
        view = self._as(txn, source)
        for line in txn.get("Line") or []:
            amount = (money(line.get("Amount")) * scale).quantize(CENT, ROUND_HALF_UP)
            kind = line.get("DetailType")
            detail = line.get(kind) or {} if isinstance(kind, str) else {}
            if kind == "AccountBasedExpenseLineDetail":
                account = get_path(detail, "AccountRef.value")
            elif kind == "ItemBasedExpenseLineDetail":
                item = self.items.get(str(get_path(detail, "ItemRef.value") or "")) or {}
                account = get_path(item, "AssetAccountRef.value") or get_path(item, "ExpenseAccountRef.value")
            else:
                continue
            customer = str(get_path(detail, "CustomerRef.value") or "")
            self._post(view, entity, account, sign * amount, customer=customer)
            posted += sign * amount
        return posted

    def _build(self) -> None:
        tables = self.company.records
        cash = self.basis == "Cash"
        for account in self.accounts.values():  # opening balances, against Opening Balance Equity
            opening = money(account.get("OpeningBalance"))
            if opening and account.get("AccountType") not in ("Income", "Other Income", "Expense", "Other Expense",
                                                               "Cost of Goods Sold"):
                sign = 1 if account.get("AccountType") in DEBIT_NORMAL else -1
                txn = {"Id": account["Id"], "TxnDate": account.get("OpeningBalanceDate")
                       or get_path(account, "MetaData.CreateTime")}
                self._post(txn, "Account", account["Id"], sign * opening)
                self._post(txn, "Account", self._equity("OpeningBalanceEquity", "Opening Balance Equity"),
                           -sign * opening)
        for txn in tables.get("Invoice", {}).values():
            if not cash:
                self._post(txn, "Invoice", self._ar(txn), -self._sales_lines(txn, "Invoice", -1))
        for txn in tables.get("CreditMemo", {}).values():
            if not cash:
                self._post(txn, "CreditMemo", self._ar(txn), -self._sales_lines(txn, "CreditMemo", 1))
        for entity in ("RefundReceipt", "SalesReceipt"):
            sign = 1 if entity == "RefundReceipt" else -1
            for txn in tables.get(entity, {}).values():
                account = get_path(txn, "DepositToAccountRef.value") or self._undeposited()
                self._post(txn, entity, account, -self._sales_lines(txn, entity, sign))
        for txn in tables.get("Payment", {}).values():
            total = money(txn.get("TotalAmt"))
            account = get_path(txn, "DepositToAccountRef.value") or self._undeposited()
            self._post(txn, "Payment", account, total)
            rest = total
            if cash:  # income is earned when the invoice is paid, in proportion to what is paid
                for line in txn.get("Line") or []:
                    for link in line.get("LinkedTxn") or []:
                        target = tables.get(str(link.get("TxnType")), {}).get(str(link.get("TxnId")))
                        if not target or not money(target.get("TotalAmt")):
                            continue
                        scale = money(line.get("Amount")) / money(target.get("TotalAmt"))
                        sign = -1 if link.get("TxnType") == "Invoice" else 1
                        rest += self._sales_lines(target, "Payment", sign, scale, source=txn)
            self._post(txn, "Payment", self._ar(txn), -rest)
        for txn in tables.get("Deposit", {}).values():
            total = ZERO
            for line in txn.get("Line") or []:
                amount = money(line.get("Amount"))
                account = get_path(line, "DepositLineDetail.AccountRef.value") or (
                    self._undeposited() if line.get("LinkedTxn") else "")
                entity_ref = get_path(line, "DepositLineDetail.Entity") or {}
                self._post({**txn, "EntityRef": entity_ref}, "Deposit", account, -amount)
                total += amount
            self._post(txn, "Deposit", get_path(txn, "DepositToAccountRef.value"), total)
        for entity, sign in (("Bill", 1), ("VendorCredit", -1)):
            for txn in tables.get(entity, {}).values():
                if not cash:
                    self._post(txn, entity, self._ap(txn), -self._expense_lines(txn, entity, sign))
        for txn in tables.get("BillPayment", {}).values():
            total = money(txn.get("TotalAmt"))
            source = get_path(txn, "CheckPayment.BankAccountRef.value") or get_path(
                txn, "CreditCardPayment.CCAccountRef.value")
            self._post(txn, "BillPayment", source, -total)
            rest = total
            if cash:
                for line in txn.get("Line") or []:
                    for link in line.get("LinkedTxn") or []:
                        target = tables.get(str(link.get("TxnType")), {}).get(str(link.get("TxnId")))
                        if not target or not money(target.get("TotalAmt")):
                            continue
                        scale = money(line.get("Amount")) / money(target.get("TotalAmt"))
                        sign = 1 if link.get("TxnType") == "Bill" else -1
                        rest -= self._expense_lines(target, "BillPayment", sign, scale, source=txn)
            self._post(txn, "BillPayment", self._ap(txn), rest)
        for txn in tables.get("Purchase", {}).values():
            sign = -1 if txn.get("Credit") in (True, "true") else 1
            self._post(txn, "Purchase", get_path(txn, "AccountRef.value"), -self._expense_lines(txn, "Purchase", sign))
        for txn in tables.get("JournalEntry", {}).values():
            for line in txn.get("Line") or []:
                detail = line.get("JournalEntryLineDetail") or {}
                sign = 1 if detail.get("PostingType") == "Debit" else -1
                entity_ref = get_path(detail, "Entity.EntityRef") or {}
                self._post({**txn, "EntityRef": entity_ref}, "JournalEntry", get_path(detail, "AccountRef.value"),
                           sign * money(line.get("Amount")))
        for txn in tables.get("Transfer", {}).values():
            amount = money(txn.get("Amount"))
            self._post(txn, "Transfer", get_path(txn, "ToAccountRef.value"), amount)
            self._post(txn, "Transfer", get_path(txn, "FromAccountRef.value"), -amount)
        for txn in tables.get("CreditCardPayment", {}).values():
            amount = money(txn.get("Amount"))
            self._post(txn, "CreditCardPayment", get_path(txn, "CreditCardAccountRef.value"), amount)
            self._post(txn, "CreditCardPayment", get_path(txn, "BankAccountRef.value"), -amount)
        self.postings.sort(key=lambda p: (p.when, _id_key(p.txn_id)))

    # ------------------------------------------------------------ sums
    def balances(self, start: date | None, end: date, customers: set[str] | None = None) -> dict[str, Decimal]:
        """Debit-positive net movement per account within [start, end]."""
        totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for posting in self.postings:
            if posting.when > end or (start and posting.when < start):
                continue
            if customers is not None and posting.customer not in customers:
                continue
            totals[posting.account] += posting.amount
        return totals


def _id_key(value: str) -> tuple[int, str]:
    return (int(value), "") if str(value).isdigit() else (1 << 60, str(value))


def _date(value: Any) -> date:
    text = str(value or "")[:10]
    try:
        return date.fromisoformat(text)
    except ValueError:
        return date.min


# ====================================================================== parameters
def _fiscal_year_start(today: date, first_month: int) -> date:
    year = today.year if today.month >= first_month else today.year - 1
    return date(year, first_month, 1)


def _quarter_start(day: date, first_month: int) -> date:
    offset = (day.month - first_month) % 3
    month = day.month - offset
    year = day.year
    if month < 1:
        month += 12
        year -= 1
    return date(year, month, 1)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _month_end(day: date) -> date:
    return date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])


def date_macro(macro: str, today: date, fiscal_month: int = 1) -> tuple[date, date]:
    """The documented ``date_macro`` values (case-insensitive) as (start, end)."""
    key = " ".join(macro.lower().replace("_", " ").split())
    week = today - timedelta(days=(today.weekday() + 1) % 7)  # weeks start on Sunday
    month = today.replace(day=1)
    cal_quarter = _quarter_start(today, 1)
    fis_quarter = _quarter_start(today, fiscal_month)
    cal_year = date(today.year, 1, 1)
    fis_year = _fiscal_year_start(today, fiscal_month)

    def span(start: date, months: int) -> tuple[date, date]:
        return start, _add_months(start, months) - timedelta(days=1)

    table: dict[str, Callable[[], tuple[date, date]]] = {
        "all": lambda: (date(1900, 1, 1), today),
        "today": lambda: (today, today),
        "yesterday": lambda: (today - timedelta(days=1), today - timedelta(days=1)),
        "this week": lambda: (week, week + timedelta(days=6)),
        "this week-to-date": lambda: (week, today),
        "last week": lambda: (week - timedelta(days=7), week - timedelta(days=1)),
        "last week-to-date": lambda: (week - timedelta(days=7), today - timedelta(days=7)),
        "next week": lambda: (week + timedelta(days=7), week + timedelta(days=13)),
        "next 4 weeks": lambda: (week + timedelta(days=7), week + timedelta(days=34)),
        "this month": lambda: span(month, 1),
        "this month-to-date": lambda: (month, today),
        "last month": lambda: span(_add_months(month, -1), 1),
        "last month-to-date": lambda: (_add_months(month, -1), _add_months(today, -1)),
        "next month": lambda: span(_add_months(month, 1), 1),
        "this fiscal quarter": lambda: span(fis_quarter, 3),
        "this fiscal quarter-to-date": lambda: (fis_quarter, today),
        "last fiscal quarter": lambda: span(_add_months(fis_quarter, -3), 3),
        "last fiscal quarter-to-date": lambda: (_add_months(fis_quarter, -3), _add_months(today, -3)),
        "next fiscal quarter": lambda: span(_add_months(fis_quarter, 3), 3),
        "this calendar quarter": lambda: span(cal_quarter, 3),
        "this calendar quarter-to-date": lambda: (cal_quarter, today),
        "last calendar quarter": lambda: span(_add_months(cal_quarter, -3), 3),
        "last calendar quarter-to-date": lambda: (_add_months(cal_quarter, -3), _add_months(today, -3)),
        "next calendar quarter": lambda: span(_add_months(cal_quarter, 3), 3),
        "this fiscal year": lambda: span(fis_year, 12),
        "this fiscal year-to-date": lambda: (fis_year, today),
        "last fiscal year": lambda: span(_add_months(fis_year, -12), 12),
        "last fiscal year-to-date": lambda: (_add_months(fis_year, -12), _add_months(today, -12)),
        "next fiscal year": lambda: span(_add_months(fis_year, 12), 12),
        "this calendar year": lambda: span(cal_year, 12),
        "this calendar year-to-date": lambda: (cal_year, today),
        "last calendar year": lambda: span(_add_months(cal_year, -12), 12),
        "last calendar year-to-date": lambda: (_add_months(cal_year, -12), _add_months(today, -12)),
        "next calendar year": lambda: span(_add_months(cal_year, 12), 12),
        "this year": lambda: span(cal_year, 12),
        "this year-to-date": lambda: (cal_year, today),
        "last year": lambda: span(_add_months(cal_year, -12), 12),
    }
    if key not in table:
        raise _bad_param("date_macro", macro)
    return table[key]()


def _bad_param(name: str, value: str) -> E.QBOFault:
    return E.QBOFault(2010, "Request has invalid or unsupported property",
                      f"Invalid value {value!r} for the report parameter {name}", element=name)


def _parse_day(params: dict[str, str], name: str) -> date | None:
    value = params.get(name)
    if not value:
        return None
    try:
        day = date.fromisoformat(value[:10])
    except ValueError:
        day = None
    if day is None or not EARLIEST <= day <= LATEST:
        raise E.QBOFault(2070, "Invalid Date", f"Invalid date {value} for the report parameter {name}",
                         element=name)
    return day


@dataclass
class Params:
    """The query parameters a report understands, resolved against the company's calendar."""

    raw: dict[str, str]
    today: date
    fiscal_month: int
    start: date
    end: date
    macro: str | None
    basis: str
    customers: set[str] | None

    @classmethod
    def parse(cls, raw: dict[str, str], today: date, fiscal_month: int, default_macro: str) -> Params:
        params = {k.lower(): v for k, v in raw.items()}
        start, end = _parse_day(params, "start_date"), _parse_day(params, "end_date")
        macro = params.get("date_macro")
        if start is None and end is None:
            macro = macro or default_macro
            start, end = date_macro(macro, today, fiscal_month)
        else:
            macro = None
            if start is None:
                start = _fiscal_year_start(end or today, fiscal_month)
            if end is None:
                end = today if today >= start else start
        basis = params.get("accounting_method", "Accrual")
        if basis.lower() not in ("cash", "accrual"):
            raise _bad_param("accounting_method", basis)
        customers = {c.strip() for c in params["customer"].split(",") if c.strip()} if params.get("customer") \
            else None
        return cls(params, today, fiscal_month, start, end, macro, basis.capitalize(), customers)


# ====================================================================== report JSON helpers
def _column(title: str, col_type: str, key: str | None = None, **meta: str) -> dict:
    column: dict[str, Any] = {"ColTitle": title, "ColType": col_type}
    data = ([{"Name": "ColKey", "Value": key}] if key else []) + [{"Name": k, "Value": v} for k, v in meta.items()]
    if data:
        column["MetaData"] = data
    return column


def _cell(value: str, ident: str | None = None) -> dict:
    return {"value": value, "id": ident} if ident is not None else {"value": value}


def _data(cells: list[dict]) -> dict:
    return {"ColData": cells, "type": "Data"}


def _section(header: list[dict] | None, rows: list[dict] | None, summary: list[dict] | None,
             group: str | None = None) -> dict:
    section: dict[str, Any] = {}
    if header is not None:
        section["Header"] = {"ColData": header}
    if rows is not None:
        section["Rows"] = {"Row": rows}
    if summary is not None:
        section["Summary"] = {"ColData": summary}
    section["type"] = "Section"
    if group:
        section["group"] = group
    return section


def _blank(width: int) -> list[dict]:
    return [_cell("") for _ in range(width)]


class Report:
    """What every report handler receives: the company, its ledger basis, the parsed parameters."""

    def __init__(self, company: Company, name: str, raw: dict[str, str], now: datetime, default_macro: str) -> None:
        self.company = company
        self.name = name
        self.now = now
        today = now.astimezone(COMPANY_TZ).date()
        info = company.table("CompanyInfo").get("1", {})
        month_name = str(info.get("FiscalYearStartMonth") or "January")
        fiscal_month = next((i for i in range(1, 13) if calendar.month_name[i] == month_name), 1)
        self.params = Params.parse(raw, today, fiscal_month, default_macro)
        self.currency = str(get_path(company.preferences(), "CurrencyPrefs.HomeCurrency.value") or "USD")
        self._ledger: Ledger | None = None

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            self._ledger = Ledger(self.company, self.params.basis)
        return self._ledger

    def header(self, *, basis: bool = True, options: list[tuple[str, str]] | None = None,
               no_data: bool = False, columns_by: str | None = "Total") -> dict:
        p = self.params
        header: dict[str, Any] = {"Time": self.now.astimezone(COMPANY_TZ).isoformat(timespec="seconds"),
                                  "ReportName": self.name}
        if p.macro:
            header["DateMacro"] = p.macro.lower()
        if basis:
            header["ReportBasis"] = p.basis
        header["StartPeriod"] = p.start.isoformat()
        header["EndPeriod"] = p.end.isoformat()
        if columns_by:
            header["SummarizeColumnsBy"] = columns_by
        header["Currency"] = self.currency
        if p.customers:
            header["Customer"] = ",".join(sorted(p.customers, key=_id_key))
        opts = [{"Name": k, "Value": v} for k, v in (options or [("AccountingStandard", "GAAP")])]
        opts.append({"Name": "NoReportData", "Value": "true" if no_data else "false"})
        header["Option"] = opts
        return header

    def customer_name(self, customer_id: str, entity: str = "Customer") -> str:
        record = self.company.table(entity).get(customer_id) or {}
        return record.get("FullyQualifiedName") or record.get("DisplayName") or customer_id

    def wanted(self, name_id: str, side: Side | None = None) -> bool:
        """The ``customer`` filter (receivables), or ``vendor`` for payables."""
        if side is not None and side.name_entity == "Vendor":
            vendors = {v.strip() for v in self.params.raw.get("vendor", "").split(",") if v.strip()}
            return not vendors or name_id in vendors
        return self.params.customers is None or name_id in self.params.customers


def _periods(report: Report) -> list[tuple[str, date, date]]:
    """Column periods for ``summarize_column_by`` (Total, Month, Quarter, Year, Week, Days)."""
    p = report.params
    by = p.raw.get("summarize_column_by", "Total")
    step = {"month": 1, "quarter": 3, "year": 12}.get(by.lower())
    if by.lower() == "total":
        return []
    if by.lower() in ("days", "week"):
        days = 1 if by.lower() == "days" else 7
        periods, start = [], p.start
        while start <= p.end:
            if len(periods) >= MAX_COLUMNS:
                raise _bad_param("summarize_column_by", by)
            end = min(start + timedelta(days=days - 1), p.end)
            title = start.strftime("%b %-d, %Y") if days == 1 else f"{start:%b %-d} - {end:%b %-d, %Y}"
            periods.append((title, start, end))
            start = end + timedelta(days=1)
        return periods
    if step is None:
        raise _bad_param("summarize_column_by", by)
    periods = []
    start = p.start
    while start <= p.end:
        if step == 1:
            boundary = _month_end(start)
            title = f"{start:%b %Y}"
        elif step == 3:
            boundary = _add_months(_quarter_start(start, report.params.fiscal_month), 3) - timedelta(days=1)
            title = f"{start:%b}-{min(boundary, p.end):%b, %Y}"
        else:
            boundary = _add_months(_fiscal_year_start(start, report.params.fiscal_month), 12) - timedelta(days=1)
            title = f"{start:%b}-{min(boundary, p.end):%b, %Y}" if report.params.fiscal_month != 1 else f"{start.year}"
        end = min(boundary, p.end)
        periods.append((title, start, end))
        if len(periods) > MAX_COLUMNS:
            raise _bad_param("summarize_column_by", by)
        start = end + timedelta(days=1)
    return periods


# ====================================================================== ProfitAndLoss
PL_SECTIONS = [("Income", "Income", {"Income"}, -1), ("COGS", "Cost of Goods Sold", {"Cost of Goods Sold"}, 1),
               ("Expenses", "Expenses", {"Expense"}, 1), ("OtherIncome", "Other Income", {"Other Income"}, -1),
               ("OtherExpenses", "Other Expenses", {"Other Expense"}, 1)]


def _customer_columns(report: Report) -> tuple[list[dict], list[dict[str, Decimal]]]:
    """``summarize_column_by=Customers``: one column per customer with income or expense postings."""
    ledger, p = report.ledger, report.params
    pl_types = {t for _g, _t, types, _s in PL_SECTIONS for t in types}
    seen = {q.customer for q in ledger.postings if p.start <= q.when <= p.end
            and ledger.account_type(q.account) in pl_types and (p.customers is None or q.customer in p.customers)}
    order = sorted(seen, key=lambda c: (c == "", report.customer_name(c).lower()))
    if len(order) > MAX_COLUMNS:
        raise _bad_param("summarize_column_by", "Customers")
    columns = [_column(report.customer_name(c) if c else "Not Specified", "Money", f"cust_{c or 'none'}",
                       **({"ColId": c} if c else {})) for c in order]
    return columns, [ledger.balances(p.start, p.end, {c}) for c in order]


def profit_and_loss(report: Report) -> dict:
    ledger, p = report.ledger, report.params
    if p.raw.get("summarize_column_by", "").lower() == "customers":
        periods: list[tuple[str, date, date]] = []
        extra_columns, sums = _customer_columns(report)
    else:
        periods = _periods(report)
        extra_columns = [_column(title, "Money", f"{start}", StartDate=start.isoformat(), EndDate=end.isoformat())
                         for title, start, end in periods]
        sums = [ledger.balances(start, end, p.customers) for _title, start, end in periods]
    sums.append(ledger.balances(p.start, p.end, p.customers))
    width = len(sums)
    totals: dict[str, list[Decimal]] = {}
    rows: list[dict] = []
    accounts = ledger.all_accounts()
    for group, title, types, sign in PL_SECTIONS:
        data = []
        section_total = [ZERO] * width
        for account_id in sorted(accounts, key=lambda a: (ledger.account_name(a).lower(), a)):
            if ledger.account_type(account_id) not in types:
                continue
            values = [sign * s.get(account_id, ZERO) for s in sums]
            if not any(values):
                continue
            section_total = [a + b for a, b in zip(section_total, values, strict=True)]
            data.append(_data([_cell(ledger.account_name(account_id), accounts[account_id].get("Id", ""))]
                              + [_cell(fmt(v)) for v in values]))
        totals[group] = section_total
        if data or group in ("Income", "Expenses"):
            rows.append(_section([_cell(title)] + _blank(width), data,
                                 [_cell(f"Total {title}")] + [_cell(fmt(v)) for v in section_total], group))
        if group == "COGS":
            gross = [a - b for a, b in zip(totals["Income"], section_total, strict=True)]
            rows.append(_section(None, None, [_cell("Gross Profit")] + [_cell(fmt(v)) for v in gross], "GrossProfit"))
        if group == "Expenses":
            operating = [a - b for a, b in zip(gross, section_total, strict=True)]
            rows.append(_section(None, None, [_cell("Net Operating Income")] + [_cell(fmt(v)) for v in operating],
                                 "NetOperatingIncome"))
    other = [a - b for a, b in zip(totals["OtherIncome"], totals["OtherExpenses"], strict=True)]
    if any(totals["OtherIncome"]) or any(totals["OtherExpenses"]):
        rows.append(_section(None, None, [_cell("Net Other Income")] + [_cell(fmt(v)) for v in other],
                             "NetOtherIncome"))
    net = [a + b for a, b in zip(operating, other, strict=True)]
    rows.append(_section(None, None, [_cell("Net Income")] + [_cell(fmt(v)) for v in net], "NetIncome"))
    columns = [_column("", "Account", "account")]
    columns += extra_columns
    columns.append(_column("Total", "Money", "total"))
    no_data = not any(any(s.values()) for s in sums)
    by = p.raw.get("summarize_column_by", "Total")
    return {"Header": report.header(no_data=no_data, columns_by=by), "Columns": {"Column": columns},
            "Rows": {"Row": rows}}


# ====================================================================== BalanceSheet
def _net_income(ledger: Ledger, start: date | None, end: date) -> Decimal:
    sums = ledger.balances(start, end)
    return -sum((v for a, v in sums.items()
                 if ledger.account_type(a) in ("Income", "Other Income", "Expense", "Other Expense",
                                               "Cost of Goods Sold")), ZERO)


def _closing_balances(report: Report) -> tuple[dict[str, Decimal], Decimal]:
    """Balances at EndPeriod: balance-sheet accounts as of the date, retained earnings rolled in,
    and this fiscal year's net income."""
    ledger, p = report.ledger, report.params
    fiscal_start = _fiscal_year_start(p.end, p.fiscal_month)
    sums = ledger.balances(None, p.end)
    balances = {a: v for a, v in sums.items()
                if ledger.account_type(a) not in ("Income", "Other Income", "Expense", "Other Expense",
                                                  "Cost of Goods Sold")}
    prior = _net_income(ledger, None, fiscal_start - timedelta(days=1))
    if prior:
        retained = ledger.retained_earnings()
        balances[retained] = balances.get(retained, ZERO) - prior
    return balances, _net_income(ledger, fiscal_start, p.end)


def balance_sheet(report: Report) -> dict:
    ledger = report.ledger
    balances, net_income = _closing_balances(report)
    accounts = ledger.all_accounts()

    def rows_for(types: set[str], sign: int) -> tuple[list[dict], Decimal]:
        data, total = [], ZERO
        for account_id in sorted(accounts, key=lambda a: (ledger.account_name(a).lower(), a)):
            if ledger.account_type(account_id) in types and balances.get(account_id):
                value = sign * balances[account_id]
                total += value
                data.append(_data([_cell(ledger.account_name(account_id), accounts[account_id].get("Id", "")),
                                   _cell(fmt(value))]))
        return data, total

    def group(title: str, group_name: str, parts: list[tuple[str, str, set[str]]], sign: int) -> tuple[dict, Decimal]:
        inner, total = [], ZERO
        for sub_group, sub_title, types in parts:
            data, sub_total = rows_for(types, sign)
            if data:
                inner.append(_section([_cell(sub_title), _cell("")], data,
                                      [_cell(f"Total {sub_title}"), _cell(fmt(sub_total))], sub_group))
                total += sub_total
        return _section([_cell(title), _cell("")], inner, [_cell(f"Total {title}"), _cell(fmt(total))],
                        group_name), total

    current_assets, ca_total = group("Current Assets", "CurrentAssets", CURRENT_ASSETS, 1)
    fixed_rows, fixed_total = rows_for({"Fixed Asset"}, 1)
    other_rows, other_total = rows_for({"Other Asset"}, 1)
    asset_rows = [current_assets]
    if fixed_rows:
        asset_rows.append(_section([_cell("Fixed Assets"), _cell("")], fixed_rows,
                                   [_cell("Total Fixed Assets"), _cell(fmt(fixed_total))], "FixedAssets"))
    if other_rows:
        asset_rows.append(_section([_cell("Other Assets"), _cell("")], other_rows,
                                   [_cell("Total Other Assets"), _cell(fmt(other_total))], "OtherAssets"))
    total_assets = ca_total + fixed_total + other_total
    current_liabilities, cl_total = group("Current Liabilities", "CurrentLiabilities", CURRENT_LIABILITIES, -1)
    lt_rows, lt_total = rows_for({"Long Term Liability"}, -1)
    liability_rows = [current_liabilities]
    if lt_rows:
        liability_rows.append(_section([_cell("Long-Term Liabilities"), _cell("")], lt_rows,
                                       [_cell("Total Long-Term Liabilities"), _cell(fmt(lt_total))],
                                       "LongTermLiabilities"))
    liabilities_total = cl_total + lt_total
    equity_rows, equity_total = rows_for({"Equity"}, -1)
    equity_rows.append(_data([_cell("Net Income"), _cell(fmt(net_income))]))
    equity_total += net_income
    rows = [
        _section([_cell("ASSETS"), _cell("")], asset_rows, [_cell("TOTAL ASSETS"), _cell(fmt(total_assets))],
                 "TotalAssets"),
        _section([_cell("LIABILITIES AND EQUITY"), _cell("")], [
            _section([_cell("Liabilities"), _cell("")], liability_rows,
                     [_cell("Total Liabilities"), _cell(fmt(liabilities_total))], "Liabilities"),
            _section([_cell("Equity"), _cell("")], equity_rows, [_cell("Total Equity"), _cell(fmt(equity_total))],
                     "Equity"),
        ], [_cell("TOTAL LIABILITIES AND EQUITY"), _cell(fmt(liabilities_total + equity_total))],
            "TotalLiabilitiesAndEquity"),
    ]
    no_data = not any(balances.values()) and not net_income
    return {"Header": report.header(no_data=no_data),
            "Columns": {"Column": [_column("", "Account", "account"), _column("Total", "Money", "total")]},
            "Rows": {"Row": rows}}


# ====================================================================== TrialBalance
def trial_balance(report: Report) -> dict:
    ledger, p = report.ledger, report.params
    balances, _ = _closing_balances(report)
    fiscal_start = _fiscal_year_start(p.end, p.fiscal_month)
    for account_id, value in ledger.balances(fiscal_start, p.end).items():  # this year's P&L accounts
        if ledger.account_type(account_id) in ("Income", "Other Income", "Expense", "Other Expense",
                                               "Cost of Goods Sold"):
            balances[account_id] = value
    accounts = ledger.all_accounts()
    rows, debit, credit = [], ZERO, ZERO
    for account_id in sorted(accounts, key=lambda a: (ledger.account_name(a).lower(), a)):
        value = balances.get(account_id, ZERO)
        if not value:
            continue
        if value > 0:
            debit += value
        else:
            credit -= value
        rows.append(_data([_cell(ledger.account_name(account_id), accounts[account_id].get("Id", "")),
                           _cell(fmt(value) if value > 0 else ""), _cell(fmt(-value) if value < 0 else "")]))
    rows.append(_section(None, None, [_cell("TOTAL"), _cell(fmt(debit)), _cell(fmt(credit))], "GrandTotal"))
    return {"Header": report.header(no_data=len(rows) == 1),
            "Columns": {"Column": [_column("", "Account", "account"), _column("Debit", "Money", "Debit"),
                                   _column("Credit", "Money", "Credit")]},
            "Rows": {"Row": rows}}


# ====================================================================== receivables
@dataclass
class OpenItem:
    """A receivable document open at the report date: invoices positive, credits negative."""

    entity: str
    txn: dict
    when: date
    due: date
    amount: Decimal
    open: Decimal
    customer: str


@dataclass(frozen=True)
class Side:
    """Receivables (customers) or payables (vendors): which documents open and close balances."""

    name_ref: str          # "CustomerRef" / "VendorRef"
    name_entity: str       # "Customer" / "Vendor"
    charges: str           # "Invoice" / "Bill"
    credits: str           # "CreditMemo" / "VendorCredit"
    payments: str          # "Payment" / "BillPayment"
    column: str            # ColType of the name column
    label: str             # detail column title


RECEIVABLES = Side("CustomerRef", "Customer", "Invoice", "CreditMemo", "Payment", "Customer", "Customer")
PAYABLES = Side("VendorRef", "Vendor", "Bill", "VendorCredit", "BillPayment", "Vendor", "Vendor")


def _open_items(company: Company, as_of: date, side: Side = RECEIVABLES) -> list[OpenItem]:
    """Charges, credits and unapplied payments with their open amount as of a date."""
    tables = company.records
    applied: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)      # by payments on or before as_of
    applied_ever: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for payment in tables.get(side.payments, {}).values():
        for line in payment.get("Line") or []:
            for link in line.get("LinkedTxn") or []:
                key = (str(link.get("TxnType")), str(link.get("TxnId")))
                applied_ever[key] += money(line.get("Amount"))
                if _date(payment.get("TxnDate")) <= as_of:
                    applied[key] += money(line.get("Amount"))
    items: list[OpenItem] = []
    for entity, sign in ((side.charges, 1), (side.credits, -1)):
        for txn in tables.get(entity, {}).values():
            when = _date(txn.get("TxnDate"))
            if when > as_of:
                continue
            total = money(txn.get("TotalAmt"))
            key = (entity, str(txn["Id"]))
            # credits applied without a payment (AutoApplyCredit) count from the document's date
            balance = money(txn.get("Balance")) if "Balance" in txn else total - applied_ever[key]
            other = balance - total + applied_ever[key]
            open_amount = total - applied[key] + other
            if open_amount:
                due = _date(txn.get("DueDate")) if txn.get("DueDate") else when
                items.append(OpenItem(entity, txn, when, due, total * sign, open_amount * sign,
                                      str(get_path(txn, f"{side.name_ref}.value") or "")))
    for payment in tables.get(side.payments, {}).values():
        when = _date(payment.get("TxnDate"))
        unapplied = money(payment.get("UnappliedAmt"))
        if when <= as_of and unapplied:
            items.append(OpenItem(side.payments, payment, when, when, -money(payment.get("TotalAmt")), -unapplied,
                                  str(get_path(payment, f"{side.name_ref}.value") or "")))
    items.sort(key=lambda i: (i.when, _id_key(str(i.txn.get("Id")))))
    return items


def _aging(report: Report) -> tuple[date, int, int, list[str], bool]:
    """As-of date, period length, past-due column count, column titles, and whether items age from their
    transaction date (``aging_method=Current``) rather than their due date."""
    params = report.params.raw
    as_of = _balance_as_of(report)
    try:
        period = int(params.get("aging_period", 30))
        count = int(params.get("num_periods", 4))
    except ValueError:
        raise _bad_param("aging_period", params.get("aging_period", "")) from None
    if not 1 <= period <= 36500:
        raise _bad_param("aging_period", str(period))
    if not 1 <= count <= MAX_COLUMNS:
        raise _bad_param("num_periods", str(count))
    # num_periods counts the past-due columns, the last one open-ended: 4 -> 1-30 .. 61-90, 91 and over
    count -= 1
    titles = ["Current"] + [f"{i * period + 1} - {(i + 1) * period}" for i in range(count)] + \
        [f"{count * period + 1} and over"]
    by_txn_date = params.get("aging_method", "Report_Date").lower() == "current"
    return as_of, period, count, titles, by_txn_date


def _bucket(item: OpenItem, as_of: date, period: int, count: int, by_txn_date: bool) -> int:
    days = (as_of - (item.when if by_txn_date else item.due)).days
    if days <= 0:
        return 0
    return min((days - 1) // period + 1, count + 1)


def _aging_header(report: Report, as_of: date) -> dict:
    report.params.start = report.params.end = as_of
    return report.header(basis=False, options=[("report_date", as_of.isoformat())], columns_by=None)


def _wanted_items(report: Report, as_of: date, side: Side) -> list[OpenItem]:
    """The open items as of a date of the customers (vendors) the report asks for."""
    return [item for item in _open_items(report.company, as_of, side) if report.wanted(item.customer, side)]


def _by_name(report: Report, names: Iterable[str], side: Side) -> list[str]:
    return sorted(names, key=lambda c: report.customer_name(c, side.name_entity).lower())


def _aging_answer(report: Report, as_of: date, columns: list[dict], rows: list[dict]) -> dict:
    """An aging or balance report: its header (NoReportData when only the total row is left), columns, rows."""
    header = _aging_header(report, as_of)
    header["Option"][-1]["Value"] = "true" if len(rows) == 1 else "false"
    return {"Header": header, "Columns": {"Column": columns}, "Rows": {"Row": rows}}


def aged_receivables(report: Report, side: Side = RECEIVABLES) -> dict:
    as_of, period, count, titles, by_txn_date = _aging(report)
    per_customer: dict[str, list[Decimal]] = {}
    for item in _wanted_items(report, as_of, side):
        buckets = per_customer.setdefault(item.customer, [ZERO] * (count + 2))
        buckets[_bucket(item, as_of, period, count, by_txn_date)] += item.open
    rows, grand = [], [ZERO] * (count + 2)
    for customer in _by_name(report, per_customer, side):
        buckets = per_customer[customer]
        if not sum(buckets):
            continue
        grand = [a + b for a, b in zip(grand, buckets, strict=True)]
        rows.append(_data([_cell(report.customer_name(customer, side.name_entity), customer)]
                          + [_cell(fmt(v, blank_zero=True)) for v in buckets] + [_cell(fmt(sum(buckets)))]))
    rows.append(_section(None, None, [_cell("TOTAL")] + [_cell(fmt(v)) for v in grand] + [_cell(fmt(sum(grand)))],
                         "GrandTotal"))
    columns = [_column("", side.column)] + [
        _column(t, "Money", "current" if i == 0 else f"{i}") for i, t in enumerate(titles)] + [
        _column("Total", "Money", "total")]
    return _aging_answer(report, as_of, columns, rows)


def _detail_cells(report: Report, item: OpenItem, side: Side, with_customer: bool = True) -> list[dict]:
    txn = item.txn
    cells = [_cell(item.when.isoformat()), _cell(TXN_LABEL[item.entity], str(txn["Id"])),
             _cell(str(txn.get("DocNumber") or txn.get("PaymentRefNum") or ""))]
    if with_customer:
        cells.append(_cell(report.customer_name(item.customer, side.name_entity), item.customer))
    cells += [_cell(item.due.isoformat()), _cell(fmt(item.amount)), _cell(fmt(item.open))]
    return cells


def _detail_columns(side: Side) -> list[tuple[str, str]]:
    name_key = "cust_name" if side is RECEIVABLES else "vend_name"
    return [("Date", "tx_date"), ("Transaction Type", "txn_type"), ("Num", "doc_num"), (side.label, name_key),
            ("Due Date", "due_date"), ("Amount", "subt_amount"), ("Open Balance", "subt_open_bal")]


def aged_receivable_detail(report: Report, side: Side = RECEIVABLES) -> dict:
    as_of, period, count, titles, by_txn_date = _aging(report)
    groups: list[list[OpenItem]] = [[] for _ in range(count + 2)]
    for item in _wanted_items(report, as_of, side):
        groups[_bucket(item, as_of, period, count, by_txn_date)].append(item)
    labels = ["Current"] + [f"{t} days past due" for t in titles[1:-1]] + \
        [f"{count * period + 1} or more days past due"]
    rows, grand_amount, grand_open = [], ZERO, ZERO
    for label, items in reversed(list(zip(labels, groups, strict=True))):
        if not items:
            continue
        amount = sum((i.amount for i in items), ZERO)
        open_total = sum((i.open for i in items), ZERO)
        grand_amount += amount
        grand_open += open_total
        rows.append(_section([_cell(label)] + _blank(6), [_data(_detail_cells(report, i, side)) for i in items],
                             [_cell(f"Total for {label}")] + _blank(4) + [_cell(fmt(amount)), _cell(fmt(open_total))]))
    rows.append(_section(None, None, [_cell("TOTAL")] + _blank(4) + [_cell(fmt(grand_amount)), _cell(fmt(grand_open))],
                         "GrandTotal"))
    columns = [_column(title, key, key) for title, key in _detail_columns(side)]
    return _aging_answer(report, as_of, columns, rows)


def _balance_as_of(report: Report) -> date:
    raw = report.params.raw
    return _parse_day(raw, "report_date") or (report.params.end if "date_macro" in raw or "end_date" in raw
                                              else report.params.today)


def customer_balance(report: Report, side: Side = RECEIVABLES) -> dict:
    as_of = _balance_as_of(report)
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for item in _wanted_items(report, as_of, side):
        totals[item.customer] += item.open
    rows, grand = [], ZERO
    for customer in _by_name(report, totals, side):
        if totals[customer]:
            grand += totals[customer]
            rows.append(_data([_cell(report.customer_name(customer, side.name_entity), customer), _cell(fmt(totals[customer]))]))
    rows.append(_section(None, None, [_cell("TOTAL"), _cell(fmt(grand))], "GrandTotal"))
    return _aging_answer(report, as_of, [_column("", side.column), _column("Total", "Money", "total")], rows)


def customer_balance_detail(report: Report, side: Side = RECEIVABLES) -> dict:
    as_of = _balance_as_of(report)
    per_customer: dict[str, list[OpenItem]] = defaultdict(list)
    for item in _wanted_items(report, as_of, side):
        per_customer[item.customer].append(item)
    rows, grand_amount, grand_open = [], ZERO, ZERO
    for customer in _by_name(report, per_customer, side):
        items, running, data = per_customer[customer], ZERO, []
        for item in items:
            running += item.open
            data.append(_data(_detail_cells(report, item, side, with_customer=False) + [_cell(fmt(running))]))
        amount = sum((i.amount for i in items), ZERO)
        grand_amount += amount
        grand_open += running
        name = report.customer_name(customer, side.name_entity)
        rows.append(_section([_cell(name, customer)] + _blank(6), data,
                             [_cell(f"Total for {name}")] + _blank(3)
                             + [_cell(fmt(amount)), _cell(fmt(running)), _cell("")]))
    rows.append(_section(None, None, [_cell("TOTAL")] + _blank(3) + [_cell(fmt(grand_amount)), _cell(fmt(grand_open)),
                                                                    _cell("")], "GrandTotal"))
    columns = [_column(t, k, k) for t, k in _detail_columns(side)[:3] + _detail_columns(side)[4:]] + [
        _column("Balance", "rbal_open_bal", "rbal_open_bal")]
    return _aging_answer(report, as_of, columns, rows)


# ====================================================================== sales
INCOME_TYPES = {"Income", "Other Income"}


def _income_postings(report: Report) -> Iterable[Posting]:
    p = report.params
    for posting in report.ledger.postings:
        if p.start <= posting.when <= p.end and report.ledger.account_type(posting.account) in INCOME_TYPES \
                and (p.customers is None or posting.customer in p.customers):
            yield posting


def customer_sales(report: Report) -> dict:
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for posting in _income_postings(report):
        totals[posting.customer] -= posting.amount
    rows, grand = [], ZERO
    for customer in sorted(totals, key=lambda c: (c == "", report.customer_name(c).lower())):
        if totals[customer]:
            grand += totals[customer]
            label = report.customer_name(customer) if customer else "Not Specified"
            rows.append(_data([_cell(label, customer) if customer else _cell(label), _cell(fmt(totals[customer]))]))
    rows.append(_section(None, None, [_cell("TOTAL"), _cell(fmt(grand))], "GrandTotal"))
    return {"Header": report.header(no_data=len(rows) == 1),
            "Columns": {"Column": [_column("", "Customer"), _column("Total", "Money", "total")]},
            "Rows": {"Row": rows}}


def item_sales(report: Report) -> dict:
    qty: dict[str, Decimal] = defaultdict(lambda: ZERO)
    amount: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for posting in _income_postings(report):
        if posting.item:
            qty[posting.item] += posting.qty
            amount[posting.item] -= posting.amount
    items = report.company.table("Item")
    total_amount = sum(amount.values(), ZERO)
    total_qty = sum(qty.values(), ZERO)
    rows = []
    for item_id in sorted(amount, key=lambda i: str(items.get(i, {}).get("FullyQualifiedName")
                                                   or items.get(i, {}).get("Name") or i).lower()):
        record = items.get(item_id, {})
        share = (amount[item_id] / total_amount * 100) if total_amount else ZERO
        average = (amount[item_id] / qty[item_id]) if qty[item_id] else ZERO
        rows.append(_data([_cell(str(record.get("FullyQualifiedName") or record.get("Name") or item_id), item_id),
                           _cell(f"{qty[item_id].normalize():f}"), _cell(fmt(amount[item_id])),
                           _cell(fmt(share)), _cell(fmt(average))]))
    rows.append(_section(None, None, [_cell("TOTAL"), _cell(f"{total_qty.normalize():f}"), _cell(fmt(total_amount)),
                                      _cell(fmt(Decimal(100) if total_amount else ZERO)), _cell("")], "GrandTotal"))
    columns = [_column("", "ProductsAndService"), _column("Quantity", "Money", "qty"),
               _column("Amount", "Money", "amount"), _column("% of Sales", "Money", "pct_sales"),
               _column("Avg. Price", "Money", "avg_price")]
    return {"Header": report.header(no_data=len(rows) == 1), "Columns": {"Column": columns}, "Rows": {"Row": rows}}


# ====================================================================== TransactionList
LIST_COLUMNS = [("Date", "tx_date"), ("Transaction Type", "txn_type"), ("Num", "doc_num"), ("Posting", "is_no_post"),
                ("Name", "name"), ("Memo/Description", "memo"), ("Account", "account_name"),
                ("Split", "other_account"), ("Amount", "subt_nat_amount")]
# transactions whose total lands on their last posting (the others: on the first)
MAIN_ACCOUNT_LAST = {"Invoice", "CreditMemo", "RefundReceipt", "SalesReceipt", "Deposit", "Bill", "VendorCredit",
                     "Purchase"}


def transaction_list(report: Report) -> dict:
    ledger, p = report.ledger, report.params
    by_txn: dict[tuple[str, str], list[Posting]] = {}
    for posting in ledger.postings:
        if p.start <= posting.when <= p.end and posting.entity != "Account":
            by_txn.setdefault((posting.entity, posting.txn_id), []).append(posting)
    wanted_types = {t.strip().lower() for t in p.raw.get("transaction_type", "").split(",") if t.strip()}
    records = []
    for (entity, txn_id), postings in by_txn.items():
        txn = report.company.table(entity).get(txn_id, {})
        customer = str(get_path(txn, "CustomerRef.value") or "")
        if p.customers is not None and customer not in p.customers:
            continue
        label = TXN_LABEL.get(entity, entity)
        if wanted_types and entity.lower() not in wanted_types and label.replace(" ", "").lower() not in wanted_types \
                and not ({"receivepayment", "payment"} & wanted_types and entity == "Payment"):
            continue
        main = postings[-1] if entity in MAIN_ACCOUNT_LAST else postings[0]
        others = {q.account for q in postings if q is not main}
        split = ledger.account_name(next(iter(others))) if len(others) == 1 else "-Split-"
        split_id = next(iter(others)) if len(others) == 1 else ""
        amount = main.amount if ledger.account_type(main.account) in DEBIT_NORMAL else -main.amount
        if entity in ("CreditMemo",):
            amount = -abs(amount)
        records.append((main, txn, customer, [
            _cell(main.when.isoformat()), _cell(TXN_LABEL.get(entity, entity), txn_id), _cell(main.doc_num),
            _cell("Yes"), _cell(main.name, main.name_id), _cell(main.memo),
            _cell(ledger.account_name(main.account), ledger.all_accounts().get(main.account, {}).get("Id", "")),
            _cell(split, ledger.all_accounts().get(split_id, {}).get("Id", "") if split_id else ""),
            _cell(fmt(amount))]))
    records.sort(key=lambda r: (r[0].when, _id_key(r[0].txn_id)))
    group_by = p.raw.get("group_by", "None").lower()
    if group_by in ("customer", "name"):
        sections: dict[str, list] = defaultdict(list)
        for record in records:
            sections[record[0].name_id].append(record)
        rows = []
        for name_id in sorted(sections, key=lambda n: (n == "", sections[n][0][0].name.lower())):
            group = sections[name_id]
            name = group[0][0].name or "Not Specified"
            total = sum((Decimal(r[3][-1]["value"]) for r in group), ZERO)
            rows.append(_section([_cell(name, name_id)] + _blank(len(LIST_COLUMNS) - 1),
                                 [_data(r[3]) for r in group],
                                 [_cell(f"Total for {name}")] + _blank(len(LIST_COLUMNS) - 2) + [_cell(fmt(total))]))
    elif group_by in ("none", ""):
        rows = [_data(r[3]) for r in records]
    else:
        raise _bad_param("group_by", p.raw.get("group_by", ""))
    return {"Header": report.header(no_data=not records, columns_by=None),
            "Columns": {"Column": [_column(title, key, key) for title, key in LIST_COLUMNS]},
            "Rows": {"Row": rows}}


# ====================================================================== more reports
EXPENSE_TYPES = {"Expense", "Other Expense", "Cost of Goods Sold"}


def vendor_expenses(report: Report) -> dict:
    """Expenses per vendor in the period (postings of bills, purchases, vendor credits)."""
    p, ledger = report.params, report.ledger
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    vendors = report.company.table("Vendor")
    for posting in ledger.postings:
        if p.start <= posting.when <= p.end and ledger.account_type(posting.account) in EXPENSE_TYPES \
                and posting.name_id in vendors and report.wanted(posting.name_id, PAYABLES):
            totals[posting.name_id] += posting.amount
    rows, grand = [], ZERO
    for vendor in sorted(totals, key=lambda v: report.customer_name(v, "Vendor").lower()):
        if totals[vendor]:
            grand += totals[vendor]
            rows.append(_data([_cell(report.customer_name(vendor, "Vendor"), vendor), _cell(fmt(totals[vendor]))]))
    rows.append(_section(None, None, [_cell("TOTAL"), _cell(fmt(grand))], "GrandTotal"))
    return {"Header": report.header(no_data=len(rows) == 1),
            "Columns": {"Column": [_column("", "Vendor"), _column("Total", "Money", "total")]},
            "Rows": {"Row": rows}}


PL_DETAIL_COLUMNS = [("Date", "tx_date"), ("Transaction Type", "txn_type"), ("Num", "doc_num"), ("Name", "name"),
                     ("Memo/Description", "memo"), ("Split", "split_acc"), ("Amount", "subt_nat_amount"),
                     ("Balance", "rbal_nat_amount")]


def profit_and_loss_detail(report: Report) -> dict:
    """Each P&L posting of the period under its account, with a running balance per account."""
    p, ledger = report.params, report.ledger
    by_txn: dict[tuple[str, str], list[Posting]] = defaultdict(list)
    for posting in ledger.postings:
        by_txn[(posting.entity, posting.txn_id)].append(posting)
    accounts = ledger.all_accounts()
    width = len(PL_DETAIL_COLUMNS)
    rows, totals = [], {}
    for group, title, types, sign in PL_SECTIONS:
        sections, section_total = [], ZERO
        for account_id in sorted(accounts, key=lambda a: (ledger.account_name(a).lower(), a)):
            if ledger.account_type(account_id) not in types:
                continue
            data, running = [], ZERO
            for posting in ledger.postings:
                if posting.account != account_id or not p.start <= posting.when <= p.end:
                    continue
                if p.customers is not None and posting.customer not in p.customers:
                    continue
                amount = sign * posting.amount
                running += amount
                others = {q.account for q in by_txn[(posting.entity, posting.txn_id)] if q.account != account_id}
                split = ledger.account_name(next(iter(others))) if len(others) == 1 else "-Split-"
                data.append(_data([_cell(posting.when.isoformat()),
                                   _cell(TXN_LABEL.get(posting.entity, posting.entity), posting.txn_id),
                                   _cell(posting.doc_num), _cell(posting.name, posting.name_id), _cell(posting.memo),
                                   _cell(split), _cell(fmt(amount)), _cell(fmt(running))]))
            if data:
                name = ledger.account_name(account_id)
                sections.append(_section([_cell(name, accounts[account_id].get("Id", ""))] + _blank(width - 1), data,
                                         [_cell(f"Total for {name}")] + _blank(width - 3)
                                         + [_cell(fmt(running)), _cell("")]))
                section_total += running
        totals[group] = section_total
        if sections:
            rows.append(_section([_cell(title)] + _blank(width - 1), sections,
                                 [_cell(f"Total {title}")] + _blank(width - 3) + [_cell(fmt(section_total)), _cell("")],
                                 group))
    net = totals["Income"] - totals["COGS"] - totals["Expenses"] + totals["OtherIncome"] - totals["OtherExpenses"]
    rows.append(_section(None, None, [_cell("Net Income")] + _blank(width - 3) + [_cell(fmt(net)), _cell("")],
                         "NetIncome"))
    return {"Header": report.header(no_data=len(rows) == 1, columns_by=None),
            "Columns": {"Column": [_column(t, k, k) for t, k in PL_DETAIL_COLUMNS]}, "Rows": {"Row": rows}}


CASH_FLOW_SECTIONS = [
    ("OperatingActivities", "OPERATING ACTIVITIES", {"Accounts Receivable", "Other Current Asset", "Accounts Payable",
                                                     "Credit Card", "Other Current Liability"}),
    ("InvestingActivities", "INVESTING ACTIVITIES", {"Fixed Asset", "Other Asset"}),
    ("FinancingActivities", "FINANCING ACTIVITIES", {"Long Term Liability", "Equity"}),
]


def cash_flow(report: Report) -> dict:
    """Indirect method: net income, then the period's change in every balance-sheet account but cash."""
    p, ledger = report.params, report.ledger
    movement = ledger.balances(p.start, p.end)
    accounts = ledger.all_accounts()
    net_income = _net_income(ledger, p.start, p.end)
    rows, net_cash = [], ZERO
    for group, title, types in CASH_FLOW_SECTIONS:
        data, total = [], ZERO
        if group == "OperatingActivities":
            data.append(_data([_cell("Net Income"), _cell(fmt(net_income))]))
            total += net_income
        for account_id in sorted(accounts, key=lambda a: (ledger.account_name(a).lower(), a)):
            if ledger.account_type(account_id) in types and movement.get(account_id):
                effect = -movement[account_id]
                total += effect
                data.append(_data([_cell(ledger.account_name(account_id), accounts[account_id].get("Id", "")),
                                   _cell(fmt(effect))]))
        rows.append(_section([_cell(title), _cell("")], data,
                             [_cell(f"Net cash provided by {title.lower()}"), _cell(fmt(total))], group))
        net_cash += total
    before = ledger.balances(None, p.start - timedelta(days=1))
    opening = sum((v for a, v in before.items() if ledger.account_type(a) == "Bank"), ZERO)
    rows.append(_section(None, None, [_cell("NET CASH INCREASE FOR PERIOD"), _cell(fmt(net_cash))], "CashIncrease"))
    rows.append(_section(None, None, [_cell("Cash at beginning of period"), _cell(fmt(opening))], "BeginningCash"))
    rows.append(_section(None, None, [_cell("CASH AT END OF PERIOD"), _cell(fmt(opening + net_cash))], "EndingCash"))
    return {"Header": report.header(no_data=not any(movement.values())),
            "Columns": {"Column": [_column("", "Account", "account"), _column("Total", "Money", "total")]},
            "Rows": {"Row": rows}}


def inventory_valuation_summary(report: Report) -> dict:
    """Inventory items: quantity on hand, value at purchase cost, average cost."""
    rows, total_qty, total_value = [], ZERO, ZERO
    items = report.company.table("Item")
    for item_id in sorted(items, key=lambda i: str(items[i].get("Name", "")).lower()):
        item = items[item_id]
        if item.get("Type") != "Inventory":
            continue
        qty = quantity(item.get("QtyOnHand"))
        value = (qty * money(item.get("PurchaseCost"))).quantize(CENT, ROUND_HALF_UP)
        total_qty += qty
        total_value += value
        rows.append(_data([_cell(str(item.get("FullyQualifiedName") or item.get("Name")), item_id),
                           _cell(f"{qty.normalize():f}"), _cell(fmt(value)),
                           _cell(fmt(value / qty) if qty else "")]))
    rows.append(_section(None, None, [_cell("TOTAL"), _cell(f"{total_qty.normalize():f}"), _cell(fmt(total_value)),
                                      _cell("")], "GrandTotal"))
    return {"Header": report.header(basis=False, no_data=len(rows) == 1, columns_by=None),
            "Columns": {"Column": [_column("", "ProductsAndService"), _column("Qty", "Money", "qty"),
                                   _column("Asset Value", "Money", "asset_value"),
                                   _column("Calc. Avg", "Money", "calc_avg")]},
            "Rows": {"Row": rows}}


# ====================================================================== dispatch
REPORTS: dict[str, tuple[Callable[[Report], dict], str]] = {
    "ProfitAndLoss": (profit_and_loss, "This Fiscal Year-to-date"),
    "BalanceSheet": (balance_sheet, "This Fiscal Year-to-date"),
    "TrialBalance": (trial_balance, "This Fiscal Year-to-date"),
    "AgedReceivables": (aged_receivables, "Today"),
    "AgedReceivableDetail": (aged_receivable_detail, "Today"),
    "CustomerBalance": (customer_balance, "Today"),
    "CustomerBalanceDetail": (customer_balance_detail, "Today"),
    "CustomerSales": (customer_sales, "This Fiscal Year-to-date"),
    "CustomerIncome": (customer_sales, "This Fiscal Year-to-date"),
    "ItemSales": (item_sales, "This Fiscal Year-to-date"),
    "TransactionList": (transaction_list, "This Month-to-date"),
    "ProfitAndLossDetail": (profit_and_loss_detail, "This Month-to-date"),
    "CashFlow": (cash_flow, "This Fiscal Year-to-date"),
    "InventoryValuationSummary": (inventory_valuation_summary, "Today"),
    "AgedPayables": (partial(aged_receivables, side=PAYABLES), "Today"),
    "AgedPayableDetail": (partial(aged_receivable_detail, side=PAYABLES), "Today"),
    "VendorBalance": (partial(customer_balance, side=PAYABLES), "Today"),
    "VendorBalanceDetail": (partial(customer_balance_detail, side=PAYABLES), "Today"),
    "VendorExpenses": (vendor_expenses, "This Fiscal Year-to-date"),
}


def unknown_report(path: str, url: str) -> E.QBOFault:
    """QBO's answer for a resource it does not have (captured: minimul/qbo_api #81)."""
    return E.QBOFault(500, "Unsupported Operation",
                      f"Operation Could not find resource for relative : {path} of full path: {url} is not supported.")


def run_report(company: Company, name: str, params: dict[str, str], now: datetime, *, path: str, url: str) -> dict:
    """The named report (case-sensitive, like QBO's resource names) for the company."""
    entry = REPORTS.get(name)
    if entry is None:
        raise unknown_report(path, url)
    handler, default_macro = entry
    report = Report(company, name, params, now, default_macro)
    if report.params.start > report.params.end:
        raise _bad_param("start_date", report.params.start.isoformat())
    return handler(report)
