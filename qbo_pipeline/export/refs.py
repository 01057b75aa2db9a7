"""Resolving payload placeholders to QBO references, creating what the configuration needs.

Source refs come from the ledger's links (a parent exported earlier in the run or
before). Named refs come from the company's lists, read once per run and cached; an
Account, Item or PaymentMethod the configuration needs is created when it is missing.
An account name already used by an account of another type gets a deterministic
" 1", " 2"... suffix instead of being misused.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from qbo_pipeline.qbo.client import QboClient
from qbo_pipeline.transform.payload import REF_KEY, is_ref

log = logging.getLogger("qbo_pipeline.export")

# (AccountType, AccountSubType) wanted for a configured account name, by config key
ACCOUNT_TYPES_BY_CONFIG = {
    "income": ("Income", "SalesOfProductIncome"),
    "service_income": ("Income", "ServiceFeeIncome"),
    "discount": ("Income", "DiscountsRefundsGiven"),
    "deposit": ("Other Current Asset", "UndepositedFunds"),
    "refund": ("Bank", "Checking"),
    "inventory_asset": ("Other Current Asset", "Inventory"),
    "cost_of_goods_sold": ("Cost of Goods Sold", "SuppliesMaterialsCogs"),
    "bad_debt": ("Expense", "BadDebts"),
}
# ... and for an account named in a payload field that no configuration key names
ACCOUNT_TYPES_BY_FIELD = {
    "IncomeAccountRef": ("Income", "SalesOfProductIncome"),
    "ExpenseAccountRef": ("Cost of Goods Sold", "SuppliesMaterialsCogs"),
    "AssetAccountRef": ("Other Current Asset", "Inventory"),
    "DepositToAccountRef": ("Other Current Asset", "UndepositedFunds"),
    "DiscountAccountRef": ("Income", "DiscountsRefundsGiven"),
    "AccountRef": ("Expense", "OtherMiscellaneousServiceCost"),
}
# account types QBO accepts in each reference field (any type where a field is not listed)
ALLOWED_TYPES_BY_FIELD = {
    "IncomeAccountRef": {"Income", "Other Income"},
    "ExpenseAccountRef": {"Cost of Goods Sold", "Expense", "Other Expense"},
    "AssetAccountRef": {"Other Current Asset"},
    "DepositToAccountRef": {"Bank", "Other Current Asset"},
}
# lists the source names freely (payees, tracking): created by this name field when missing
CREATED_BY_NAME = {"Vendor": "DisplayName", "Class": "Name", "Department": "Name"}
# US sales tax line codes are not list entries: TAX / NON are sent as they are
LITERAL_TAX_CODES = {"TAX", "NON"}


class UnresolvedRef(Exception):
    """A placeholder that cannot be resolved; ``parent`` is set when a pipeline record is missing."""

    def __init__(self, message: str, parent: tuple[str, str] | None = None) -> None:
        super().__init__(message)
        self.parent = parent


def named_refs_with_fields(body: Any, field: str | None = None) -> list[tuple[str | None, dict[str, Any]]]:
    """Every named placeholder with the payload field that holds it (to know an account's type)."""
    out: list[tuple[str | None, dict[str, Any]]] = []
    if is_ref(body):
        if body[REF_KEY]["kind"] == "named":
            out.append((field, body[REF_KEY]))
    elif isinstance(body, dict):
        for key, value in body.items():
            out.extend(named_refs_with_fields(value, key))
    elif isinstance(body, list):
        for value in body:
            out.extend(named_refs_with_fields(value, field))
    return out


class NamedRefs:
    """Company list entries by name, read once per run; missing configured ones are created."""

    def __init__(self, client: QboClient, config: Any, *, request_id: Callable[[str], str]) -> None:
        self.client = client
        self.config = config
        self._request_id = request_id
        self._cache: dict[tuple[str, str], tuple[str, str]] = {}
        self._loaded: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.RLock()
        self.created: list[tuple[str, str, str]] = []
        accounts = config.accounts if config is not None else None
        self._configured_types: dict[str, tuple[str, str]] = {}
        if accounts is not None:
            for key, wanted in ACCOUNT_TYPES_BY_CONFIG.items():
                name = getattr(accounts, key, None)
                if name:
                    self._configured_types.setdefault(name.lower(), wanted)

    def _list(self, entity: str) -> list[dict[str, Any]]:
        if entity not in self._loaded:
            where = "Active IN (true, false)" if entity in ("Account", "Item", *CREATED_BY_NAME) else None
            self._loaded[entity] = self.client.query_all(entity, where)
        return self._loaded[entity]

    def resolve(self, ref: dict[str, Any], field: str | None = None) -> tuple[str, str]:
        entity, name = ref["entity"], ref["name"]
        key = (entity, name.lower())
        with self._lock:
            if key in self._cache:
                return self._cache[key]
            if entity == "TaxCode" and name.upper() in LITERAL_TAX_CODES:
                found: tuple[str, str] = (name.upper(), "")
            elif entity == "Account":
                typed = ref.get("account_type")  # the row's kind: (AccountType, AccountSubType) when created
                found = self._account(name, field, wanted=tuple(typed) if typed else None)
            else:
                found = self._by_name(entity, name)
            self._cache[key] = found
            return found

    def _by_name(self, entity: str, name: str) -> tuple[str, str]:
        name_field = "DisplayName" if entity == "Vendor" else "Name"
        matches = [r for r in self._list(entity) if str(r.get(name_field, "")).lower() == name.lower()]
        active = [r for r in matches if r.get("Active", True)]
        if active or matches:
            record = (active or matches)[0]
            if not record.get("Active", True):
                record = self.client.update(entity, {"Id": record["Id"], "SyncToken": record["SyncToken"],
                                                     "Active": True}, request_id=self._request_id(f"react-{entity}-{name}"))
            return record["Id"], record.get(name_field, name)
        if entity in CREATED_BY_NAME:  # payees and tracking lists the source names (issue 14)
            record = self.client.create(entity, {CREATED_BY_NAME[entity]: name},
                                        request_id=self._request_id(f"{entity.lower()}-{name}"))
            self._note_created(entity, record)
            return record["Id"], record[CREATED_BY_NAME[entity]]
        if entity == "Item":
            return self._create_item(name)
        if entity == "PaymentMethod":
            record = self.client.create("PaymentMethod", {"Name": name}, request_id=self._request_id(f"pm-{name}"))
            self._note_created(entity, record)
            return record["Id"], record["Name"]
        raise UnresolvedRef(f"{entity} {name!r} does not exist in the QBO company; create it there or fix the configuration")

    def _note_created(self, entity: str, record: dict[str, Any]) -> None:
        self._loaded.setdefault(entity, []).append(record)
        self.created.append((entity, record.get("Name", ""), record["Id"]))
        log.info("created %s %r (Id %s) that the configuration needs", entity, record.get("Name"), record["Id"])

    def _create_item(self, name: str) -> tuple[str, str]:
        accounts = self.config.accounts if self.config is not None else None
        options = getattr(self.config, "options", None)
        loss_items = {str(getattr(options, key, "") or "").lower() for key in ("bad_debt_item", "write_off_item")}
        if accounts is not None and name.lower() in loss_items - {""}:
            # Intuit's write-off recipe: a non-inventory item whose "income" account is the Bad debts
            # expense account, so a credit memo on it books the loss there (not as negative income)
            loss_id, loss_name = self._account(accounts.bad_debt, None, wanted=ACCOUNT_TYPES_BY_CONFIG["bad_debt"])
            body = {"Name": name, "Type": "NonInventory", "IncomeAccountRef": {"value": loss_id, "name": loss_name}}
            record = self.client.create("Item", body, request_id=self._request_id(f"item-{name}"))
            self._note_created("Item", record)
            return record["Id"], record["Name"]
        income = accounts.service_income if accounts is not None else "Services"
        income_id, income_name = self._account(income, "IncomeAccountRef", wanted=("Income", "ServiceFeeIncome"))
        body = {"Name": name, "Type": "Service", "IncomeAccountRef": {"value": income_id, "name": income_name}}
        record = self.client.create("Item", body, request_id=self._request_id(f"item-{name}"))
        self._note_created("Item", record)
        return record["Id"], record["Name"]

    def _account(self, name: str, field: str | None, wanted: tuple[str, str] | None = None) -> tuple[str, str]:
        allowed = ALLOWED_TYPES_BY_FIELD.get(field or "")
        configured = self._configured_types.get(name.lower())
        if configured and allowed and configured[0] not in allowed:
            configured = None  # the field's rule wins over the name's usual use
        wanted = wanted or configured or ACCOUNT_TYPES_BY_FIELD.get(field or "")
        allowed = allowed or ({wanted[0]} if wanted else None)
        accounts = self._list("Account")
        by_name = {str(a.get("Name", "")).lower(): a for a in accounts}
        candidate, suffix = name, 0
        while True:
            existing = by_name.get(candidate.lower())
            if existing is None:
                break
            if allowed is None or existing.get("AccountType") in allowed:
                if not existing.get("Active", True):
                    existing = self.client.update("Account", {"Id": existing["Id"], "SyncToken": existing["SyncToken"],
                                                              "Active": True},
                                                  request_id=self._request_id(f"react-acct-{candidate}"))
                return existing["Id"], existing["Name"]
            suffix += 1  # the name is taken by an account of another type
            candidate = f"{name} {suffix}"
        if wanted is None:
            raise UnresolvedRef(f"Account {name!r} does not exist in QBO and its type cannot be inferred; create it")
        body = {"Name": candidate[:100], "AccountType": wanted[0], "AccountSubType": wanted[1]}
        record = self.client.create("Account", body, request_id=self._request_id(f"acct-{candidate}"))
        self._note_created("Account", record)
        return record["Id"], record["Name"]

