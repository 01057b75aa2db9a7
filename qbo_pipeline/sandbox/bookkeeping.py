"""Rules for the bookkeeping entities beyond invoices and payments: purchases and bills, bill payments,
deposits, journal entries, classes and locations, tax agencies, time, budgets, attachments, exchange rates.

A mixin of ``entities.Rules`` (it relies on its reference, period and DocNumber helpers), so each
entity's create / update / delete / void keeps the one code path every other entity uses. Codes and
messages are QBO's where Intuit documents them (docs/sandbox-entities.md lists the rest).
"""

from __future__ import annotations

import base64
import copy
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from qbo_pipeline.sandbox import arithmetic as A
from qbo_pipeline.sandbox import currency as C
from qbo_pipeline.sandbox import errors as E
from qbo_pipeline.sandbox import tax as T
from qbo_pipeline.sandbox.records import COMPANY_TZ, get_path, meta_time, ref_value

if TYPE_CHECKING:
    from qbo_pipeline.sandbox.entities import Company

BANK_OR_ASSET = {"Bank", "Other Current Asset"}
BALANCE_SHEET_TYPES = {"Bank", "Other Current Asset", "Fixed Asset", "Other Asset", "Credit Card",
                       "Other Current Liability", "Long Term Liability", "Equity"}
EXPENSE_LINE_TYPES = ("AccountBasedExpenseLineDetail", "ItemBasedExpenseLineDetail")
PURCHASE_PAYMENT_TYPES = {"Cash": {"Bank"}, "Check": {"Bank"}, "CreditCard": {"Credit Card"}}
ATTACHABLE_TARGETS = {"Invoice", "Estimate", "SalesReceipt", "CreditMemo", "RefundReceipt", "Payment", "Bill",
                      "BillPayment", "VendorCredit", "Purchase", "PurchaseOrder", "Deposit", "JournalEntry",
                      "Customer", "Vendor", "Employee", "Item", "TimeActivity"}
MAX_UPLOAD_BYTES = 100 * 1024 * 1024  # 6030 past 100 MB


def deposited_fault() -> E.QBOFault:
    return E.QBOFault(6540, "Deposited Transaction cannot be changed",
                      "This transaction has been deposited. If you want to change or delete it, you must edit "
                      "the deposit it appears on and remove it first.", element="Id")


class BookkeepingRules:
    """Completion rules per entity; ``self`` is an ``entities.Rules``."""

    company: Company
    request: dict
    now: Any

    # ------------------------------------------------------------ shared by every transaction
    def _txn_date(self, entity: str, record: dict, old: dict | None) -> None:
        """TxnDate defaults to today (company time); a closed period refuses old and new dates alike."""
        if old:
            self._check_open_period(entity, old)
        record["TxnDate"] = str(record.get("TxnDate") or self.now.astimezone(COMPANY_TZ).date().isoformat())
        try:
            date.fromisoformat(record["TxnDate"])
        except ValueError:
            raise E.QBOFault(2070, "Invalid Date", f"Invalid date {record['TxnDate']}", element="TxnDate") from None
        self._check_open_period(entity, record)

    def _party(self, record: dict) -> dict | None:
        for field, table in (("CustomerRef", "Customer"), ("VendorRef", "Vendor")):
            value = ref_value(record, field)
            if value:
                return self.company.table(table).get(value)
        return None

    def _account(self, record: dict, element: str) -> dict:
        return self.company.table("Account")[ref_value(record, element) or ""]

    def _default_account(self, subtype: str, account_type: str) -> dict | None:
        accounts = self.company.table("Account").values()
        return next((a for a in accounts if a.get("AccountSubType") == subtype and a.get("Active", True)), None) \
            or next((a for a in accounts if a.get("AccountType") == account_type and a.get("Active", True)), None)

    def _refuse_if_deposited(self, entity: str, record: dict) -> None:
        if (entity, record["Id"]) in self.company.deposited:
            raise deposited_fault()

    # ------------------------------------------------------------ purchase forms
    def _expense_lines(self, lines: Any) -> tuple[list[dict], Decimal]:
        """Account- and item-based expense lines (item lines pass QBO's 6070 check); returns them and their sum."""
        if not isinstance(lines, list) or not lines:
            raise E.required("Line")
        result, total = [], A.ZERO
        for position, raw in enumerate(lines):
            if not isinstance(raw, dict) or not raw.get("DetailType"):
                raise E.required("Line.DetailType")
            line = copy.deepcopy(raw)
            kind = line["DetailType"]
            if kind not in EXPENSE_LINE_TYPES:
                raise E.business(f"Unsupported line DetailType {kind}.", element="Line.DetailType")
            if "Amount" not in line:
                raise E.required("Line.Amount")
            detail = line.get(kind) or {}
            if kind == "AccountBasedExpenseLineDetail":
                if not detail.get("AccountRef"):
                    raise E.required("Line.AccountBasedExpenseLineDetail.AccountRef")
                amount = A.money(line["Amount"], "Line.Amount")
                detail["AccountRef"] = self._resolve_ref("Line.AccountBasedExpenseLineDetail.AccountRef",
                                                         detail["AccountRef"], "Account")
                account = self.company.table("Account")[detail["AccountRef"]["value"]]
                if account.get("AccountType") in ("Accounts Receivable", "Accounts Payable"):
                    raise E.business(f"You can't use {account.get('AccountType')} on an expense line.",
                                     element="Line.AccountBasedExpenseLineDetail.AccountRef")
            else:
                if not detail.get("ItemRef"):
                    raise E.required("Line.ItemBasedExpenseLineDetail.ItemRef")
                detail["ItemRef"] = self._resolve_ref("Line.ItemBasedExpenseLineDetail.ItemRef", detail["ItemRef"],
                                                      "Item")
                numbers = A.item_line(line["Amount"], detail.get("Qty"), detail.get("UnitPrice"))
                amount = numbers.amount
                detail["Qty"] = A.number(numbers.qty) if numbers.qty is not None else 1
                detail["UnitPrice"] = A.number(numbers.unit_price) if numbers.unit_price is not None else 0
            self._resolve_refs("Line", detail, f"Line.{kind}.")
            detail.setdefault("BillableStatus", "NotBillable")
            if not T.is_global(self.company):  # a non-US company has no NON code (purchase tax: docs/tax.md)
                detail.setdefault("TaxCodeRef", {"value": "NON"})
            line[kind] = detail
            line["Amount"] = float(amount)
            line["Id"] = str(position + 1)
            line["LineNum"] = position + 1
            result.append(line)
            total += amount
        return result, total

    def _complete_expense_form(self, entity: str, record: dict, old: dict | None) -> None:
        """Bill, VendorCredit, PurchaseOrder (a vendor, A/P) and Purchase (a paying bank or card account)."""
        if entity == "Purchase":
            payment_type = record.get("PaymentType")
            if not payment_type:
                raise E.required("PaymentType")
            if payment_type not in PURCHASE_PAYMENT_TYPES:
                raise E.business(f"PaymentType must be Cash, Check or CreditCard, not {payment_type}.",
                                 element="PaymentType")
            if not record.get("AccountRef"):
                raise E.required("AccountRef")
        elif not record.get("VendorRef"):
            raise E.required("VendorRef")
        self._txn_date(entity, record, old)
        entity_ref = record.get("EntityRef")
        self._resolve_refs(entity, record)
        if entity == "Purchase":
            allowed = PURCHASE_PAYMENT_TYPES[record["PaymentType"]]
            self._account_of_type(record, "AccountRef", allowed,
                                  "a credit card" if "Credit Card" in allowed else "a bank")
            if entity_ref:
                record["EntityRef"] = self._entity_ref(entity_ref, "EntityRef")
            record["Credit"] = record.get("Credit") in (True, "true") and record["PaymentType"] == "CreditCard"
        else:
            if not record.get("APAccountRef"):
                payable = self._default_account("AccountsPayable", "Accounts Payable")
                if payable is None:
                    raise E.required("APAccountRef")
                record["APAccountRef"] = {"value": payable["Id"], "name": payable["Name"]}
            else:
                self._account_of_type(record, "APAccountRef", {"Accounts Payable"}, "an accounts payable")
        party = self._party(record) if entity != "Purchase" else None
        if party is None and entity == "Purchase" and get_path(record, "EntityRef.type") in ("Vendor", "Customer"):
            party = self.company.table(record["EntityRef"]["type"]).get(record["EntityRef"]["value"])
        _, exchange = C.transaction_currency(self.company, record, party)
        record["Line"], total = self._expense_lines(record.get("Line"))
        record["TotalAmt"] = float(total)
        C.set_home_total(self.company, record, total, exchange)
        if entity == "Bill":
            term = self.company.table("Term").get(ref_value(record, "SalesTermRef") or "")
            if not record.get("DueDate"):
                due = date.fromisoformat(record["TxnDate"])
                if term:
                    due = date.fromordinal(due.toordinal() + int(term.get("DueDays") or 0))
                record["DueDate"] = due.isoformat()
        if entity in ("Bill", "VendorCredit"):
            applied = A.money(old.get("TotalAmt", 0), "TotalAmt") - A.money(old.get("Balance", 0), "Balance") \
                if old else A.ZERO
            if total < applied:
                raise E.business(f"The transaction total {total:.2f} is less than the {applied:.2f} already "
                                 "applied to it by bill payments.", element="Line")
            record["Balance"] = float(total - applied)
            record.setdefault("LinkedTxn", [])
        if entity == "PurchaseOrder":
            record.setdefault("POStatus", "Open")
            record.setdefault("EmailStatus", "NotSet")
        if entity == "Purchase":
            record.setdefault("PrintStatus", "NotSet")

    def _entity_ref(self, ref: Any, element: str) -> dict:
        """A polymorphic reference ({"value", "type": Vendor|Customer|Employee})."""
        if not isinstance(ref, dict) or not ref.get("value"):
            raise E.required(f"{element}.value")
        kind = ref.get("type") or "Vendor"
        if kind not in ("Vendor", "Customer", "Employee"):
            raise E.business(f"{element}.type must be Vendor, Customer or Employee.", element=f"{element}.type")
        resolved = self._resolve_ref(element, ref, kind)
        return {**resolved, "type": kind}

    # ------------------------------------------------------------ bill payments
    def _complete_bill_payment(self, record: dict, old: dict | None) -> None:
        if not record.get("VendorRef"):
            raise E.required("VendorRef")
        pay_type = record.get("PayType")
        if pay_type not in ("Check", "CreditCard"):
            raise E.required("PayType") if not pay_type else \
                E.business(f"PayType must be Check or CreditCard, not {pay_type}.", element="PayType")
        if record.get("TotalAmt") is None:
            raise E.required("TotalAmt")
        self._txn_date("BillPayment", record, old)
        self._resolve_refs("BillPayment", record)
        if pay_type == "Check":
            account = get_path(record, "CheckPayment.BankAccountRef")
            if not account:
                raise E.required("CheckPayment.BankAccountRef")
            record["CheckPayment"]["BankAccountRef"] = self._resolve_ref("CheckPayment.BankAccountRef", account,
                                                                         "Account")
            if self._account(record["CheckPayment"], "BankAccountRef").get("AccountType") != "Bank":
                raise E.business("CheckPayment.BankAccountRef must be a bank account.",
                                 element="CheckPayment.BankAccountRef")
            record["CheckPayment"].setdefault("PrintStatus", "NotSet")
            record.pop("CreditCardPayment", None)
        else:
            account = get_path(record, "CreditCardPayment.CCAccountRef")
            if not account:
                raise E.required("CreditCardPayment.CCAccountRef")
            record["CreditCardPayment"]["CCAccountRef"] = self._resolve_ref("CreditCardPayment.CCAccountRef",
                                                                            account, "Account")
            if self._account(record["CreditCardPayment"], "CCAccountRef").get("AccountType") != "Credit Card":
                raise E.business("CreditCardPayment.CCAccountRef must be a credit card account.",
                                 element="CreditCardPayment.CCAccountRef")
            record.pop("CheckPayment", None)
        vendor = self._party(record)
        _, exchange = C.transaction_currency(self.company, record, vendor)
        total = A.money(record["TotalAmt"], "TotalAmt")
        planned = self._plan_links(record, old, "VendorRef", {"Bill": 1, "VendorCredit": -1}, "BillPayment")
        applied = sum((amount * sign for _, _, amount, sign in planned), A.ZERO)
        if applied > total:
            raise E.business("The bill payment amount must be greater than or equal to the bills paid less the "
                             "vendor credits used.", element="TotalAmt")
        if applied < 0:
            raise E.business("The vendor credits used are more than the bills paid.", element="Line")
        if old:
            self._unapply_links(old, "BillPayment")
        self._apply_links(record, planned, "BillPayment")
        record["TotalAmt"] = float(total)
        C.set_home_total(self.company, record, total, exchange)

    def _plan_links(self, record: dict, old: dict | None, party_field: str, kinds: dict[str, int],
                    source: str) -> list[tuple[str, str, Decimal, int]]:
        """Check every line's LinkedTxn against what it may pay; nothing changes until all are valid."""
        party = ref_value(record, party_field)
        previously = self._linked_amounts(old) if old else {}
        planned: list[tuple[str, str, Decimal, int]] = []
        for line in record.get("Line") or []:
            if not isinstance(line, dict):
                raise E.required("Line.Amount")
            amount = A.money(line.get("Amount", 0), "Line.Amount")
            line["Amount"] = float(amount)
            for link in line.get("LinkedTxn") or []:
                txn_type, txn_id = link.get("TxnType"), str(link.get("TxnId", ""))
                if txn_type not in kinds:
                    raise E.business(f"A {source} can be linked to {' or '.join(kinds)}, not {txn_type}.",
                                     element="Line.LinkedTxn.TxnType")
                target = self.company.table(txn_type).get(txn_id)
                if target is None:
                    raise E.invalid_reference("Line.LinkedTxn.TxnId", txn_id, txn_type)
                if ref_value(target, party_field) != party:
                    raise E.business(f"{txn_type} {txn_id} belongs to another {party_field[:-3].lower()}.",
                                     element="Line.LinkedTxn")
                open_amount = A.money(target.get("Balance", 0), "Balance") + previously.get((txn_type, txn_id), 0)
                if amount > open_amount:
                    raise E.business(f"The amount applied ({amount:.2f}) is more than the open balance "
                                     f"({open_amount:.2f}) of {txn_type} {txn_id}.", element="Line.Amount")
                planned.append((txn_type, txn_id, amount, kinds[txn_type]))
        return planned

    @staticmethod
    def _linked_amounts(record: dict | None) -> dict[tuple[str, str], Decimal]:
        amounts: dict[tuple[str, str], Decimal] = {}
        for line in (record or {}).get("Line") or []:
            for link in line.get("LinkedTxn") or []:
                key = (str(link.get("TxnType")), str(link.get("TxnId")))
                amounts[key] = amounts.get(key, A.ZERO) + A.money(line.get("Amount") or 0, "Line.Amount")
        return amounts

    def _touch(self, entity: str, target: dict) -> None:
        target["SyncToken"] = str(int(target["SyncToken"]) + 1)
        target["MetaData"]["LastUpdatedTime"] = meta_time(self.now)
        self.company.dirty.add((entity, target["Id"]))

    def _apply_links(self, record: dict, planned: list[tuple[str, str, Decimal, int]], source: str) -> None:
        for txn_type, txn_id, amount, _ in planned:
            target = self.company.table(txn_type)[txn_id]
            target["Balance"] = float(A.money(target["Balance"], "Balance") - amount)
            links = target.setdefault("LinkedTxn", [])
            if not any(link.get("TxnId") == record["Id"] and link.get("TxnType") == source for link in links):
                links.append({"TxnId": record["Id"], "TxnType": source})
            self._touch(txn_type, target)

    def _unapply_links(self, record: dict, source: str) -> None:
        for (txn_type, txn_id), amount in self._linked_amounts(record).items():
            target = self.company.table(txn_type).get(txn_id)
            if target is None:
                continue
            target["Balance"] = float(A.money(target["Balance"], "Balance") + amount)
            target["LinkedTxn"] = [link for link in target.get("LinkedTxn", [])
                                   if not (link.get("TxnId") == record["Id"] and link.get("TxnType") == source)]
            self._touch(txn_type, target)

    def _refresh_vendor_balance(self, record: dict) -> None:
        """A vendor's Balance: open bills less open vendor credits."""
        vendor_id = ref_value(record, "VendorRef")
        vendor = self.company.table("Vendor").get(vendor_id or "")
        if vendor is None:
            return
        owed = A.ZERO
        for entity, txn_id in self.company.by_vendor.get(vendor_id or "", set()):
            sign = {"Bill": 1, "VendorCredit": -1}.get(entity)
            txn = self.company.table(entity).get(txn_id)
            if sign and txn is not None:
                owed += sign * A.money(txn.get("Balance", 0), "Balance")
        if vendor.get("Balance") != float(owed):
            vendor["Balance"] = float(owed)
            self.company.dirty.add(("Vendor", vendor["Id"]))

    # ------------------------------------------------------------ deposits
    def _complete_deposit(self, record: dict, old: dict | None) -> None:
        """Deposit: lines from Undeposited Funds (LinkedTxn) or straight to an account (DepositLineDetail)."""
        from qbo_pipeline.sandbox.entities import DEPOSITABLE

        if not record.get("DepositToAccountRef"):
            raise E.required("DepositToAccountRef")
        lines = record.get("Line")
        if not isinstance(lines, list) or not lines:
            raise E.required("Line")
        self._txn_date("Deposit", record, old)
        self._resolve_refs("Deposit", record)
        self._account_of_type(record, "DepositToAccountRef", BANK_OR_ASSET, "a bank or other current asset")
        if self._account(record, "DepositToAccountRef").get("AccountSubType") == "UndepositedFunds":
            raise E.business("You can't deposit to Undeposited Funds.", element="DepositToAccountRef")
        own = record["Id"]
        total, seen = A.ZERO, set()
        for position, line in enumerate(lines):
            if not isinstance(line, dict) or "Amount" not in line:
                raise E.required("Line.Amount")
            amount = A.money(line["Amount"], "Line.Amount")
            links = line.get("LinkedTxn") or []
            if links:
                if len(links) != 1:
                    raise E.business("A deposit line can take one transaction.", element="Line.LinkedTxn")
                link = links[0]
                txn_type, txn_id = str(link.get("TxnType")), str(link.get("TxnId", ""))
                if txn_type not in DEPOSITABLE:
                    raise E.business(f"A deposit can take a {', '.join(DEPOSITABLE)} from Undeposited Funds, "
                                     f"not {txn_type}.", element="Line.LinkedTxn.TxnType")
                target = self.company.table(txn_type).get(txn_id)
                if target is None:
                    raise E.invalid_reference("Line.LinkedTxn.TxnId", txn_id, txn_type)
                account = self.company.table("Account").get(ref_value(target, "DepositToAccountRef") or "")
                if not account or account.get("AccountSubType") != "UndepositedFunds":
                    raise E.business(f"{txn_type} {txn_id} is not in Undeposited Funds.", element="Line.LinkedTxn")
                holder = self.company.deposited.get((txn_type, txn_id))
                if (holder and holder != own) or (txn_type, txn_id) in seen:
                    raise E.business(f"{txn_type} {txn_id} has already been deposited.", element="Line.LinkedTxn")
                seen.add((txn_type, txn_id))
                expected = DEPOSITABLE[txn_type] * A.money(target.get("TotalAmt", 0), "TotalAmt")
                if amount != expected:
                    raise E.business(f"The deposit line amount ({amount:.2f}) must be the amount of {txn_type} "
                                     f"{txn_id} ({expected:.2f}).", element="Line.Amount")
                line["LinkedTxn"] = [{"TxnId": txn_id, "TxnType": txn_type, "TxnLineId": "0"}]
                line.pop("DepositLineDetail", None)
                line.pop("DetailType", None)
            else:
                detail = line.get("DepositLineDetail") or {}
                if line.get("DetailType", "DepositLineDetail") != "DepositLineDetail":
                    raise E.business(f"Unsupported line DetailType {line.get('DetailType')}.",
                                     element="Line.DetailType")
                if not detail.get("AccountRef"):
                    raise E.required("Line.DepositLineDetail.AccountRef")
                self._resolve_refs("Deposit", detail, "Line.DepositLineDetail.")
                if detail.get("Entity"):
                    detail["Entity"] = self._entity_ref(detail["Entity"], "Line.DepositLineDetail.Entity")
                line["DetailType"] = "DepositLineDetail"
                line["DepositLineDetail"] = detail
            line["Amount"] = float(amount)
            line["Id"] = str(position + 1)
            line["LineNum"] = position + 1
            total += amount
        cash_back = record.get("CashBack")
        if isinstance(cash_back, dict) and cash_back.get("Amount") not in (None, 0, "0"):
            back = A.money(cash_back["Amount"], "CashBack.Amount")
            if not cash_back.get("AccountRef"):
                raise E.required("CashBack.AccountRef")
            cash_back["AccountRef"] = self._resolve_ref("CashBack.AccountRef", cash_back["AccountRef"], "Account")
            cash_back["Amount"] = float(back)
            total -= back
        _, exchange = C.transaction_currency(self.company, record, None)
        record["TotalAmt"] = float(total)
        C.set_home_total(self.company, record, total, exchange)

    # ------------------------------------------------------------ journal entries
    def _complete_journal_entry(self, record: dict, old: dict | None) -> None:
        lines = record.get("Line")
        if not isinstance(lines, list) or not lines:
            raise E.required("Line")
        self._txn_date("JournalEntry", record, old)
        debits = credits = A.ZERO
        for position, line in enumerate(lines):
            if not isinstance(line, dict):
                raise E.required("Line.DetailType")
            if line.get("DetailType") == "DescriptionOnly":
                line["Amount"] = 0.0
                line["Id"] = str(position + 1)
                continue
            if line.get("DetailType") != "JournalEntryLineDetail":
                raise E.required("Line.DetailType") if not line.get("DetailType") else \
                    E.business(f"Unsupported line DetailType {line['DetailType']}.", element="Line.DetailType")
            detail = line.get("JournalEntryLineDetail") or {}
            posting = detail.get("PostingType")
            if posting not in ("Debit", "Credit"):
                raise E.required("Line.JournalEntryLineDetail.PostingType") if not posting else \
                    E.business("PostingType must be Debit or Credit.", element="Line.JournalEntryLineDetail.PostingType")
            if not detail.get("AccountRef"):
                raise E.required("Line.JournalEntryLineDetail.AccountRef")
            if "Amount" not in line:
                raise E.required("Line.Amount")
            amount = A.money(line["Amount"], "Line.Amount")
            if amount < 0:
                raise E.business("A journal entry line amount can't be negative.", element="Line.Amount")
            self._resolve_refs("JournalEntry", detail, "Line.JournalEntryLineDetail.")
            account = self.company.table("Account")[detail["AccountRef"]["value"]]
            entity = detail.get("Entity")
            if entity:
                inner = entity.get("EntityRef") if isinstance(entity, dict) else None
                kind = entity.get("Type") if isinstance(entity, dict) else None
                resolved = self._entity_ref({**(inner or {}), "type": kind or "Customer"},
                                            "Line.JournalEntryLineDetail.Entity.EntityRef")
                detail["Entity"] = {"Type": resolved["type"],
                                    "EntityRef": {"value": resolved["value"], "name": resolved.get("name")}}
            kind = get_path(detail, "Entity.Type")
            if account.get("AccountType") == "Accounts Receivable" and kind != "Customer":
                raise E.business("When you use Accounts Receivable, you must choose a customer in the Name field.",
                                 element="Line.JournalEntryLineDetail.Entity")
            if account.get("AccountType") == "Accounts Payable" and kind != "Vendor":
                raise E.business("When you use Accounts Payable, you must choose a vendor in the Name field.",
                                 element="Line.JournalEntryLineDetail.Entity")
            line["JournalEntryLineDetail"] = detail
            line["Amount"] = float(amount)
            line["Id"] = str(position + 1)
            if posting == "Debit":
                debits += amount
            else:
                credits += amount
        if debits != credits:
            raise E.business(f"Journal entry is out of balance: debits {debits:.2f} and credits {credits:.2f} "
                             "must be equal.", element="Line")
        self._resolve_refs("JournalEntry", record)
        _, exchange = C.transaction_currency(self.company, record, None)
        record["TotalAmt"] = float(debits)
        C.set_home_total(self.company, record, debits, exchange)
        record["Adjustment"] = record.get("Adjustment") in (True, "true")

    # ------------------------------------------------------------ name lists: class, location, agency, budget
    def _complete_segment(self, entity: str, record: dict, old: dict | None) -> None:
        """Class and Department (location): Name unique, no colon, sub-levels through ParentRef."""
        from qbo_pipeline.sandbox.entities import NAME_KIND

        name = record.get("Name")
        if not name:
            raise E.required("Name")
        if ":" in str(name):
            raise E.business("Name can not contain a colon (:).", element="Name")
        self._unique_name(entity, name, record["Id"], NAME_KIND[entity])
        sub_flag = "SubClass" if entity == "Class" else "SubDepartment"
        if record.get("ParentRef"):
            record["ParentRef"] = self._resolve_ref("ParentRef", record["ParentRef"], entity)
            parent = self.company.table(entity)[record["ParentRef"]["value"]]
            if parent["Id"] == record["Id"]:
                raise E.business(f"A {NAME_KIND[entity]} cannot be its own parent.", element="ParentRef")
            record[sub_flag] = True
            record["FullyQualifiedName"] = f"{parent['FullyQualifiedName']}:{name}"
        else:
            record.pop("ParentRef", None)
            record[sub_flag] = False
            record["FullyQualifiedName"] = name

    def _complete_tax_agency(self, record: dict) -> None:
        if not record.get("DisplayName"):
            raise E.required("DisplayName")
        self._unique_name("TaxAgency", record["DisplayName"], record["Id"], "tax agency")
        record["TaxTrackedOnSales"] = record.get("TaxTrackedOnSales", True) not in (False, "false")
        record["TaxTrackedOnPurchases"] = record.get("TaxTrackedOnPurchases") in (True, "true")

    def _complete_budget(self, record: dict) -> None:
        for key in ("Name", "StartDate", "EndDate"):
            if not record.get(key):
                raise E.required(key)
        self._unique_name("Budget", record["Name"], record["Id"], "budget")
        if str(record["EndDate"]) < str(record["StartDate"]):
            raise E.business("EndDate must be on or after StartDate.", element="EndDate")
        record.setdefault("BudgetType", "ProfitAndLoss")
        record.setdefault("BudgetEntryType", "Monthly")
        details = record.get("BudgetDetail") or []
        for detail in details:
            if not isinstance(detail, dict) or not detail.get("AccountRef"):
                raise E.required("BudgetDetail.AccountRef")
            detail["AccountRef"] = self._resolve_ref("BudgetDetail.AccountRef", detail["AccountRef"], "Account")
            detail["Amount"] = float(A.money(detail.get("Amount", 0), "BudgetDetail.Amount"))
        record["BudgetDetail"] = details

    # ------------------------------------------------------------ time
    def _complete_time_activity(self, record: dict, old: dict | None) -> None:
        name_of = record.get("NameOf")
        if name_of not in ("Employee", "Vendor"):
            raise E.required("NameOf") if not name_of else \
                E.business("NameOf must be Employee or Vendor.", element="NameOf")
        field = "EmployeeRef" if name_of == "Employee" else "VendorRef"
        if not record.get(field):
            raise E.required(field)
        record.pop("VendorRef" if name_of == "Employee" else "EmployeeRef", None)
        self._txn_date("TimeActivity", record, old)
        self._resolve_refs("TimeActivity", record)
        has_span = record.get("StartTime") and record.get("EndTime")
        if record.get("Hours") is None and record.get("Minutes") is None and not has_span:
            raise E.required("Hours")
        for key in ("Hours", "Minutes", "BreakHours", "BreakMinutes"):
            if record.get(key) is not None:
                value = A.dec(record[key], key)
                if value < 0 or value != value.to_integral_value():
                    raise E.business(f"{key} must be a whole number of at least 0.", element=key)
                record[key] = int(value)
        if record.get("HourlyRate") is not None:
            record["HourlyRate"] = A.number(A.dec(record["HourlyRate"], "HourlyRate"))
        record.setdefault("BillableStatus", "NotBillable")
        record["Taxable"] = record.get("Taxable") in (True, "true")

    # ------------------------------------------------------------ attachments
    def _complete_attachable(self, record: dict) -> None:
        refs = record.get("AttachableRef") or []
        if not isinstance(refs, list):
            raise E.required("AttachableRef")
        for ref in refs:
            target = ref.get("EntityRef") if isinstance(ref, dict) else None
            if not isinstance(target, dict) or not target.get("value") or not target.get("type"):
                raise E.required("AttachableRef.EntityRef")
            if target["type"] not in ATTACHABLE_TARGETS:
                raise E.QBOFault(6050, "The entity reference type is unsupported for Attachable",
                                 f"The entity reference type {target['type']} is unsupported for Attachable",
                                 element="AttachableRef.EntityRef.type")
            if str(target["value"]) not in self.company.table(target["type"]):
                raise E.invalid_reference("AttachableRef.EntityRef", target["value"], target["type"])
            ref["IncludeOnSend"] = ref.get("IncludeOnSend") in (True, "true")
        if not refs and not record.get("Note") and not record.get("FileName"):
            raise E.business("An attachment needs a note, a file or an entity to attach to.", element="Note")

    def upload(self, metadata: dict, filename: str, content_type: str, content: bytes) -> dict:
        """Create an Attachable from an uploaded file (POST /upload, multipart)."""
        if len(content) > MAX_UPLOAD_BYTES:
            raise E.QBOFault(6030, "Upload request size exceeds allowed limit",
                             f"The file upload request should not exceed 100MB in size. The current request size "
                             f"is {len(content)}")
        body = {**metadata, "FileName": metadata.get("FileName") or filename,
                "ContentType": metadata.get("ContentType") or content_type or "application/octet-stream"}
        record = self.create("Attachable", body)
        record["Size"] = len(content)
        self.company.table("_AttachableFile")[record["Id"]] = {
            "Id": record["Id"], "ContentType": record["ContentType"], "Data": base64.b64encode(content).decode()}
        self.company.dirty.add(("_AttachableFile", record["Id"]))
        return record

    # ------------------------------------------------------------ exchange rates
    def upsert_exchange_rate(self, body: dict) -> dict:
        """POST /exchangerate: set the company's rate for a currency on a date (multicurrency on)."""
        preferences = self.company.preferences()
        home_code = C.home(preferences)
        if not C.enabled(preferences):
            raise E.business("Multicurrency is not enabled for this company.", element="SourceCurrencyCode")
        source = str(body.get("SourceCurrencyCode") or "").upper()
        if not source:
            raise E.required("SourceCurrencyCode")
        if source not in C.CURRENCY_NAMES or source == home_code:
            raise E.invalid_reference("SourceCurrencyCode", source, "Currency")
        target = str(body.get("TargetCurrencyCode") or home_code).upper()
        if target != home_code:
            raise E.business(f"TargetCurrencyCode must be the home currency ({home_code}).",
                             element="TargetCurrencyCode")
        if body.get("Rate") in (None, ""):
            raise E.required("Rate")
        value = A.dec(body["Rate"], "Rate")
        if value <= 0:
            raise E.business("Rate must be greater than zero.", element="Rate")
        as_of = str(body.get("AsOfDate") or self.now.astimezone(COMPANY_TZ).date().isoformat())
        try:
            date.fromisoformat(as_of)
        except ValueError:
            raise E.QBOFault(2070, "Invalid Date", f"Invalid date {as_of}", element="AsOfDate") from None
        key = f"{source}-{as_of}"
        table = self.company.table("ExchangeRate")
        old = table.get(key)
        if old and body.get("SyncToken") is not None and str(body["SyncToken"]) != old["SyncToken"]:
            raise E.stale_object()
        stamp = meta_time(self.now)
        record = {"Id": key, "SourceCurrencyCode": source, "TargetCurrencyCode": home_code, "Rate": A.number(value),
                  "AsOfDate": as_of, "SyncToken": str(int(old["SyncToken"]) + 1) if old else "0",
                  "domain": "QBO", "sparse": False,
                  "MetaData": {"CreateTime": old["MetaData"]["CreateTime"] if old else stamp,
                               "LastUpdatedTime": stamp}}
        table[key] = record
        self.company.dirty.add(("ExchangeRate", key))
        return record

    def exchange_rate(self, source: str, as_of: str | None) -> dict:
        """GET /exchangerate?sourcecurrencycode=..&asofdate=..: the rate in force on that date."""
        preferences = self.company.preferences()
        source = (source or "").upper()
        if not source:
            raise E.required("sourcecurrencycode")
        on = as_of or self.now.astimezone(COMPANY_TZ).date().isoformat()
        best = None
        for record in self.company.table("ExchangeRate").values():
            if record["SourceCurrencyCode"] == source and record["AsOfDate"] <= on and \
                    (best is None or record["AsOfDate"] > best["AsOfDate"]):
                best = record
        if best is not None:
            return best
        rate = C.FEED_RATES.get(source) if source != C.home(preferences) else Decimal(1)
        if rate is None:
            raise E.invalid_reference("sourcecurrencycode", source, "Currency")
        return {"SourceCurrencyCode": source, "TargetCurrencyCode": C.home(preferences), "Rate": A.number(rate),
                "AsOfDate": on if source == C.home(preferences) else C.FEED_DATE, "SyncToken": "0",
                "domain": "QBO", "sparse": False,
                "MetaData": {"LastUpdatedTime": meta_time(self.now)}}

    # ------------------------------------------------------------ transfers and credit card payments
    def _complete_transfer(self, record: dict, old: dict | None) -> None:
        """Transfer: money moved between two balance-sheet accounts (bank, card, asset, liability, equity)."""
        for key in ("FromAccountRef", "ToAccountRef", "Amount"):
            if record.get(key) in (None, ""):
                raise E.required(key)
        self._txn_date("Transfer", record, old)
        self._resolve_refs("Transfer", record)
        for key in ("FromAccountRef", "ToAccountRef"):
            self._account_of_type(record, key, BALANCE_SHEET_TYPES, "a balance sheet")
        if ref_value(record, "FromAccountRef") == ref_value(record, "ToAccountRef"):
            raise E.business("You can't transfer money to the account it comes from: choose two different "
                             "accounts.", element="ToAccountRef")
        amount = A.money(record["Amount"], "Amount")
        if amount < 0:
            raise E.business("A transfer amount can't be negative.", element="Amount")
        _, exchange = C.transaction_currency(self.company, record, None)
        record["Amount"] = float(amount)
        C.set_home_total(self.company, record, amount, exchange)

    def _complete_credit_card_payment(self, record: dict, old: dict | None) -> None:
        """CreditCardPayment: a bank account pays down a credit card account's balance."""
        for key in ("CreditCardAccountRef", "BankAccountRef", "Amount"):
            if record.get(key) in (None, ""):
                raise E.required(key)
        self._txn_date("CreditCardPayment", record, old)
        self._resolve_refs("CreditCardPayment", record)
        self._account_of_type(record, "CreditCardAccountRef", {"Credit Card"}, "a credit card")
        self._account_of_type(record, "BankAccountRef", {"Bank"}, "a bank")
        amount = A.money(record["Amount"], "Amount")
        if amount <= 0:
            raise E.business("A credit card payment amount must be more than zero.", element="Amount")
        _, exchange = C.transaction_currency(self.company, record, None)
        record["Amount"] = float(amount)
        C.set_home_total(self.company, record, amount, exchange)
        record.setdefault("PrintStatus", "NotSet")
