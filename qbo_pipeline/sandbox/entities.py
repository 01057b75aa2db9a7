"""QBO entity rules: what create, update, delete, void and deactivate do to each entity.

Pure rules over one company's in-memory records (``Company``); persistence and HTTP live
elsewhere. Every rule follows Intuit's published behaviour (see docs/sandbox.md for the
list and for the places where Intuit's documentation is silent and we chose).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from qbo_pipeline.sandbox import arithmetic as A
from qbo_pipeline.sandbox import currency as C
from qbo_pipeline.sandbox import errors as E
from qbo_pipeline.sandbox import preferences as P
from qbo_pipeline.sandbox import tax as T
from qbo_pipeline.sandbox.bookkeeping import BookkeepingRules, deposited_fault
from qbo_pipeline.sandbox.records import COMPANY_TZ, get_path, meta_time, parse_time, qbo_time, ref_value

__all__ = ["COMPANY_TZ", "Company", "Rules", "get_path", "meta_time", "parse_time", "qbo_time", "ref_value"]

# URL segment (lower case) -> entity name
ENTITY_BY_SEGMENT = {
    name.lower(): name
    for name in (
        "Customer", "Vendor", "Employee", "Item", "Account", "Invoice", "Payment", "CreditMemo",
        "RefundReceipt", "TaxCode", "TaxRate", "PaymentMethod", "Term", "CompanyInfo", "Preferences",
        "SalesReceipt", "Estimate", "Deposit", "Bill", "BillPayment", "Purchase", "PurchaseOrder",
        "VendorCredit", "JournalEntry", "Class", "Department", "TaxAgency", "TimeActivity", "ExchangeRate",
        "Budget", "Attachable", "Transfer", "CreditCardPayment",
    )
}
# entity -> the key QBO's JSON holds it under, where that is not its name (its endpoint is /creditcardpayment)
JSON_NAME = {"CreditCardPayment": "CreditCardPaymentTxn"}
ENTITY_BY_JSON_NAME = {**{name: name for name in ENTITY_BY_SEGMENT.values()},
                       **{json: entity for entity, json in JSON_NAME.items()}}


def json_name(entity: str) -> str:
    return JSON_NAME.get(entity, entity)


PEOPLE = ("Customer", "Vendor", "Employee")
NAME_LISTS = {"Customer", "Vendor", "Employee", "Item", "Account", "PaymentMethod", "Term", "TaxCode", "TaxRate",
              "Class", "Department", "Budget"}
# sales forms: item lines, discounts, sales tax, DocNumber auto-numbered and unique per type
SALES_FORMS = {"Invoice", "CreditMemo", "RefundReceipt", "SalesReceipt", "Estimate"}
# purchase forms: account- and item-based expense lines, a vendor (or payee) and a paying account
EXPENSE_FORMS = {"Bill", "VendorCredit", "Purchase", "PurchaseOrder"}
TRANSACTIONS = SALES_FORMS | EXPENSE_FORMS | {"Payment", "Deposit", "BillPayment", "JournalEntry", "TimeActivity",
                                              "Transfer", "CreditCardPayment"}
# forms whose Balance is owed by (or to) their customer or vendor
AR_FORMS = {"Invoice": 1, "CreditMemo": -1}
AP_FORMS = {"Bill": 1, "VendorCredit": -1}
READ_ONLY = {"TaxCode", "TaxRate"}
NO_UPDATE = {"TaxAgency"}  # create, read and query only
SINGLETONS = {"CompanyInfo", "Preferences"}
DELETABLE = TRANSACTIONS | {"Attachable"}
VOIDABLE = {"Invoice", "Payment", "SalesReceipt", "BillPayment"}
CDC_EXCLUDED = {"TaxCode", "TaxRate", "TaxAgency", "TimeActivity", "ExchangeRate"}
# names unique within a scope: DisplayName across customers, vendors and employees; Name per list
NAME_SCOPE = {"Customer": "people", "Vendor": "people", "Employee": "people", "Item": "Item",
              "Account": "Account", "PaymentMethod": "PaymentMethod", "Term": "Term", "Class": "Class",
              "Department": "Department", "TaxAgency": "TaxAgency", "Budget": "Budget"}
NAME_FIELD = {"Customer": "DisplayName", "Vendor": "DisplayName", "Employee": "DisplayName", "Item": "Name",
              "Account": "Name", "PaymentMethod": "Name", "Term": "Name", "Class": "Name", "Department": "Name",
              "TaxAgency": "DisplayName", "Budget": "Name"}
NAME_KIND = {"Item": "product or service", "Account": "account", "PaymentMethod": "payment method", "Term": "term",
             "Class": "class", "Department": "location", "TaxAgency": "tax agency", "Budget": "budget"}
DOCNUMBER_TYPE_LABEL = {"Invoice": "Invoice", "CreditMemo": "Credit Memo", "RefundReceipt": "Refund",
                        "SalesReceipt": "Sales Receipt", "Estimate": "Estimate"}
# a Deposit may take these from Undeposited Funds (sign of the deposited amount)
ITEM_INCOME_TYPES = {"Income", "Other Income", "Expense", "Other Expense", "Other Current Asset"}
DEPOSITABLE = {"Payment": 1, "SalesReceipt": 1, "RefundReceipt": -1}

# Reference field -> referenced entity (None: same entity as the record)
REF_TARGETS: dict[str, str | None] = {
    "CustomerRef": "Customer",
    "ItemRef": "Item",
    "ParentRef": None,
    "SalesTermRef": "Term",
    "PaymentMethodRef": "PaymentMethod",
    "DepositToAccountRef": "Account",
    "IncomeAccountRef": "Account",
    "ExpenseAccountRef": "Account",
    "AssetAccountRef": "Account",
    "DiscountAccountRef": "Account",
    "ARAccountRef": "Account",
    "TaxCodeRef": "TaxCode",
    "TaxRateRef": "TaxRate",
    "TxnTaxCodeRef": "TaxCode",
    "VendorRef": "Vendor",
    "EmployeeRef": "Employee",
    "ClassRef": "Class",
    "DepartmentRef": "Department",
    "APAccountRef": "Account",
    "AccountRef": "Account",
    "BankAccountRef": "Account",
    "CCAccountRef": "Account",
    "TaxAgencyRef": "TaxAgency",
    "FromAccountRef": "Account",
    "ToAccountRef": "Account",
    "CreditCardAccountRef": "Account",
    "AgencyRef": "TaxAgency",
}

# Maximum string lengths (dotted paths; "Line[]" walks every line) -> 2050 with element.
MAX_LENGTHS: dict[str, dict[str, int]] = {
    "Customer": {
        "DisplayName": 500, "Title": 16, "GivenName": 100, "MiddleName": 100, "FamilyName": 100,
        "Suffix": 16, "CompanyName": 100, "PrintOnCheckName": 110, "Notes": 2000,
        "PrimaryPhone.FreeFormNumber": 30, "Mobile.FreeFormNumber": 30, "Fax.FreeFormNumber": 30,
        "AlternatePhone.FreeFormNumber": 30, "WebAddr.URI": 1000, "PrimaryEmailAddr.Address": 100,
        "BillAddr.Line1": 500, "BillAddr.Line2": 500, "BillAddr.Line3": 500, "BillAddr.Line4": 500,
        "BillAddr.Line5": 500, "BillAddr.City": 255, "BillAddr.PostalCode": 30,
        "ShipAddr.Line1": 500, "ShipAddr.Line2": 500, "ShipAddr.City": 255, "ShipAddr.PostalCode": 30,
    },
    "Item": {"Name": 100, "Sku": 100, "Description": 4000, "PurchaseDesc": 1000},
    "Account": {"Name": 100, "Description": 100, "AcctNum": 20},
    "PaymentMethod": {"Name": 31},
    "Term": {"Name": 31},
    "Invoice": {"DocNumber": 21, "PrivateNote": 4000, "CustomerMemo.value": 1000, "Line[].Description": 4000},
    "CreditMemo": {"DocNumber": 21, "PrivateNote": 4000, "CustomerMemo.value": 1000, "Line[].Description": 4000},
    "RefundReceipt": {
        "DocNumber": 21, "PrivateNote": 4000, "PaymentRefNum": 100, "Line[].Description": 4000,
    },
    "Payment": {"PrivateNote": 4000, "PaymentRefNum": 100},
    "SalesReceipt": {"DocNumber": 21, "PrivateNote": 4000, "PaymentRefNum": 21, "CustomerMemo.value": 1000,
                     "Line[].Description": 4000},
    "Estimate": {"DocNumber": 21, "PrivateNote": 4000, "CustomerMemo.value": 1000, "Line[].Description": 4000},
    "Bill": {"DocNumber": 21, "PrivateNote": 4000, "Line[].Description": 4000},
    "VendorCredit": {"DocNumber": 21, "PrivateNote": 4000, "Line[].Description": 4000},
    "Purchase": {"DocNumber": 21, "PrivateNote": 4000, "Line[].Description": 4000},
    "PurchaseOrder": {"DocNumber": 21, "PrivateNote": 4000, "Memo": 4000, "Line[].Description": 4000},
    "BillPayment": {"DocNumber": 21, "PrivateNote": 4000},
    "Deposit": {"PrivateNote": 4000, "Line[].Description": 4000},
    "JournalEntry": {"DocNumber": 21, "PrivateNote": 4000, "Line[].Description": 4000},
    "Class": {"Name": 100},
    "Department": {"Name": 100},
    "TaxAgency": {"DisplayName": 100},
    "TimeActivity": {"Description": 4000},
    "Attachable": {"Note": 2000, "FileName": 1000},
    "Budget": {"Name": 100},
    "Transfer": {"PrivateNote": 4000},
    "CreditCardPayment": {"PrivateNote": 4000, "Memo": 4000},
}
MAX_LENGTHS["Vendor"] = MAX_LENGTHS["Employee"] = {
    k: v for k, v in MAX_LENGTHS["Customer"].items() if not k.startswith("ShipAddr")
}

ACCOUNT_CLASSIFICATION = {
    "Bank": "Asset", "Other Current Asset": "Asset", "Fixed Asset": "Asset", "Other Asset": "Asset",
    "Accounts Receivable": "Asset", "Equity": "Equity", "Expense": "Expense", "Other Expense": "Expense",
    "Cost of Goods Sold": "Expense", "Accounts Payable": "Liability", "Credit Card": "Liability",
    "Long Term Liability": "Liability", "Other Current Liability": "Liability", "Income": "Revenue",
    "Other Income": "Revenue",
}
ACCOUNT_TYPE_FOR_SUBTYPE = {
    "UndepositedFunds": "Other Current Asset", "Inventory": "Other Current Asset",
    "Checking": "Bank", "Savings": "Bank", "SalesOfProductIncome": "Income", "ServiceFeeIncome": "Income",
    "DiscountsRefundsGiven": "Income", "SuppliesMaterialsCogs": "Cost of Goods Sold",
    "AccountsReceivable": "Accounts Receivable", "AccountsPayable": "Accounts Payable",
    "OtherPrimaryIncome": "Income", "OtherMiscellaneousIncome": "Other Income",
}

US_LINE_TAX_CODES = {"TAX", "NON"}
DEFAULT_ITEM_ID = "1"  # "Services", the item every new QBO company has
CENT = 0.005


def money(value: Any, element: str) -> float:
    """A request amount in cents (decimal, half-up), as the JSON number the record keeps."""
    return float(A.money(value, element))


def deposit_links(deposit: dict) -> list[tuple[str, str]]:
    """The (entity, Id) of every transaction a deposit's lines take from Undeposited Funds."""
    return [(str(link.get("TxnType")), str(link.get("TxnId")))
            for line in deposit.get("Line") or [] if isinstance(line, dict)
            for link in line.get("LinkedTxn") or [] if isinstance(link, dict)]


@dataclass
class Company:
    """One QBO company (realm): its records, deleted tombstones and counters."""

    realm: str
    records: dict[str, dict[str, dict]] = field(default_factory=dict)
    tombstones: dict[str, dict[str, dict]] = field(default_factory=dict)
    next_id: int = 1
    requestids: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    # customer Id -> {(entity, Id)} of the sales transactions and payments naming it
    by_customer: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    # vendor Id -> {(entity, Id)} of the bills, vendor credits and bill payments naming it
    by_vendor: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    # (entity, Id) of a payment or receipt in Undeposited Funds -> Id of the Deposit that took it
    deposited: dict[tuple[str, str], str] = field(default_factory=dict)
    # records changed by the operation in progress: (entity, Id)
    dirty: set[tuple[str, str]] = field(default_factory=set)

    def table(self, entity: str) -> dict[str, dict]:
        return self.records.setdefault(entity, {})

    def new_id(self) -> str:
        value = str(self.next_id)
        self.next_id += 1
        return value

    def preferences(self) -> dict:
        return self.table("Preferences").get("1", {})

    # uniqueness scope -> lower-cased name -> Id; entity -> DocNumber -> Ids (kept so writes stay O(1))
    names: dict[str, dict[str, str]] = field(default_factory=dict)
    doc_numbers: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    max_doc_number: dict[str, int] = field(default_factory=dict)
    children: dict[str, set[str]] = field(default_factory=dict)  # customer Id -> its jobs' Ids

    def index(self, entity: str, record: dict, old: dict | None = None) -> None:
        """Keep the lookup indexes in step with a record that was just stored."""
        customer = get_path(record, "CustomerRef.value")
        if entity in TRANSACTIONS and customer:
            self.by_customer.setdefault(str(customer), set()).add((entity, record["Id"]))
        vendor = get_path(record, "VendorRef.value")
        if entity in TRANSACTIONS and vendor:
            self.by_vendor.setdefault(str(vendor), set()).add((entity, record["Id"]))
        if entity == "Deposit":
            if old:
                self.unindex_deposit(old)
            for link in deposit_links(record):
                self.deposited[link] = record["Id"]
        if entity == "Customer":
            if old and get_path(old, "ParentRef.value"):
                self.children.get(str(get_path(old, "ParentRef.value")), set()).discard(record["Id"])
            if get_path(record, "ParentRef.value"):
                self.children.setdefault(str(get_path(record, "ParentRef.value")), set()).add(record["Id"])
        scope = NAME_SCOPE.get(entity)
        if scope:
            field_name = NAME_FIELD[entity]
            names = self.names.setdefault(scope, {})
            if old and old.get(field_name) is not None:
                key = str(old[field_name]).strip().lower()
                if names.get(key) == record["Id"]:
                    del names[key]
            if record.get(field_name) is not None:
                names[str(record[field_name]).strip().lower()] = record["Id"]
        if entity in SALES_FORMS:
            docs = self.doc_numbers.setdefault(entity, {})
            if old and old.get("DocNumber"):
                docs.get(old["DocNumber"], set()).discard(record["Id"])
            doc = record.get("DocNumber")
            if doc:
                docs.setdefault(doc, set()).add(record["Id"])
                if doc.isdigit():
                    self.max_doc_number[entity] = max(self.max_doc_number.get(entity, 1000), int(doc))

    def unindex(self, entity: str, record: dict) -> None:
        """A deleted transaction no longer holds its DocNumber (nor, for a deposit, what it deposited)."""
        if entity in SALES_FORMS and record.get("DocNumber"):
            self.doc_numbers.get(entity, {}).get(record["DocNumber"], set()).discard(record["Id"])
        if entity == "Deposit":
            self.unindex_deposit(record)

    def unindex_deposit(self, deposit: dict) -> None:
        for link in deposit_links(deposit):
            if self.deposited.get(link) == deposit["Id"]:
                del self.deposited[link]

    def name_owner(self, entity: str, name: str) -> str | None:
        return self.names.get(NAME_SCOPE[entity], {}).get(str(name).strip().lower())


class Rules(BookkeepingRules):
    """Create / update / delete / void for one company at one moment."""

    def __init__(self, company: Company, now: datetime) -> None:
        self.company = company
        self.now = now
        self.request: dict = {}  # the body of the write in progress (tells what the client sent)

    # ---------------------------------------------------------------- public operations
    def read(self, entity: str, entity_id: str) -> dict:
        self._check_entity(entity)
        record = self.company.table(entity).get(str(entity_id))
        if record is None:
            deleted = str(entity_id) in self.company.tombstones.get(entity, {})
            raise E.object_not_found(entity, entity_id, deleted=deleted)
        return record

    def create(self, entity: str, body: dict, include: str = "") -> dict:
        self._check_entity(entity)
        if entity in READ_ONLY or entity in SINGLETONS:
            raise E.unsupported("Create", entity)
        if entity == "ExchangeRate":
            return self.upsert_exchange_rate(body)
        self.request = body
        record = self._strip_readonly(copy.deepcopy(body))
        record["Id"] = self.company.new_id()
        record["SyncToken"] = "0"
        stamp = meta_time(self.now)
        record["MetaData"] = {"CreateTime": stamp, "LastUpdatedTime": stamp}
        record["domain"] = "QBO"
        record["sparse"] = False
        self._complete(entity, record, None, include)
        self._store(entity, record)
        return record

    def update(self, entity: str, body: dict, include: str = "") -> dict:
        self._check_entity(entity)
        if entity in READ_ONLY or entity in NO_UPDATE:
            raise E.unsupported("Update", entity)
        if entity == "ExchangeRate":
            return self.upsert_exchange_rate(body)
        self.request = body
        if not body.get("Id"):
            raise E.required("Id")
        if body.get("SyncToken") is None:
            raise E.required("SyncToken")
        old = self.read(entity, str(body["Id"]))
        if str(body["SyncToken"]) != old["SyncToken"]:
            raise E.stale_object()
        changes = self._strip_readonly(copy.deepcopy(body))
        if entity == "Preferences":
            record = P.merge(old, changes)  # sections merge field by field, sparse or not
        elif body.get("sparse") in (True, "true"):
            record = copy.deepcopy(old)
            record.update(changes)
        else:
            # full update: writable fields left out become empty
            record = {k: v for k, v in copy.deepcopy(old).items() if k in self._kept_on_full_update(entity)}
            record.update(changes)
        record["Id"] = old["Id"]
        record["SyncToken"] = str(int(old["SyncToken"]) + 1)
        record["MetaData"] = {**old["MetaData"], "LastUpdatedTime": meta_time(self.now)}
        record["domain"] = "QBO"
        record["sparse"] = False
        self._complete(entity, record, old, include)
        self._store(entity, record)
        return record

    def delete(self, entity: str, body: dict) -> dict:
        self._check_entity(entity)
        if entity not in DELETABLE:
            raise E.unsupported("Delete", entity)
        old = self._for_change(entity, body)
        self._check_open_period(entity, old)
        self._refuse_if_deposited(entity, old)
        if entity == "Payment":
            self._unapply_payment(old)
        elif entity == "BillPayment":
            self._unapply_links(old, "BillPayment")
        else:
            self._refuse_if_paid(entity, old, "delete")
        del self.company.table(entity)[old["Id"]]
        if entity == "Attachable" and self.company.table("_AttachableFile").pop(old["Id"], None) is not None:
            self.company.tombstones.setdefault("_AttachableFile", {})[old["Id"]] = {"Id": old["Id"]}
            self.company.dirty.add(("_AttachableFile", old["Id"]))
        self.company.unindex(entity, old)
        tomb = {
            "status": "Deleted", "domain": "QBO", "Id": old["Id"],
            "MetaData": {"LastUpdatedTime": meta_time(self.now)},
        }
        self.company.tombstones.setdefault(entity, {})[old["Id"]] = tomb
        self.company.dirty.add((entity, old["Id"]))
        self._refresh_balances(old)
        self._refresh_vendor_balance(old)
        return {"status": "Deleted", "domain": "QBO", "Id": old["Id"]}

    def void(self, entity: str, body: dict) -> dict:
        self._check_entity(entity)
        if entity not in VOIDABLE:
            raise E.unsupported("Void", entity)
        old = self._for_change(entity, body)
        self._check_open_period(entity, old)
        self._refuse_if_deposited(entity, old)
        record = copy.deepcopy(old)
        if entity in ("Payment", "BillPayment"):
            if entity == "Payment":
                self._unapply_payment(old)
            else:
                self._unapply_links(old, "BillPayment")
            for line in record.get("Line", []):
                line["Amount"] = 0.0
                line["LinkedTxn"] = []
            record["Line"] = []
            if entity == "Payment":
                record["UnappliedAmt"] = 0.0
        elif entity == "SalesReceipt":
            for line in record.get("Line", []):
                line["Amount"] = 0.0
            record["Balance"] = 0.0
            record["TxnTaxDetail"] = {"TotalTax": 0.0}
            if "HomeTotalAmt" in record:
                record["HomeTotalAmt"] = 0.0
        else:
            self._refuse_if_paid(entity, old, "void")
            for line in record.get("Line", []):
                line["Amount"] = 0.0
            record["Balance"] = 0.0
        record["TotalAmt"] = 0.0
        note = record.get("PrivateNote") or ""
        record["PrivateNote"] = f"Voided{(' - ' + note) if note else ''}"
        record["SyncToken"] = str(int(old["SyncToken"]) + 1)
        record["MetaData"] = {**old["MetaData"], "LastUpdatedTime": meta_time(self.now)}
        self._store(entity, record)
        return record

    # ---------------------------------------------------------------- helpers
    def _check_entity(self, entity: str) -> None:
        if entity not in ENTITY_BY_SEGMENT.values():
            raise E.QBOFault(
                4001 if entity else 2020, "Unsupported entity", f"Entity {entity} is not supported", element="entity"
            )

    def _for_change(self, entity: str, body: dict) -> dict:
        if not body.get("Id"):
            raise E.required("Id")
        if body.get("SyncToken") is None:
            raise E.required("SyncToken")
        old = self.read(entity, str(body["Id"]))
        if str(body["SyncToken"]) != old["SyncToken"]:
            raise E.stale_object()
        return old

    @staticmethod
    def _strip_readonly(body: dict) -> dict:
        for key in ("MetaData", "domain", "sparse", "status", "time"):
            body.pop(key, None)
        return body

    @staticmethod
    def _kept_on_full_update(entity: str) -> set[str]:
        kept = {"MetaData", "Id", "SyncToken"}
        if entity in SALES_FORMS or entity in ("Bill", "VendorCredit"):
            kept |= {"LinkedTxn", "AppliedAmt"}
        if entity == "Item":
            kept |= {"TrackQtyOnHand", "Type"}
        return kept

    def _store(self, entity: str, record: dict) -> None:
        old = self.company.table(entity).get(record["Id"])
        self.company.table(entity)[record["Id"]] = record
        self.company.index(entity, record, old)
        self.company.dirty.add((entity, record["Id"]))
        if entity in TRANSACTIONS:
            self._refresh_balances(record)
            self._refresh_vendor_balance(record)

    def _check_lengths(self, entity: str, record: dict) -> None:
        for path, limit in MAX_LENGTHS.get(entity, {}).items():
            if path.startswith("Line[]."):
                values = [get_path(line, path[7:]) for line in record.get("Line") or [] if isinstance(line, dict)]
            else:
                values = [get_path(record, path)]
            for value in values:
                if isinstance(value, str) and len(value) > limit:
                    raise E.bad_length(path.replace("Line[].", "Line."), limit, len(value))

    def _resolve_ref(self, element: str, ref: Any, target: str) -> dict:
        """Check a reference: unknown Id -> 2500, inactive -> 610; fills ``name`` like QBO."""
        if isinstance(ref, str | int):
            ref = {"value": str(ref)}
        if not isinstance(ref, dict) or not ref.get("value"):
            raise E.required(f"{element}.value" if isinstance(ref, dict) else element)
        value = str(ref["value"])
        if target == "TaxCode" and value in US_LINE_TAX_CODES and not T.is_global(self.company):
            return {"value": value}
        record = self.company.table(target).get(value)
        if record is None:
            raise E.invalid_reference(element, value, target)
        if record.get("Active") is False:
            raise E.object_not_found(target, value)
        name = record.get("FullyQualifiedName") or record.get("DisplayName") or record.get("Name")
        return {"value": value, "name": name} if name else {"value": value}

    def _resolve_refs(self, entity: str, obj: dict, path: str = "") -> None:
        for key, value in list(obj.items()):
            if key in REF_TARGETS and value is not None:
                target = REF_TARGETS[key] or entity
                obj[key] = self._resolve_ref(f"{path}{key}", value, target)
            elif isinstance(value, dict) and key.endswith("Detail"):
                self._resolve_refs(entity, value, f"{path}{key}.")

    def _check_open_period(self, entity: str, record: dict) -> None:
        close = get_path(self.company.preferences(), "AccountingInfoPrefs.BookCloseDate")
        txn_date = record.get("TxnDate")
        if entity in TRANSACTIONS and close and txn_date and str(txn_date) <= str(close):
            raise E.QBOFault(
                6210,
                "Account Period Closed, Cannot Update Through Services API",
                "The account period has closed and the account books cannot be updated through through the "
                "QBO Services API. Please use the QBO website to make these changes.",
            )

    # ---------------------------------------------------------------- completion per entity
    def _complete(self, entity: str, record: dict, old: dict | None, include: str) -> None:
        self._check_lengths(entity, record)
        if entity in PEOPLE:
            self._complete_person(entity, record, old)
        elif entity == "Item":
            self._complete_item(record, old)
        elif entity == "Account":
            self._complete_account(record)
        elif entity in ("PaymentMethod", "Term"):
            self._complete_simple_list(entity, record)
        elif entity in SALES_FORMS:
            self._complete_sales_form(entity, record, old, include)
        elif entity == "Payment":
            self._complete_payment(record, old)
        elif entity in EXPENSE_FORMS:
            self._complete_expense_form(entity, record, old)
        elif entity == "BillPayment":
            self._complete_bill_payment(record, old)
        elif entity == "Deposit":
            self._complete_deposit(record, old)
        elif entity == "JournalEntry":
            self._complete_journal_entry(record, old)
        elif entity in ("Class", "Department"):
            self._complete_segment(entity, record, old)
        elif entity == "TaxAgency":
            self._complete_tax_agency(record)
        elif entity == "Budget":
            self._complete_budget(record)
        elif entity == "TimeActivity":
            self._complete_time_activity(record, old)
        elif entity == "Attachable":
            self._complete_attachable(record)
        elif entity == "Transfer":
            self._complete_transfer(record, old)
        elif entity == "CreditCardPayment":
            self._complete_credit_card_payment(record, old)
        elif entity == "Preferences":
            P.complete(record, old)
        if old and (entity, old["Id"]) in self.company.deposited and (
                record.get("TotalAmt") != old.get("TotalAmt")
                or ref_value(record, "DepositToAccountRef") != ref_value(old, "DepositToAccountRef")):
            raise deposited_fault()
        if entity in NAME_LISTS and "Active" not in record:
            record["Active"] = True
        if entity in NAME_LISTS:
            record["Active"] = record.get("Active") not in (False, "false")

    def _unique_name(self, entity: str, value: str, own_id: str, kind: str) -> None:
        owner = self.company.name_owner(entity, value)
        if owner is not None and owner != own_id:
            raise E.duplicate_name(kind)

    def _complete_person(self, entity: str, record: dict, old: dict | None) -> None:
        parts = [record.get(k) for k in ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")]
        if not record.get("DisplayName"):
            if not any(parts):
                raise E.QBOFault(6080, "No Name Provided", "No Name Provided : Please provide a name.",
                                 element="DisplayName")
            record["DisplayName"] = " ".join(str(p) for p in parts if p)
        for key in ("DisplayName", "GivenName", "MiddleName", "FamilyName", "Title", "Suffix"):
            value = record.get(key)
            if isinstance(value, str) and any(ch in value for ch in ":\t\n"):
                raise E.business(f"{key} can not contain a colon (:), tab or newline.", element=key)
        email = get_path(record, "PrimaryEmailAddr.Address")
        if email and ("@" not in email or "." not in email):
            raise E.business("Invalid email address format", element="PrimaryEmailAddr")
        # uniqueness of DisplayName is scoped across customers, vendors and employees, inactive included
        self._unique_name(entity, record["DisplayName"], record["Id"], "customer, vendor or employee")
        record["PrintOnCheckName"] = record.get("PrintOnCheckName") or record["DisplayName"]
        if entity == "Customer":
            self._complete_customer(record, old)
        else:
            record["FullyQualifiedName"] = record["DisplayName"]
            if entity == "Vendor":
                record["CurrencyRef"] = C.party_currency(self.company.preferences(), record, old)
                record["Balance"] = old.get("Balance", 0.0) if old else 0.0

    def _complete_customer(self, record: dict, old: dict | None) -> None:
        record["CurrencyRef"] = C.party_currency(self.company.preferences(), record, old)
        parent_ref = record.get("ParentRef")
        if parent_ref:
            if record.get("Job") in (False, "false"):
                raise E.business("A sub-customer must be marked as a job (Job=true).", element="Job")
            record["ParentRef"] = self._resolve_ref("ParentRef", parent_ref, "Customer")
            parent = self.company.table("Customer")[record["ParentRef"]["value"]]
            chain, cursor = [record["Id"]], parent
            while cursor:
                if cursor["Id"] in chain:
                    raise E.business("A customer cannot be its own parent.", element="ParentRef")
                chain.append(cursor["Id"])
                next_parent = get_path(cursor, "ParentRef.value")
                cursor = self.company.table("Customer").get(str(next_parent)) if next_parent else None
            level = parent.get("Level", 0) + 1
            if level > 4:
                raise E.QBOFault(6180, "Invalid Nesting Level", "Sub-customers can be nested at most 4 levels.",
                                 element="ParentRef")
            record["Job"] = True
            record["Level"] = level
            record["FullyQualifiedName"] = f"{parent['FullyQualifiedName']}:{record['DisplayName']}"
        else:
            record["Job"] = False
            record["Level"] = 0
            record.pop("ParentRef", None)
            record["FullyQualifiedName"] = record["DisplayName"]
        record["BillWithParent"] = bool(record.get("BillWithParent", False))
        record.setdefault("Taxable", True)
        balance = old.get("Balance", 0.0) if old else 0.0
        record["Balance"] = balance
        record["BalanceWithJobs"] = old.get("BalanceWithJobs", balance) if old else 0.0
        record.setdefault("PreferredDeliveryMethod", "Print")
        if old and old.get("Active", True) and record.get("Active") in (False, "false") \
                and abs(record["BalanceWithJobs"]) > CENT:
            raise E.QBOFault(6220, "Delete Entity Has Balance Error",
                             "This customer cannot be deleted because it has a non-zero balance")
        if old and old["FullyQualifiedName"] != record["FullyQualifiedName"]:
            self._rename_jobs(old["Id"], record["FullyQualifiedName"])

    def _rename_jobs(self, parent_id: str, parent_name: str) -> None:
        customers = self.company.table("Customer")
        for child in [customers[c] for c in self.company.children.get(parent_id, ()) if c in customers]:
            if get_path(child, "ParentRef.value") == parent_id:
                child["FullyQualifiedName"] = f"{parent_name}:{child['DisplayName']}"
                child["ParentRef"]["name"] = parent_name
                self.company.dirty.add(("Customer", child["Id"]))
                self._rename_jobs(child["Id"], child["FullyQualifiedName"])

    def _account_of_type(self, record: dict, element: str, allowed: set[str], what: str) -> None:
        record[element] = self._resolve_ref(element, record[element], "Account")
        account = self.company.table("Account")[record[element]["value"]]
        if account.get("AccountType") not in allowed:
            raise E.business(f"{element} must be {what} account; {account.get('Name')} is "
                             f"{account.get('AccountType')}.", element=element)

    def _complete_item(self, record: dict, old: dict | None) -> None:
        if not record.get("Name"):
            raise E.required("Name")
        if ":" in str(record["Name"]):
            raise E.business("Name can not contain a colon (:).", element="Name")
        self._unique_name("Item", record["Name"], record["Id"], "product or service")
        item_type = record.get("Type") or (old or {}).get("Type") or "Service"
        if item_type not in ("Service", "NonInventory", "Inventory", "Category"):
            raise E.business(f"Invalid item type {item_type}.", element="Type")
        if old and old.get("Type") == "Inventory" and item_type != "Inventory":
            raise E.business("You can't change the type of an inventory item.", element="Type")
        record["Type"] = item_type
        record["FullyQualifiedName"] = record["Name"]
        if item_type == "Category":
            return
        if not record.get("IncomeAccountRef"):
            raise E.required("IncomeAccountRef")
        # QBO lets a sales item post to a Bad debts expense (or an Allowance for bad debts asset): Intuit's
        # own write-off recipe (help article "write off bad debt", 262030) relies on it
        self._account_of_type(record, "IncomeAccountRef", ITEM_INCOME_TYPES, "an income")
        if item_type == "Inventory":
            for key in ("ExpenseAccountRef", "AssetAccountRef", "InvStartDate", "QtyOnHand"):
                if record.get(key) in (None, ""):
                    raise E.required(key)
            if record.get("TrackQtyOnHand") not in (True, "true"):
                raise E.business("TrackQtyOnHand must be true for an inventory item.", element="TrackQtyOnHand")
            self._account_of_type(record, "ExpenseAccountRef", {"Cost of Goods Sold"}, "a cost of goods sold")
            self._account_of_type(record, "AssetAccountRef", {"Other Current Asset"}, "an other current asset")
            record["QtyOnHand"] = float(record["QtyOnHand"])
            record["TrackQtyOnHand"] = True
        else:
            if old and old.get("TrackQtyOnHand"):
                raise E.business("TrackQtyOnHand can't be turned off once on.", element="TrackQtyOnHand")
            record["TrackQtyOnHand"] = False
            if record.get("ExpenseAccountRef"):
                record["ExpenseAccountRef"] = self._resolve_ref("ExpenseAccountRef", record["ExpenseAccountRef"],
                                                                "Account")
        if "UnitPrice" in record:
            record["UnitPrice"] = money(record["UnitPrice"], "UnitPrice")
        record.setdefault("Taxable", False)

    def _complete_account(self, record: dict) -> None:
        name = record.get("Name")
        if not name:
            raise E.required("Name")
        if '"' in name or ":" in name:
            raise E.business('Account name can not contain a double quote (") or a colon (:).', element="Name")
        if record.get("AcctNum") and ":" in str(record["AcctNum"]):
            raise E.business("AcctNum can not contain a colon (:).", element="AcctNum")
        self._unique_name("Account", name, record["Id"], "account")
        if not record.get("AccountType"):
            subtype = record.get("AccountSubType")
            if not subtype:
                raise E.QBOFault(6010, "Invalid account type", "You must select an account type",
                                 element="AccountType")
            record["AccountType"] = ACCOUNT_TYPE_FOR_SUBTYPE.get(subtype, "Other Current Asset")
        if record["AccountType"] not in ACCOUNT_CLASSIFICATION:
            raise E.QBOFault(6010, "Invalid account type", f"Invalid account type {record['AccountType']}",
                             element="AccountType")
        record["Classification"] = ACCOUNT_CLASSIFICATION[record["AccountType"]]
        record["FullyQualifiedName"] = name
        record.setdefault("SubAccount", False)
        record.setdefault("CurrentBalance", 0.0)
        record.setdefault("CurrentBalanceWithSubAccounts", 0.0)
        record.setdefault("CurrencyRef", {"value": "USD", "name": "United States Dollar"})

    def _complete_simple_list(self, entity: str, record: dict) -> None:
        if not record.get("Name"):
            raise E.required("Name")
        self._unique_name(entity, record["Name"], record["Id"],
                          "payment method" if entity == "PaymentMethod" else "term")
        if entity == "PaymentMethod":
            record.setdefault("Type", "NON_CREDIT_CARD")
        else:
            record.setdefault("Type", "STANDARD")
            record["DueDays"] = int(record.get("DueDays") or 0)

    # ---------------------------------------------------------------- sales forms
    def _complete_sales_form(self, entity: str, record: dict, old: dict | None, include: str) -> None:
        if entity not in ("RefundReceipt", "SalesReceipt") and not record.get("CustomerRef"):
            raise E.required("CustomerRef")
        if entity == "RefundReceipt" and not record.get("DepositToAccountRef"):
            raise E.required("DepositToAccountRef")
        lines = record.get("Line")
        if not isinstance(lines, list) or not lines:
            raise E.required("Line")
        self._txn_date(entity, record, old)
        self._resolve_refs(entity, record)
        if entity == "SalesReceipt" and not record.get("DepositToAccountRef"):
            undeposited = self._default_account("UndepositedFunds", "Other Current Asset")
            if undeposited is None:
                raise E.required("DepositToAccountRef")
            record["DepositToAccountRef"] = {"value": undeposited["Id"], "name": undeposited["Name"]}
        if entity in ("RefundReceipt", "SalesReceipt"):
            self._account_of_type(record, "DepositToAccountRef", {"Bank", "Other Current Asset"},
                                  "a bank or other current asset")
        self._doc_number(entity, record, include)
        customer = self.company.table("Customer").get(get_path(record, "CustomerRef.value") or "")
        _, exchange = C.transaction_currency(self.company, record, customer)
        if T.is_global(self.company):
            T.prepare(self, record)  # non-US tax model: a tax code on every line, tax-inclusive amounts
        record["Line"], sales, discount, taxable = self._lines(entity, record["Line"])
        record.setdefault("ApplyTaxAfterDiscount", False)
        tax = self._sales_tax(record, taxable, discount)
        total = sales - discount + tax
        record["TotalAmt"] = float(total)
        C.set_home_total(self.company, record, total, exchange)
        record.setdefault("PrintStatus", "NotSet")
        record.setdefault("EmailStatus", "NotSet")
        if customer:
            for addr in ("BillAddr", "ShipAddr"):
                if not record.get(addr) and customer.get(addr):
                    record[addr] = copy.deepcopy(customer[addr])
            if not record.get("BillEmail") and customer.get("PrimaryEmailAddr"):
                record["BillEmail"] = copy.deepcopy(customer["PrimaryEmailAddr"])
        if entity == "Invoice":
            term = self.company.table("Term").get(get_path(record, "SalesTermRef.value") or "")
            if not record.get("DueDate"):
                due = date.fromisoformat(record["TxnDate"])
                if term:
                    due = date.fromordinal(due.toordinal() + int(term.get("DueDays") or 0))
                record["DueDate"] = due.isoformat()
            record.setdefault("Deposit", 0.0)
        if entity == "Estimate":
            record.setdefault("TxnStatus", "Pending")
            record.setdefault("LinkedTxn", [])
            record.pop("Balance", None)
            return
        if entity in ("RefundReceipt", "SalesReceipt"):
            record["Balance"] = 0.0
            if record.get("PaymentRefNum") is None:
                record.pop("PaymentRefNum", None)
            return
        applied = A.money(old.get("TotalAmt", 0), "TotalAmt") - A.money(old.get("Balance", 0), "Balance") \
            if old else A.ZERO
        if total < applied:
            raise E.business(f"The transaction total {total:.2f} is less than the {applied:.2f} already applied "
                             "to it by payments.", element="Line")
        record["Balance"] = float(total - applied)
        record.setdefault("LinkedTxn", [])
        if entity == "CreditMemo":
            record["RemainingCredit"] = record["Balance"]
        if entity == "Invoice" and old is None and self._auto_apply_credits():
            self._apply_open_credits(record)

    def _sales_tax(self, record: dict, taxable: list[tuple[A.Decimal, Any]], discount: A.Decimal) -> A.Decimal:
        """TxnTaxDetail as QBO computes it, or as the client overrides it (docs/qbo-arithmetic.md section 4)."""
        if T.is_global(self.company):
            return T.sales_tax(self, record, taxable, discount)
        sent = self.request.get("TxnTaxDetail") if isinstance(self.request.get("TxnTaxDetail"), dict) else None
        detail = record.get("TxnTaxDetail") if isinstance(record.get("TxnTaxDetail"), dict) else {}
        if not get_path(self.company.preferences(), "TaxPrefs.UsingSalesTax"):
            record["TxnTaxDetail"] = {"TotalTax": 0.0}
            return A.ZERO
        code_ref = detail.get("TxnTaxCodeRef")
        if not code_ref and any(is_taxable for _, is_taxable in taxable):
            code_ref = get_path(self.company.preferences(), "TaxPrefs.TaxGroupCodeRef")
        rates: list[A.TaxRateShare] = []
        if code_ref:
            code_ref = self._resolve_ref("TxnTaxDetail.TxnTaxCodeRef", code_ref, "TaxCode")
            rates = self._tax_rates(code_ref["value"])
        bases = A.taxable_bases(taxable, discount, record.get("ApplyTaxAfterDiscount") in (True, "true"))
        computed = A.compute_tax(bases, rates)
        result = computed
        if sent is not None and sent.get("TotalTax") not in (None, "") \
                and sent.get("TotalTaxSpecified") not in (False, "false"):
            given = A.money(sent["TotalTax"], "TxnTaxDetail.TotalTax")
            if given != computed.total:
                result = A.override_tax(given, bases, rates)
        elif sent is not None and any(isinstance(line, dict) and line.get("Amount") not in (None, "")
                                      for line in sent.get("TaxLine") or []):
            lines = [line for line in sent["TaxLine"] if isinstance(line, dict)]
            total = sum((A.money(line.get("Amount") or 0, "TxnTaxDetail.TaxLine.Amount") for line in lines), A.ZERO)
            record["TxnTaxDetail"] = {**({"TxnTaxCodeRef": code_ref} if code_ref else {}),
                                      "TotalTax": float(total), "TaxLine": copy.deepcopy(lines)}
            return total
        out: dict[str, Any] = {"TxnTaxCodeRef": code_ref} if code_ref else {}
        out["TotalTax"] = float(result.total)
        if result.lines:
            out["TaxLine"] = A.tax_lines_json(result)
        record["TxnTaxDetail"] = out
        return result.total

    def _tax_rates(self, code_id: str) -> list[A.TaxRateShare]:
        """The sales rates of a tax code (TAX and NON have none of their own)."""
        code = self.company.table("TaxCode").get(code_id) or {}
        shares = []
        for detail in get_path(code, "SalesTaxRateList.TaxRateDetail") or []:
            rate_id = str(get_path(detail, "TaxRateRef.value") or "")
            rate = self.company.table("TaxRate").get(rate_id)
            if rate is not None:
                shares.append(A.TaxRateShare(rate_id, str(rate.get("Name", "")), A.dec(rate.get("RateValue", 0),
                                                                                         "RateValue")))
        return shares

    def _auto_apply_credits(self) -> bool:
        return bool(get_path(self.company.preferences(), "SalesFormsPrefs.AutoApplyCredit"))

    def _apply_open_credits(self, invoice: dict) -> None:
        """AutoApplyCredit: open credit memos of the customer reduce a new invoice's balance."""
        customer = get_path(invoice, "CustomerRef.value")
        for entity, txn_id in sorted(self.company.by_customer.get(str(customer), set())):
            if invoice["Balance"] <= CENT:
                break
            memo = self.company.table(entity).get(txn_id)
            if entity != "CreditMemo" or not memo or memo["Balance"] <= CENT:
                continue
            amount = min(A.money(memo["Balance"], "Balance"), A.money(invoice["Balance"], "Balance"))
            invoice["Balance"] = float(A.money(invoice["Balance"], "Balance") - amount)
            invoice["LinkedTxn"].append({"TxnId": memo["Id"], "TxnType": "CreditMemo"})
            memo["Balance"] = memo["RemainingCredit"] = float(A.money(memo["Balance"], "Balance") - amount)
            memo.setdefault("LinkedTxn", []).append({"TxnId": invoice["Id"], "TxnType": "Invoice"})
            memo["SyncToken"] = str(int(memo["SyncToken"]) + 1)
            self.company.dirty.add(("CreditMemo", memo["Id"]))

    def _doc_number(self, entity: str, record: dict, include: str) -> None:
        doc = record.get("DocNumber")
        custom = get_path(self.company.preferences(), "SalesFormsPrefs.CustomTxnNumbers")
        if doc in (None, ""):
            record.pop("DocNumber", None)
            if custom:
                return
            record["DocNumber"] = str(self.company.max_doc_number.get(entity, 1000) + 1)
            return
        record["DocNumber"] = doc = str(doc)
        if "allowduplicatedocnum" in include.lower():
            return
        for other_id in sorted(self.company.doc_numbers.get(entity, {}).get(doc, set())):
            if other_id != record["Id"]:
                raise E.QBOFault(
                    6140, "Duplicate Doc Num",
                    "Duplicate Document Number Error : You must specify a different number. This number has "
                    f"already been used. DocNumber={doc} is assigned to TxnType="
                    f"{DOCNUMBER_TYPE_LABEL[entity]} with TxnId={other_id}",
                    element="DocNumber",
                )

    def _lines(self, entity: str, lines: list) -> tuple[list[dict], A.Decimal, A.Decimal, list]:
        """Sales-form lines as QBO stores them; returns them, the item-line sum, the discounts and
        (amount, taxable) per item line. Item lines pass the 6070 check in decimals."""
        result: list[dict] = []
        running = sales = discounts = A.ZERO
        taxable: list[tuple[A.Decimal, Any]] = []  # (amount, TAX?) in the US; (amount, tax code Id) elsewhere
        global_tax = T.is_global(self.company)
        next_line_id = 1
        for position, raw in enumerate(lines):
            if not isinstance(raw, dict):
                raise E.required("Line.DetailType")
            line = copy.deepcopy(raw)
            detail_type = line.get("DetailType")
            if not detail_type:
                raise E.required("Line.DetailType")
            if detail_type == "SubTotalLineDetail":
                continue  # recomputed below, like QBO does
            if detail_type not in ("SalesItemLineDetail", "DiscountLineDetail", "DescriptionOnly",
                                   "DescriptionLineDetail"):
                raise E.business(f"Unsupported line DetailType {detail_type}.", element="Line.DetailType")
            if detail_type == "SalesItemLineDetail":
                detail = line.get("SalesItemLineDetail") or {}
                if "Amount" not in line:
                    raise E.required("Line.Amount")
                if not detail.get("ItemRef"):
                    # QBO gives an item line sent without a product its default item, "Services" (Id 1 in
                    # every new company), rather than refusing it (Intuit, QuickBooks-V3-DotNET-SDK issue 53)
                    default = self.company.table("Item").get(DEFAULT_ITEM_ID)
                    if default is None or default.get("Active") is False:
                        raise E.required("Line.SalesItemLineDetail.ItemRef")
                    detail["ItemRef"] = {"value": DEFAULT_ITEM_ID}
                detail["ItemRef"] = self._resolve_ref("ItemRef", detail["ItemRef"], "Item")
                numbers = A.item_line(line["Amount"], detail.get("Qty"), detail.get("UnitPrice"))
                amount = numbers.amount
                detail["Qty"] = A.number(numbers.qty) if numbers.qty is not None else 1
                detail["UnitPrice"] = A.number(numbers.unit_price) if numbers.unit_price is not None else 0
                if detail.get("TaxCodeRef"):
                    detail["TaxCodeRef"] = self._resolve_ref("TaxCodeRef", detail["TaxCodeRef"], "TaxCode")
                    if detail["TaxCodeRef"]["value"] not in US_LINE_TAX_CODES and not global_tax:
                        raise E.QBOFault(6100, "Invalid Line TaxCode in the request",
                                         "Valid Line TaxCodes for US should be TAX or NON. Supplied value:"
                                         f"{detail['TaxCodeRef']['value']}", element="Line.SalesItemLineDetail.TaxCodeRef")
                elif not global_tax:
                    detail["TaxCodeRef"] = {"value": "NON"}
                for key in ("ClassRef",):
                    if detail.get(key):
                        detail[key] = self._resolve_ref(f"Line.SalesItemLineDetail.{key}", detail[key], "Class")
                if detail.get("ServiceDate"):
                    detail["ServiceDate"] = str(detail["ServiceDate"])
                else:
                    detail.pop("ServiceDate", None)
                line["SalesItemLineDetail"] = detail
                line["Amount"] = float(amount)
                running += amount
                sales += amount
                code = (detail.get("TaxCodeRef") or {}).get("value")
                taxable.append((amount, code if global_tax else code == "TAX"))
            elif detail_type == "DiscountLineDetail":
                detail = line.get("DiscountLineDetail") or {}
                if detail.get("PercentBased") in (True, "true"):
                    if detail.get("DiscountPercent") in (None, ""):
                        raise E.QBOFault(6090, "Discount Line missing required info.",
                                         "Discount amount or percent should be provided.",
                                         element="Line.DiscountLineDetail.DiscountPercent")
                    percent = A.dec(detail["DiscountPercent"], "Line.DiscountLineDetail.DiscountPercent")
                    amount = A.percent_of(running, percent)
                else:
                    if line.get("Amount") in (None, ""):
                        raise E.QBOFault(6090, "Discount Line missing required info.",
                                         "Discount amount or percent should be provided.", element="Line.Amount")
                    amount = A.money(line["Amount"], "Line.Amount")
                if detail.get("DiscountAccountRef"):
                    detail["DiscountAccountRef"] = self._resolve_ref(
                        "DiscountAccountRef", detail["DiscountAccountRef"], "Account")
                line["DiscountLineDetail"] = detail
                line["Amount"] = float(amount)
                discounts += amount
            else:
                line["Amount"] = 0.0
                line["DetailType"] = "DescriptionOnly"
                line.setdefault("DescriptionLineDetail", {})
            line["Id"] = str(next_line_id)
            line["LineNum"] = position + 1
            next_line_id += 1
            result.append(line)
        # QBO's subtotal line follows the item lines: before a closing (transaction-level) discount,
        # else last (Intuit's Estimate example: item, SubTotalLineDetail, DiscountLineDetail)
        closing = len(result)
        while closing and result[closing - 1]["DetailType"] == "DiscountLineDetail":
            closing -= 1
        result.insert(closing, {"Amount": float(running), "DetailType": "SubTotalLineDetail",
                                "SubTotalLineDetail": {}})
        return result, sales, discounts, taxable

    def _refuse_if_paid(self, entity: str, record: dict, action: str) -> None:
        if entity in ("Invoice", "CreditMemo", "Bill", "VendorCredit") \
                and abs(record.get("TotalAmt", 0) - record.get("Balance", 0)) > CENT:
            raise E.business(
                f"This transaction has payments or credits applied. To {action} it, first delete or void the "
                "transactions linked to it.", element="LinkedTxn")

    # ---------------------------------------------------------------- payments
    def _complete_payment(self, record: dict, old: dict | None) -> None:
        if old:
            self._check_open_period("Payment", old)
        if record.get("TotalAmt") is None:
            raise E.required("TotalAmt")
        if not record.get("CustomerRef"):
            raise E.required("CustomerRef")
        record["TotalAmt"] = money(record["TotalAmt"], "TotalAmt")
        record["TxnDate"] = str(record.get("TxnDate") or self.now.astimezone(COMPANY_TZ).date().isoformat())
        self._check_open_period("Payment", record)
        self._resolve_refs("Payment", record)
        customer = self.company.table("Customer").get(ref_value(record, "CustomerRef") or "")
        C.transaction_currency(self.company, record, customer)  # before anything is applied: all or none
        if not record.get("DepositToAccountRef"):
            undeposited = next((a for a in self.company.table("Account").values()
                                if a.get("AccountSubType") == "UndepositedFunds"), None)
            if undeposited is None:
                raise E.required("DepositToAccountRef")
            record["DepositToAccountRef"] = {"value": undeposited["Id"], "name": undeposited["Name"]}
        else:
            self._account_of_type(record, "DepositToAccountRef", {"Bank", "Other Current Asset"},
                                  "a bank or other current asset")
        customer_id = record["CustomerRef"]["value"]
        previously = self._applied_by(old) if old else {}
        lines = record.get("Line") or []
        invoiced = credited = A.ZERO
        planned: list[tuple[str, str, A.Decimal]] = []
        for line in lines:
            amount = A.money(line.get("Amount", 0), "Line.Amount")
            line["Amount"] = float(amount)
            for link in line.get("LinkedTxn") or []:
                txn_type, txn_id = link.get("TxnType"), str(link.get("TxnId", ""))
                if txn_type not in ("Invoice", "CreditMemo"):
                    raise E.business(f"A payment can be linked to an invoice or a credit memo, not {txn_type}.",
                                     element="Line.LinkedTxn.TxnType")
                target = self.company.table(txn_type).get(txn_id)
                if target is None:
                    raise E.invalid_reference("Line.LinkedTxn.TxnId", txn_id, txn_type)
                if get_path(target, "CustomerRef.value") != customer_id:
                    raise E.business(f"{txn_type} {txn_id} belongs to another customer.", element="Line.LinkedTxn")
                open_amount = A.money(target["Balance"], "Balance") + previously.get((txn_type, txn_id), A.ZERO)
                if amount > open_amount:
                    raise E.business(
                        f"The amount applied ({amount:.2f}) is more than the open balance "
                        f"({open_amount:.2f}) of {txn_type} {txn_id}.", element="Line.Amount")
                planned.append((txn_type, txn_id, amount))
                if txn_type == "Invoice":
                    invoiced += amount
                else:
                    credited += amount
        applied = invoiced - credited
        total = A.money(record["TotalAmt"], "TotalAmt")
        if applied > total:
            raise E.business("The payment amount must be greater than or equal to the amounts applied to "
                             "invoices less the credits used.", element="TotalAmt")
        if applied < 0:
            raise E.business("The credits used are more than the invoices paid.", element="Line")
        if old:
            self._unapply_payment(old)
        for txn_type, txn_id, amount in planned:
            target = self.company.table(txn_type)[txn_id]
            target["Balance"] = float(A.money(target["Balance"], "Balance") - amount)
            if txn_type == "CreditMemo":
                target["RemainingCredit"] = target["Balance"]
            links = target.setdefault("LinkedTxn", [])
            if not any(link.get("TxnId") == record["Id"] and link.get("TxnType") == "Payment" for link in links):
                links.append({"TxnId": record["Id"], "TxnType": "Payment"})
            target["SyncToken"] = str(int(target["SyncToken"]) + 1)
            target["MetaData"]["LastUpdatedTime"] = meta_time(self.now)
            self.company.dirty.add((txn_type, txn_id))
        record["Line"] = lines
        record["UnappliedAmt"] = float(total - applied)
        record["ProcessPayment"] = bool(record.get("ProcessPayment", False))

    def _applied_by(self, payment: dict | None) -> dict[tuple[str, str], A.Decimal]:
        return self._linked_amounts(payment)

    def _unapply_payment(self, payment: dict) -> None:
        for (txn_type, txn_id), amount in self._applied_by(payment).items():
            target = self.company.table(txn_type).get(txn_id)
            if target is None:
                continue
            target["Balance"] = float(A.money(target["Balance"], "Balance") + amount)
            if txn_type == "CreditMemo":
                target["RemainingCredit"] = target["Balance"]
            target["LinkedTxn"] = [link for link in target.get("LinkedTxn", [])
                                   if not (link.get("TxnId") == payment["Id"] and link.get("TxnType") == "Payment")]
            target["SyncToken"] = str(int(target["SyncToken"]) + 1)
            target["MetaData"]["LastUpdatedTime"] = meta_time(self.now)
            self.company.dirty.add((txn_type, txn_id))

    def _refresh_balances(self, record: dict) -> None:
        """Recompute the open balance of the customer a transaction names, and of its parents."""
        customer_id = get_path(record, "CustomerRef.value")
        customers = self.company.table("Customer")
        seen: set[str] = set()
        while customer_id and customer_id in customers and customer_id not in seen:
            seen.add(customer_id)
            customer = customers[customer_id]
            own = A.ZERO
            for entity, txn_id in self.company.by_customer.get(customer_id, set()):
                txn = self.company.table(entity).get(txn_id)
                if txn is None:
                    continue
                if entity in AR_FORMS:
                    own += AR_FORMS[entity] * A.money(txn.get("Balance", 0), "Balance")
                elif entity == "Payment":
                    own -= A.money(txn.get("UnappliedAmt", 0), "UnappliedAmt")
            with_jobs = own + sum((A.money(customers[child].get("BalanceWithJobs", 0), "BalanceWithJobs")
                                   for child in self.company.children.get(customer_id, ()) if child in customers),
                                  A.ZERO)
            if customer.get("Balance") != float(own) or customer.get("BalanceWithJobs") != float(with_jobs):
                customer["Balance"] = float(own)
                customer["BalanceWithJobs"] = float(with_jobs)
                self.company.dirty.add(("Customer", customer_id))
            customer_id = get_path(customer, "ParentRef.value")


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))
