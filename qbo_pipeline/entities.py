"""The entities the pipeline exports, each declared once.

An entity is a canonical record family (a parent table and its child table, if any) that
becomes one kind of QBO record. Everything that used to be spelled out per entity in a
dozen modules derives from this registry: which tables travel together, how they are
validated and turned into payloads, which QBO entity they become, which entities they
point at (the export order follows from that), the Dagster asset name and the words the
command line accepts. Adding an entity is one entry here plus its schema and builder.

``REGISTRY`` is in export order: every entity comes after the entities it depends on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Any

import pandas as pd

from qbo_pipeline.schemas.validation import ValidationResult, validate
from qbo_pipeline.source.model import BOOKKEEPING_PARENT_KEYS
from qbo_pipeline.transform.context import TransformContext, TransformResult
from qbo_pipeline.transform.credit_memos import build_credit_memos
from qbo_pipeline.transform.customers import build_customers
from qbo_pipeline.transform.deposits import build_deposits
from qbo_pipeline.transform.expenses import build_bills, build_expenses
from qbo_pipeline.transform.invoices import build_invoices
from qbo_pipeline.transform.items import build_items
from qbo_pipeline.transform.journal_entries import build_journal_entries
from qbo_pipeline.transform.product_names import derive_products
from qbo_pipeline.transform.refund_receipts import build_refund_receipts
from qbo_pipeline.transform.sales_receipts import build_sales_receipts
from qbo_pipeline.transform.tips import build_payments_with_tips


class EntityKind(StrEnum):
    """Name lists (customers, items) are small and referenced; transactions are dated and many."""

    NAME_LIST = "name_list"
    TRANSACTION = "transaction"


@dataclass(frozen=True)
class Reference:
    """A column of one of the entity's tables that holds the source id of another entity's record."""

    table: str
    column: str
    entity: str


@dataclass(frozen=True)
class Entity:
    """One exported entity (see the module docstring)."""

    name: str  # canonical entity: "customers", "invoices", ...
    tables: tuple[str, ...]  # canonical tables, parent first: ("invoices", "invoice_lines")
    qbo_entity: str  # "Invoice"
    kind: EntityKind
    depends_on: tuple[str, ...]  # canonical entities it points at (besides itself)
    asset_name: str  # "qbo_invoices"
    cli_aliases: tuple[str, ...]  # words the command line accepts for it
    validate: Callable[..., ValidationResult]  # validate(frames, known_ids=..., config=..., ...)
    build: Callable[..., TransformResult]  # build(*frames of ``tables``, config, context)
    references: tuple[Reference, ...] = ()  # where it points at other records (itself included)
    txn_date: str | None = None  # the transaction-date column of a transaction
    # derive(valid frames by entity, config) -> count: records of this entity made from other entities'
    # valid rows before the transform (products named by a template, one per filled name on invoice lines)
    derive: Callable[..., int] | None = None

    @property
    def table(self) -> str:
        """The parent table (its ``id`` is the record's source id)."""
        return self.tables[0]

    @property
    def child(self) -> tuple[str, str] | None:
        """``(child table, column holding the parent id)``, when the entity has a child table."""
        return (self.tables[1], _PARENT_KEYS[self.tables[1]]) if len(self.tables) > 1 else None

    def build_payloads(self, valid: Mapping[str, pd.DataFrame], config: Any,
                       context: TransformContext | None = None) -> TransformResult:
        """Payloads for the valid frames of this entity (as ``validate`` returned them)."""
        missing = [t for t in self.tables if t not in valid]
        if missing:
            raise ValueError(f"building {self.name} needs the frame(s) {missing} (have {sorted(valid)})")
        return self.build(*(valid[t] for t in self.tables), config, context)


_PARENT_KEYS = {"invoice_lines": "invoice_id", "payment_applications": "payment_id", **BOOKKEEPING_PARENT_KEYS}


def _validator(name: str) -> Callable[..., ValidationResult]:
    return partial(validate, name)


REGISTRY: tuple[Entity, ...] = (
    Entity(
        name="customers", tables=("customers",), qbo_entity="Customer", kind=EntityKind.NAME_LIST, depends_on=(),
        asset_name="qbo_customers", cli_aliases=("customer", "customers"),
        validate=_validator("customers"), build=build_customers,
        references=(Reference("customers", "parent_id", "customers"),),
    ),
    Entity(
        name="products", tables=("products",), qbo_entity="Item", kind=EntityKind.NAME_LIST, depends_on=(),
        asset_name="qbo_items", cli_aliases=("item", "items", "product", "products"),
        validate=_validator("products"), build=build_items, derive=derive_products,
    ),
    Entity(
        name="invoices", tables=("invoices", "invoice_lines"), qbo_entity="Invoice", kind=EntityKind.TRANSACTION,
        depends_on=("customers", "products"), asset_name="qbo_invoices", cli_aliases=("invoice", "invoices"),
        validate=_validator("invoices"), build=build_invoices, txn_date="issue_date",
        references=(Reference("invoices", "customer_id", "customers"),
                    Reference("invoice_lines", "product_id", "products")),
    ),
    Entity(
        name="credits", tables=("credits",), qbo_entity="CreditMemo", kind=EntityKind.TRANSACTION,
        depends_on=("customers", "products", "invoices"), asset_name="qbo_credit_memos",
        cli_aliases=("credit", "credits", "creditmemo", "creditmemos"),
        validate=_validator("credits"), build=build_credit_memos, txn_date="date",
        references=(Reference("credits", "customer_id", "customers"), Reference("credits", "invoice_id", "invoices"),
                    Reference("credits", "product_id", "products")),
    ),
    Entity(
        name="payments", tables=("payments", "payment_applications"), qbo_entity="Payment",
        kind=EntityKind.TRANSACTION, depends_on=("customers", "invoices"), asset_name="qbo_payments",
        cli_aliases=("payment", "payments"), validate=_validator("payments"), build=build_payments_with_tips,
        txn_date="date",
        references=(Reference("payments", "customer_id", "customers"),
                    Reference("payment_applications", "invoice_id", "invoices")),
    ),
    Entity(
        name="refunds", tables=("refunds",), qbo_entity="RefundReceipt", kind=EntityKind.TRANSACTION,
        depends_on=("customers", "products", "payments"), asset_name="qbo_refund_receipts",
        cli_aliases=("refund", "refunds", "refundreceipt", "refundreceipts"),
        validate=_validator("refunds"), build=build_refund_receipts, txn_date="date",
        references=(Reference("refunds", "customer_id", "customers"), Reference("refunds", "payment_id", "payments"),
                    Reference("refunds", "product_id", "products")),
    ),
    # -- bookkeeping beyond billing (issue 14) --
    Entity(
        name="sales_receipts", tables=("sales_receipts", "sales_receipt_lines"), qbo_entity="SalesReceipt",
        kind=EntityKind.TRANSACTION, depends_on=("customers", "products"), asset_name="qbo_sales_receipts",
        cli_aliases=("sales_receipt", "sales_receipts", "salesreceipt", "receipt", "receipts"),
        validate=_validator("sales_receipts"), build=build_sales_receipts, txn_date="date",
        references=(Reference("sales_receipts", "customer_id", "customers"),
                    Reference("sales_receipt_lines", "product_id", "products")),
    ),
    Entity(
        name="deposits", tables=("deposits", "deposit_lines"), qbo_entity="Deposit", kind=EntityKind.TRANSACTION,
        depends_on=("customers", "payments", "sales_receipts"), asset_name="qbo_deposits",
        cli_aliases=("deposit", "deposits"), validate=_validator("deposits"), build=build_deposits, txn_date="date",
        references=(Reference("deposit_lines", "payment_id", "payments"),
                    Reference("deposit_lines", "receipt_id", "sales_receipts"),
                    Reference("deposit_lines", "customer_id", "customers")),
    ),
    Entity(
        name="expenses", tables=("expenses",), qbo_entity="Purchase", kind=EntityKind.TRANSACTION,
        depends_on=("customers",), asset_name="qbo_purchases",
        cli_aliases=("expense", "expenses", "purchase", "purchases"), validate=_validator("expenses"),
        build=build_expenses, txn_date="date", references=(Reference("expenses", "customer_id", "customers"),),
    ),
    Entity(
        name="bills", tables=("bills",), qbo_entity="Bill", kind=EntityKind.TRANSACTION, depends_on=("customers",),
        asset_name="qbo_bills", cli_aliases=("bill", "bills"), validate=_validator("bills"), build=build_bills,
        txn_date="date", references=(Reference("bills", "customer_id", "customers"),),
    ),
    Entity(
        name="journal_entries", tables=("journal_entries", "journal_entry_lines"), qbo_entity="JournalEntry",
        kind=EntityKind.TRANSACTION, depends_on=("customers",), asset_name="qbo_journal_entries",
        cli_aliases=("journal_entry", "journal_entries", "journalentry", "journal", "je"),
        validate=_validator("journal_entries"), build=build_journal_entries, txn_date="date",
        references=(Reference("journal_entry_lines", "customer_id", "customers"),),
    ),
)

NAMES: tuple[str, ...] = tuple(e.name for e in REGISTRY)
def derive_records(valid: Mapping[str, dict[str, pd.DataFrame]], config: Any) -> dict[str, int]:
    """Run every entity's ``derive`` over the valid frames (by entity name, changed in place) before the
    transform: the records made from other rows (a product per filled name template). Returns the
    count derived per entity."""
    return {e.name: e.derive(valid, config) for e in REGISTRY if e.derive is not None and e.name in valid}


NAME_LISTS: tuple[Entity, ...] = tuple(e for e in REGISTRY if e.kind is EntityKind.NAME_LIST)
TRANSACTIONS: tuple[Entity, ...] = tuple(e for e in REGISTRY if e.kind is EntityKind.TRANSACTION)
# QBO entities in export order: accounts (found or created by name) before everything else.
EXPORT_ORDER: tuple[str, ...] = ("Account", *(e.qbo_entity for e in REGISTRY))


def _key(value: str) -> str:
    return value.replace("_", "").replace("-", "").replace(" ", "").casefold()


_LOOKUP: dict[str, Entity] = {}
for _entity in REGISTRY:
    for _word in (_entity.name, _entity.qbo_entity, _entity.asset_name, *_entity.cli_aliases):
        _LOOKUP.setdefault(_key(_word), _entity)


def entity(name_or_alias_or_qbo_entity: str) -> Entity:
    """The entity for ``invoices``, ``invoice``, ``Invoice`` or ``qbo_invoices``; KeyError otherwise."""
    found = _LOOKUP.get(_key(name_or_alias_or_qbo_entity))
    if found is None:
        raise KeyError(f"unknown entity {name_or_alias_or_qbo_entity!r}; known: {', '.join(NAMES)}")
    return found


def for_table(table: str) -> Entity:
    """The entity a canonical table belongs to (``invoice_lines`` -> invoices)."""
    for candidate in REGISTRY:
        if table in candidate.tables:
            return candidate
    raise KeyError(f"no entity has the table {table!r}")


def by_qbo_entity() -> dict[str, Entity]:
    """QBO entity name -> entity."""
    return {e.qbo_entity: e for e in REGISTRY}


__all__ = [
    "EXPORT_ORDER",
    "NAMES",
    "NAME_LISTS",
    "REGISTRY",
    "derive_records",
    "TRANSACTIONS",
    "Entity",
    "EntityKind",
    "Reference",
    "by_qbo_entity",
    "entity",
    "for_table",
]
