"""Stage helpers over whole tables: extract -> validate -> transform, by entity list.

A sync of a company goes through :mod:`qbo_pipeline.stages` (``sync_company``: incremental by
change, one engine run); the helpers here serve it (``reader_for``, ``transform_context``,
``record_quarantine``, ``Window``) and the callers that work on whole tables or one date window
(``qbo-pipeline status``, the export benchmark, the reliability corpus). Each returns what the
next stage needs plus the accounting of every source row (quarantined, skipped, exported),
because the product's promise is that no row disappears without a reason.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from qbo_pipeline.config import PipelineConfig
from qbo_pipeline.entities import NAME_LISTS, REGISTRY, TRANSACTIONS
from qbo_pipeline.ledger import Ledger
from qbo_pipeline.schemas import ValidationResult, validate
from qbo_pipeline.source.extract import SourceReader
from qbo_pipeline.transform import TransformResult, build_payloads

log = logging.getLogger("qbo_pipeline.sync")

# Derived from the entity registry: canonical entity -> the tables that travel together (parent first).
FAMILIES: dict[str, tuple[str, ...]] = {e.name: e.tables for e in REGISTRY}
MASTER_ENTITIES: tuple[str, ...] = tuple(e.name for e in NAME_LISTS)
TRANSACTION_ENTITIES: tuple[str, ...] = tuple(e.name for e in TRANSACTIONS)

@dataclass(frozen=True)
class Window:
    """A range of transaction dates, ``start <= d < end``; open ends reach the ends of time."""

    start: date
    end: date
    open_start: bool = False
    open_end: bool = False

    def as_reader_window(self) -> tuple[date | None, date | None]:
        """Open ends read as None: the first partition also takes undated and earlier rows,
        the last one every later (future-dated) row, so no row falls outside every window."""
        return (None if self.open_start else self.start, None if self.open_end else self.end)

    def __str__(self) -> str:
        left = "…" if self.open_start else self.start.isoformat()
        right = "…" if self.open_end else self.end.isoformat()
        return f"[{left}, {right})"


def reader_for(config: PipelineConfig, company_key: str | None = None) -> SourceReader:
    """The source reader of a company (its own source when it has one, else the pipeline's)."""
    source = config.company(company_key).source or config.source
    return SourceReader(source.url, source.mapping)


def extract_frames(reader: SourceReader, entities: Iterable[str], window: Window | None = None) -> dict[str, pd.DataFrame]:
    """The canonical frames of these entities (and their child tables), for one window or all time."""
    frames: dict[str, pd.DataFrame] = {}
    for entity in entities:
        for table in FAMILIES[entity]:
            frames[table] = reader.read(table, window=window.as_reader_window() if window else None)
    return frames


def known_source_ids(reader: SourceReader, entities: Iterable[str] = ("customers", "products", "invoices", "payments")) -> dict[str, set[str]]:
    """Ids present in the source, for referential checks of rows that point across windows."""
    ids: dict[str, set[str]] = {}
    for entity in entities:
        ids[entity] = {str(i) for chunk in reader.iter_chunks(entity) for i in chunk["id"]}
    return ids


def customer_currencies(reader: SourceReader) -> dict[str, str | None]:
    """Customer id -> currency (empty = home currency), so a transaction in another currency is caught."""
    currencies: dict[str, str | None] = {}
    for chunk in reader.iter_chunks("customers"):
        currencies.update(zip(chunk["id"].astype(str), chunk["currency"].where(chunk["currency"].notna(), None), strict=True))
    return currencies


def validate_frames(
    entities: Iterable[str],
    frames: dict[str, pd.DataFrame],
    known_ids: dict[str, set[str]],
    config: PipelineConfig,
    *,
    currencies: dict[str, str | None] | None = None,
) -> dict[str, ValidationResult]:
    """Validate each entity's family; failing rows are quarantined, the rest continue."""
    results = {}
    for entity in entities:
        family = {table: frames[table] for table in FAMILIES[entity] if table in frames}
        results[entity] = validate(entity, family, known_ids=known_ids, config=config, customer_currencies=currencies)
    return results


def transform_valid(
    entities: Iterable[str], validated: dict[str, ValidationResult], config: PipelineConfig, **context: Any
) -> dict[str, TransformResult]:
    """QBO payloads for every valid row (or the named rule that skips it)."""
    from qbo_pipeline.entities import derive_records
    from qbo_pipeline.transform import TransformContext

    derive_records({name: result.valid for name, result in validated.items()}, config)
    ctx = TransformContext(**context) if context else None
    return {entity: build_payloads(entity, validated[entity].valid, config, context=ctx) for entity in entities}


def __getattr__(name: str) -> Any:
    """The company session moved to :mod:`qbo_pipeline.stages` (typed there); these names stay
    importable from here for callers written before the stage API."""
    if name in ("CompanySession", "NotConnectedError", "open_company", "open_vault"):
        from qbo_pipeline import stages

        return getattr(stages, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def record_quarantine(config: PipelineConfig, company_key: str, run_id: str, quarantine: pd.DataFrame,
                      ledger: Ledger | None = None) -> int:
    """Keep this run's quarantined rows in the ledger, where `qbo-pipeline status` finds them."""
    if quarantine is None or quarantine.empty:
        return 0

    rows = [
        {
            "company": company_key,
            "run_id": run_id,
            "entity": row.get("entity"),
            "source_id": str(row.get("source_id")),
            "kind": "row",
            "reason": row.get("reason"),
            "data": {"column": _text(row.get("column")), "check": _text(row.get("check"))},
        }
        for row in quarantine.to_dict("records")
    ]
    if ledger is not None:
        ledger.add_quarantine(rows)
        return len(rows)
    own = Ledger(config.ledger.url)
    try:
        own.add_quarantine(rows)
    finally:
        own.dispose()
    return len(rows)


def _text(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and value != value) else str(value)


def transform_context(
    config: PipelineConfig,
    company_key: str,
    entities: Iterable[str],
    *,
    validated: dict[str, ValidationResult] | None = None,
    ledger: Ledger | None = None,
    reader: SourceReader | None = None,
) -> dict[str, Any]:
    """Facts the builders need from earlier syncs and from rows outside this window.

    Names already claimed in QBO come from the ledger, so a customer keeps its name across
    runs; invoice balances and the payments' deposit accounts come from the source. An open
    ``ledger`` and ``reader`` are used when given (the stage API's one ledger per run).
    """
    entities = set(entities)
    values: dict[str, Any] = {}
    if entities & {"customers", "products"}:
        own = ledger or Ledger(config.ledger.url)
        try:
            for entity, field_name in (("Customer", "claimed_names"), ("Item", "claimed_item_names")):
                values[field_name] = own.claimed_names(company_key, entity)
        finally:
            if ledger is None:
                own.dispose()
    if entities & {"invoices", "credits", "refunds"}:
        if reader is not None:
            values.update(_source_balances(reader, entities, validated or {}, config.taxes.inclusive))
        else:
            with reader_for(config, company_key) as own_reader:
                values.update(_source_balances(own_reader, entities, validated or {}, config.taxes.inclusive))
    return values


def _source_balances(reader: SourceReader, entities: set[str], validated: dict[str, ValidationResult],
                     inclusive: bool = False) -> dict[str, Any]:
    """States of the invoices this window touches (status, total, open balance), from the whole
    source, and the accounts the refunded payments went to."""
    from qbo_pipeline.transform.balances import invoice_states

    values: dict[str, Any] = {}
    invoice_ids: set[str] = set()
    for entity, table, column in (
        ("invoices", "invoices", "id"),
        ("credits", "credits", "invoice_id"),
        ("payments", "payment_applications", "invoice_id"),
    ):
        result = validated.get(entity)
        if result is not None and table in result.valid:
            invoice_ids |= {str(v) for v in result.valid[table][column].dropna()}
    if invoice_ids:
        ids = sorted(invoice_ids)
        # only the applications and credits of these invoices, queried by invoice id (no table scan)
        applications = reader.read_where("payment_applications", "invoice_id", ids)
        credits = reader.read_where("credits", "invoice_id", ids)
        values["invoices"] = invoice_states(
            reader.read("invoices", ids=ids),
            reader.read("invoice_lines", ids=ids),
            applications if not applications.empty else None,
            credits if not credits.empty else None,
            inclusive=inclusive,
        )
    refunds = validated.get("refunds")
    if "refunds" in entities and refunds is not None and "refunds" in refunds.valid:
        payment_ids = sorted({str(v) for v in refunds.valid["refunds"]["payment_id"].dropna()})
        if payment_ids:
            payments = reader.read("payments", ids=payment_ids)
            values["payment_deposit_accounts"] = {
                pid: account
                for pid, account in zip(payments["id"], payments["deposit_account"], strict=True)
                if isinstance(account, str) and account
            }
    return values




def referenced_names(reader: SourceReader) -> set[tuple[str, str]]:
    """(QBO entity, source id) of the customers and items some source transaction points at,
    with the parents of those customers (a sub-customer needs its parent in QBO)."""
    customers: set[str] = set()
    items: set[str] = set()
    for table, column, found in (
        ("invoices", "customer_id", customers),
        ("payments", "customer_id", customers),
        ("credits", "customer_id", customers),
        ("refunds", "customer_id", customers),
        ("invoice_lines", "product_id", items),
        ("credits", "product_id", items),
        ("refunds", "product_id", items),
    ):
        for chunk in reader.iter_chunks(table):
            found.update(str(v) for v in chunk[column].dropna())
    parents: dict[str, str] = {}
    for chunk in reader.iter_chunks("customers"):
        parents.update((str(c), str(p)) for c, p in zip(chunk["id"], chunk["parent_id"], strict=True) if isinstance(p, str) and p)
    frontier = list(customers)
    while frontier:
        parent = parents.get(frontier.pop())
        if parent and parent not in customers:
            customers.add(parent)
            frontier.append(parent)
    return {("Customer", c) for c in customers} | {("Item", i) for i in items}
